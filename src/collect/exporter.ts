/**
 * The exporter contract: what a destination of {@linkcode BatchCollector}
 * implements. The engine owns the queue, timers, retries, accounting and
 * shutdown; an exporter only stores one batch when asked.
 *
 * @module
 */

import type { Trace } from "../trace.ts";

/**
 * A destination for batches of traces, given to a `BatchCollector`.
 *
 * - `export(batch, signal)` stores one batch. Resolve once the whole batch
 *   is stored; reject when it is not, and the engine retries it (the very
 *   same array, so an exporter may recognise a retry) or gives it up and
 *   counts it. Reject with {@linkcode PermanentExportError} for a failure a
 *   retry cannot fix. `signal` aborts when the engine stops waiting (the
 *   export timed out, or `close()` reached its deadline): stop work that
 *   has not started. The engine never runs two exports at once, except
 *   that an abandoned one may still be running when the next starts.
 * - `shutdown()` releases connections and files; called once, by `close()`,
 *   after the last export.
 *
 * @example A destination that posts each batch as NDJSON
 * ```ts
 * import { BatchCollector, type TraceExporter, traceToJson } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const stored: string[] = [];
 * const exporter: TraceExporter = {
 *   export(batch) {
 *     stored.push(batch.map((t) => JSON.stringify(traceToJson(t))).join("\n"));
 *     return Promise.resolve();
 *   },
 * };
 * await using collector = new BatchCollector({ exporter, batchSize: 2 });
 * collector.add({ name: "a" });
 * collector.add({ name: "b" });
 * await collector.flush();
 * assert.equal(stored.length, 1); // one batch of two lines
 * assert.equal(collector.stats().sent, 2);
 * ```
 */
export interface TraceExporter {
  /**
   * Stores one batch, oldest trace first.
   *
   * @param batch One to `maxExportBatchSize` traces; do not modify it.
   * @param signal Aborted when the engine abandons this export.
   * @returns Resolves once the whole batch is stored.
   */
  export(batch: readonly Trace[], signal: AbortSignal): Promise<void>;
  /**
   * Releases what the exporter holds. Called once, by `close()`.
   *
   * @returns Resolves when released; should not reject.
   */
  shutdown?(): Promise<void>;
}

/**
 * A failure that retrying cannot fix (the destination refuses this batch
 * for good): the engine gives the batch up at once, counted in
 * `stats().dropped.flushFailed`, instead of retrying it.
 *
 * @example
 * ```ts
 * import { BatchCollector, PermanentExportError, type TraceExporter } from "@pss/pss";
 * import assert from "node:assert/strict";
 * let calls = 0;
 * const exporter: TraceExporter = {
 *   export: () => (calls++, Promise.reject(new PermanentExportError("HTTP 400: bad batch"))),
 * };
 * const collector = new BatchCollector({ exporter, maxRetries: 5, onError: () => {} });
 * collector.add({ name: "op" });
 * await collector.close();
 * assert.equal(calls, 1); // not retried
 * assert.equal(collector.stats().dropped.flushFailed, 1);
 * ```
 */
export class PermanentExportError extends Error {
  /**
   * Creates the error.
   *
   * @param message What the destination said.
   * @param options `cause`: the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PermanentExportError";
  }
}

/**
 * A failure after which the batch may or may not be stored (the connection
 * broke after the batch was sent): the engine retries it as any failure,
 * but if it gives the batch up, counts it in `stats().unconfirmed`, not as
 * dropped. An exporter whose retries are idempotent turns such doubt into
 * `sent` with its next successful retry.
 *
 * @example
 * ```ts
 * import { ExportInDoubtError } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const error = new ExportInDoubtError("socket closed after the batch was sent");
 * assert.equal(error.name, "ExportInDoubtError");
 * assert.ok(error instanceof Error);
 * ```
 */
export class ExportInDoubtError extends Error {
  /**
   * Creates the error.
   *
   * @param message What happened.
   * @param options `cause`: the underlying error.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ExportInDoubtError";
  }
}

/**
 * A short stable key for the cause of a failure, so warnings are limited
 * per cause. Down the error's `cause` chain (the outermost error is often
 * our own wrapper, "RedisCollector cannot reach Redis at …: NOAUTH …"), the
 * first of: an error's `code` (`ENOSPC`, `NOAUTH`); the leading upper-case
 * word of its message (Redis's `NOAUTH`, `WRONGPASS`, `WRONGTYPE`, `OOM`);
 * its class, when it has its own (`NotCapable`); `TIMEOUT` for a message
 * that says it timed out. Else the outer error's class and the start of its
 * message.
 *
 * @param error What failed.
 * @returns The key.
 */
export function causeOf(error: unknown): string {
  try {
    // What the failure says (a code, Redis's word) anywhere down the chain
    // wins over what a wrapper is (ExportInDoubtError around ECONNRESET).
    for (const rule of [saidCause, kindCause]) {
      let current = error;
      for (let depth = 0; depth < 4 && current != null; depth++) {
        const key = rule(current);
        if (key !== undefined) return key;
        current = (current as { cause?: unknown }).cause;
      }
    }
    const message = error instanceof Error ? error.message : String(error);
    const name = error instanceof Error ? error.name : typeof error;
    return `${name}: ${message.slice(0, 40)}`;
  } catch {
    return "unknown";
  }
}

/** An error's `code`, else the leading upper-case word of its message. */
function saidCause(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code !== "") return code;
  const message = error instanceof Error ? error.message : String(error);
  return /^([A-Z][A-Z_]{2,})\b/.exec(message)?.[1];
}

/** An error's own class (not plain `Error`), else `TIMEOUT` if it says so. */
function kindCause(error: unknown): string | undefined {
  const name = error instanceof Error ? error.name : "";
  if (name !== "" && name !== "Error") return name;
  const message = error instanceof Error ? error.message : String(error);
  return /\btim(?:ed ?out|eout)\b/i.test(message) ? "TIMEOUT" : undefined;
}
