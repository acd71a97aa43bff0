/**
 * The options and counters of the batching engine, and the checks of its
 * options.
 *
 * @module
 */

import type { TraceExporter } from "./exporter.ts";
import { PssConfigError } from "../score/config.ts";
import {
  checkKnownKeys,
  functionOption,
  positiveInteger,
  positiveNumber,
} from "../_options.ts";

/**
 * The engine's options, shared by every shipping collector.
 *
 * @example
 * ```ts
 * import { BatchCollector, type BatchOptions } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const options: BatchOptions = { batchSize: 2, closeTimeoutMs: 2000 };
 * const batches: number[] = [];
 * await using collector = new BatchCollector({
 *   ...options,
 *   exporter: { export: (batch) => (batches.push(batch.length), Promise.resolve()) },
 * });
 * for (const name of ["a", "b", "c"]) collector.add({ name });
 * await collector.flush();
 * assert.deepEqual(batches, [2, 1]);
 * ```
 */
export interface BatchOptions {
  /**
   * How many traces may wait for export. When the queue is full, `add()`
   * drops the new trace and counts it in `stats().dropped.queueFull`.
   * @default {10000}
   */
  maxQueueSize?: number;
  /**
   * How many queued traces start an export without waiting for the timer.
   * @default {100}
   */
  batchSize?: number;
  /**
   * How many traces one export may carry when a backlog has built up; at
   * least `batchSize`.
   * @default {batchSize}
   */
  maxExportBatchSize?: number;
  /**
   * How long a partial batch may wait before it is exported, in milliseconds.
   * @default {1000}
   */
  flushIntervalMs?: number;
  /**
   * How many times a failed export is retried before its traces are given
   * up (counted in `stats().dropped.flushFailed`). Whatever this says, a
   * failing batch is given up once the queue is full (fresher traces win),
   * and retried at most 3 times during shutdown (`close()`, or the process
   * running out of work). A `flush()` waits for retries up to its deadline.
   * @default {Infinity}
   */
  maxRetries?: number;
  /**
   * Backoff before the first retry, in milliseconds; it doubles per retry.
   * @default {100}
   */
  retryBaseMs?: number;
  /**
   * Longest backoff between two retries, in milliseconds.
   * @default {5000}
   */
  retryMaxMs?: number;
  /**
   * How long one export may take, in milliseconds. A slower export is
   * abandoned (its signal aborts) and retried.
   * @default {10000}
   */
  exportTimeoutMs?: number;
  /**
   * The deadline of `close()` and `flush()`, in milliseconds. When it
   * passes, `flush()` resolves (what is left stays queued), and `close()`
   * gives up what it could not deliver: traces never sent count in
   * `dropped.flushFailed`, those of an export still running (which may yet
   * arrive) in `unconfirmed`.
   * @default {5000}
   */
  closeTimeoutMs?: number;
  /**
   * Receives every failure: an export that failed (it will be retried), a
   * batch given up, the queue starting to drop. Must not throw.
   * @default {a console.warn: the first of each cause at once, then at most one a minute per cause}
   */
  onError?: (error: unknown) => void;
  /**
   * Whether to flush when the process runs out of work (a script that ends
   * without `close()`). This does not cover `exit()` calls or signals: see
   * `flushOnSignals`.
   * @default {true}
   */
  flushOnExit?: boolean;
}

/**
 * Options of {@linkcode BatchCollector}: the engine's options and the
 * exporter it ships to.
 *
 * @example
 * ```ts
 * import { BatchCollector, type BatchCollectorOptions } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const options: BatchCollectorOptions = {
 *   exporter: { export: () => Promise.resolve() },
 *   batchSize: 50,
 * };
 * await using collector = new BatchCollector(options);
 * collector.add({ name: "op" });
 * await collector.flush();
 * assert.equal(collector.stats().sent, 1);
 * assert.throws(() => new BatchCollector({ ...options, batchSize: 0 }), /batchSize/);
 * ```
 */
export interface BatchCollectorOptions extends BatchOptions {
  /**
   * Where batches go. Required.
   * @default {none: required}
   */
  exporter: TraceExporter;
}

/**
 * Every option key of {@linkcode BatchOptions}, for collectors that check
 * their own options' names.
 */
export const BATCH_OPTION_KEYS: readonly string[] = [
  "maxQueueSize",
  "batchSize",
  "maxExportBatchSize",
  "flushIntervalMs",
  "maxRetries",
  "retryBaseMs",
  "retryMaxMs",
  "exportTimeoutMs",
  "closeTimeoutMs",
  "onError",
  "flushOnExit",
];

/**
 * The last failure of an export.
 *
 * @example
 * ```ts
 * import { BatchCollector, type ExportFailure } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const full = Object.assign(new Error("No space left on device"), { code: "ENOSPC" });
 * const collector = new BatchCollector({
 *   exporter: { export: () => Promise.reject(full) },
 *   maxRetries: 0,
 *   onError: () => {},
 * });
 * collector.add({ name: "op" });
 * await collector.close();
 * const failure: ExportFailure | undefined = collector.stats().lastFailure;
 * assert.equal(failure?.cause, "ENOSPC");
 * assert.equal(failure?.message, "No space left on device");
 * ```
 */
export interface ExportFailure {
  /** A short key of the cause: an error code (`ENOSPC`), Redis's first word (`NOAUTH`). */
  cause: string;
  /** The failure's message. */
  message: string;
  /** When it happened, in milliseconds since the epoch. */
  at: number;
}

/**
 * Counters of a {@linkcode BatchCollector}. At any moment `added === sent +
 * unconfirmed + dropped.queueFull + dropped.flushFailed + dropped.closed +
 * queued + inFlight`. A trace counted `sent` was stored; one counted
 * `dropped` was not; `unconfirmed` ones were given up after an export of
 * theirs was abandoned, which may or may not have stored them.
 *
 * @example
 * ```ts
 * import { BatchCollector, type BatchCollectorStats } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new BatchCollector({
 *   exporter: { export: () => Promise.reject(new Error("down")) },
 *   maxRetries: 0,
 *   onError: () => {},
 * });
 * collector.add({ name: "op" });
 * await collector.close();
 * const stats: BatchCollectorStats = collector.stats();
 * assert.deepEqual([stats.sent, stats.dropped.flushFailed, stats.lastError], [0, 1, "down"]);
 * ```
 */
export interface BatchCollectorStats {
  /** Traces given to `add()`. */
  added: number;
  /** Traces waiting in the queue. */
  queued: number;
  /** Traces in the export running or waiting to be retried. */
  inFlight: number;
  /** Traces the destination stored. */
  sent: number;
  /**
   * Traces given up after an export of theirs was abandoned (timed out, or
   * cut at the close deadline): it may or may not have stored them.
   */
  unconfirmed: number;
  /** Traces not stored, by reason. */
  dropped: {
    /** Added while the queue was full. */
    queueFull: number;
    /** Given up after the last retry, or at shutdown. */
    flushFailed: number;
    /** Added after `close()`. */
    closed: number;
  };
  /** The message of the last export failure (never "queue is full"). */
  lastError: string | undefined;
  /** The last export failure, with its cause and time. */
  lastFailure: ExportFailure | undefined;
}

/**
 * How one batch ended: stored, never stored, or given up after an export
 * of it was abandoned (it may or may not have been stored).
 */
export type Outcome = "sent" | "failed" | "unconfirmed";

/** The engine's counters, less the queue's and the running export's sizes. */
export class BatchCounters {
  added = 0;
  sent = 0;
  unconfirmed = 0;
  queueFull = 0;
  flushFailed = 0;
  closed = 0;

  /** Counts the `size` traces of a batch that ended as `outcome`. */
  settle(outcome: Outcome, size: number): void {
    if (outcome === "sent") this.sent += size;
    else if (outcome === "unconfirmed") this.unconfirmed += size;
    else this.flushFailed += size;
  }

  /** The counters as `stats()` gives them, in a new object. */
  stats(
    queued: number,
    inFlight: number,
    last: ExportFailure | undefined,
  ): BatchCollectorStats {
    const { added, sent, unconfirmed, queueFull, flushFailed, closed } = this;
    return {
      added,
      queued,
      inFlight,
      sent,
      unconfirmed,
      dropped: { queueFull, flushFailed, closed },
      lastError: last?.message,
      lastFailure: last === undefined ? undefined : { ...last },
    };
  }
}

/** {@linkcode BatchCollectorOptions} checked, with their defaults. */
export interface ResolvedBatchOptions {
  exporter: TraceExporter;
  maxQueueSize: number;
  batchSize: number;
  maxExportBatchSize: number;
  flushIntervalMs: number;
  maxRetries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  exportTimeoutMs: number;
  closeTimeoutMs: number;
  onError: ((error: unknown) => void) | undefined;
  flushOnExit: boolean;
}

/**
 * `options` with `batchSize` (default `batchSize`) and a backlog's export
 * size for destinations that pay per export (a lock, a round trip):
 * `maxExportBatchSize` as given, else `max(batchSize, 1000)`. The file and
 * Redis collectors both ship a backlog this way.
 */
export function withBacklogExports<T extends BatchOptions>(
  options: T,
  batchSize: number = options.batchSize ?? 100,
): T & { batchSize: number; maxExportBatchSize: number } {
  return {
    ...options,
    batchSize,
    maxExportBatchSize: options.maxExportBatchSize ??
      Math.max(batchSize, BACKLOG_EXPORT_SIZE),
  };
}

/** Traces one export of a backlog may carry by default. */
const BACKLOG_EXPORT_SIZE = 1000;

/**
 * Checks the engine's options and fills in their defaults.
 *
 * @param name The collector, for messages.
 * @param options As given.
 * @returns The checked options.
 * @throws {PssConfigError} For an unknown key or a value out of range.
 */
export function resolveBatchOptions(
  name: string,
  options: BatchCollectorOptions,
): ResolvedBatchOptions {
  checkKnownKeys(name, options, [...BATCH_OPTION_KEYS, "exporter"]);
  const exporter = options?.exporter;
  if (typeof exporter?.export !== "function") {
    throw new PssConfigError(
      "exporter",
      exporter,
      `${name}'s 'exporter' must be an object with an export(batch, signal) method`,
    );
  }
  const count = (field: keyof BatchOptions, value: unknown, fallback: number) =>
    positiveInteger(name, field, value ?? fallback);
  const ms = (field: keyof BatchOptions, value: unknown, fallback: number) =>
    positiveNumber(name, field, value ?? fallback);
  const batchSize = count("batchSize", options.batchSize, 100);
  const maxExportBatchSize = count(
    "maxExportBatchSize",
    options.maxExportBatchSize,
    batchSize,
  );
  if (maxExportBatchSize < batchSize) {
    throw new PssConfigError(
      "maxExportBatchSize",
      maxExportBatchSize,
      `${name}'s 'maxExportBatchSize' must be at least 'batchSize' (${batchSize})`,
    );
  }
  const maxRetries = options.maxRetries ?? Infinity;
  return {
    exporter,
    maxQueueSize: count("maxQueueSize", options.maxQueueSize, 10_000),
    batchSize,
    maxExportBatchSize,
    flushIntervalMs: ms("flushIntervalMs", options.flushIntervalMs, 1000),
    maxRetries: maxRetries === Infinity || maxRetries === 0
      ? maxRetries
      : positiveInteger(name, "maxRetries", maxRetries),
    retryBaseMs: ms("retryBaseMs", options.retryBaseMs, 100),
    retryMaxMs: ms("retryMaxMs", options.retryMaxMs, 5000),
    exportTimeoutMs: ms("exportTimeoutMs", options.exportTimeoutMs, 10_000),
    closeTimeoutMs: ms("closeTimeoutMs", options.closeTimeoutMs, 5000),
    onError: options.onError === undefined
      ? undefined
      : functionOption(name, "onError", options.onError),
    flushOnExit: options.flushOnExit ?? true,
  };
}
