/**
 * A collector that appends traces as NDJSON lines to a file (or a named
 * pipe) that many processes may share.
 *
 * @example
 * ```ts
 * import { FileFifoCollector } from "@pss/pss/fifo";
 * import { computePss, readTraces } from "@pss/pss";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/traces.ndjson`;
 * {
 *   await using collector = new FileFifoCollector({ path });
 *   collector.add({ name: "op", duration: 0.01 });
 * }
 * const traces = await Array.fromAsync(readTraces(path));
 * console.log(traces.length, computePss(traces).pss);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { stringifyTrace, type Trace } from "../trace.ts";
import { BatchCollector, type BatchCollectorOptions } from "./batch.ts";
import { type RawEntry, readNdjsonEntries, readTraces } from "./read.ts";
import type { TraceSource } from "./read.ts";
import { PssConfigError } from "../score/config.ts";
import { type FileKind, type FilePort, fileSystem } from "../runtime/fs.ts";

/**
 * Options for {@linkcode FileFifoCollector}.
 *
 * @example
 * ```ts
 * import { FileFifoCollector, type FileFifoCollectorOptions } from "@pss/pss/fifo";
 * const dir = await Deno.makeTempDir();
 * const options: FileFifoCollectorOptions = { path: `${dir}/traces.ndjson`, batchSize: 200, flushIntervalMs: 500 };
 * const collector = new FileFifoCollector(options);
 * collector.add({ name: "job", duration: 0.2 });
 * await collector.close();
 * console.log((await collector.traces()).length); // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileFifoCollectorOptions extends BatchCollectorOptions {
  /**
   * The NDJSON file (created with its directories when missing) or named
   * pipe to append to. Required.
   * @default {none: required}
   */
  path: string | URL;
  /**
   * How many traces one locked write may carry when a backlog has built up.
   * @default {the larger of `batchSize` and 1000}
   */
  maxExportBatchSize?: number;
}

const encoder = new TextEncoder();
/** Traces one locked write may carry by default when a backlog has built up. */
const DEFAULT_MAX_EXPORT = 1000;
const NEWLINE = Uint8Array.of(10);

/** A batch whose write failed part-way, so its retry can finish it. */
interface PartialWrite {
  batch: Trace[];
  bytes: Uint8Array;
  /** Bytes of `bytes` already in the file. */
  written: number;
}

/**
 * Appends every trace as one NDJSON line in pypss's schema
 * (`JSON.stringify(traceToJson(trace))`) to a file that any number of
 * processes (Deno, Bun, pypss readers) may share.
 *
 * Each batch is written with one `write` loop under an exclusive `flock`,
 * so lines from different processes never tear or interleave; readers take
 * a shared lock. On Bun the lock goes through libc's `flock` via `bun:ffi`
 * (see `src/runtime/bun.ts`); both runtimes' locks are the same
 * `flock(2)` locks on Linux and macOS. A named pipe gets the same lines;
 * `traces()` and `clear()` then do nothing (reading would take lines from
 * the pipe's reader). Batching, retries, drop counters and exit flushing
 * come from {@linkcode BatchCollector}.
 *
 * `FileFifoCollector` is also a {@linkcode TraceSource}: `readTraces(collector)`
 * streams its file with bounded memory.
 *
 * @example Several processes, one file
 * ```ts
 * import { FileFifoCollector } from "@pss/pss/fifo";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/shared.ndjson`;
 * const collector = new FileFifoCollector({ path, batchSize: 500 });
 * collector.add({ name: "job", duration: 0.2 });
 * await collector.close();
 * console.log((await collector.traces()).length); // 1
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileFifoCollector extends BatchCollector implements TraceSource {
  readonly #path: string | URL;
  readonly #kind: FileKind;
  #file: Promise<FilePort> | undefined;
  #partial: PartialWrite | undefined;
  #closing: Promise<void> | undefined;

  /**
   * Checks that `path` can be appended to (creating its directories), then
   * starts an empty queue.
   *
   * @param options See {@linkcode FileFifoCollectorOptions}.
   * @throws {PssConfigError} When an option is invalid, or when `path`
   * cannot be created or written (checked synchronously, here).
   */
  constructor(options: FileFifoCollectorOptions) {
    const path = options?.path;
    if (
      !(path instanceof URL) && (typeof path !== "string" || path === "")
    ) {
      throw new PssConfigError(
        "path",
        path,
        "FileFifoCollector's 'path' must be a non-empty string or a URL",
      );
    }
    let kind: FileKind;
    try {
      kind = fileSystem.prepareAppendSync(path);
    } catch (error) {
      throw new PssConfigError(
        "path",
        String(path),
        `FileFifoCollector cannot append to 'path' (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    }
    // A backlog is written in larger locked writes: the lock and unlock
    // cost two round trips to the runtime per export, more than the write.
    super({
      ...options,
      maxExportBatchSize: options.maxExportBatchSize ??
        Math.max(options.batchSize ?? 100, DEFAULT_MAX_EXPORT),
    }, "FileFifoCollector");
    this.#path = path;
    this.#kind = kind;
  }

  #lockChecked = false;

  /** The file or pipe this collector appends to. */
  get path(): string | URL {
    return this.#path;
  }

  /**
   * Appends one batch under an exclusive lock. A write that fails part-way
   * is finished by the retry: it ends the torn line with a newline (the
   * reader then skips it, counted) and writes from the torn line on, so no
   * trace is written twice.
   *
   * @param batch The traces to append, oldest first.
   */
  protected override async flushBatch(batch: Trace[]): Promise<void> {
    if (!this.#lockChecked) {
      this.#lockChecked = true;
      if (fileSystem.locking === "none") {
        this.reportError(
          new Error(
            "FileFifoCollector cannot lock files on this runtime (libc flock is unavailable): lines from concurrent writers may interleave",
          ),
        );
      }
    }
    let bytes: Uint8Array;
    const partial = this.#partial;
    this.#partial = undefined;
    if (partial !== undefined && partial.batch === batch) {
      const lineStart = partial.bytes.lastIndexOf(10, partial.written - 1) + 1;
      const rest = partial.bytes.subarray(lineStart);
      bytes = partial.written > lineStart ? concat(NEWLINE, rest) : rest;
    } else {
      let text = "";
      for (const trace of batch) {
        text += stringifyTrace(trace) + "\n";
      }
      bytes = encoder.encode(text);
    }
    const file = await this.#lockCurrent();
    let written = 0;
    try {
      while (written < bytes.length) {
        written += await file.write(bytes.subarray(written));
      }
    } catch (error) {
      if (written > 0) this.#partial = { batch, bytes, written };
      throw error;
    } finally {
      await file.unlock().catch(() => {});
    }
  }

  /**
   * Every trace in the file, oldest first, after flushing this collector's
   * queue. Reads under a shared lock; malformed lines are skipped (count
   * them with `readTraces(collector, { onSkip })`). A named pipe yields
   * nothing.
   *
   * @returns The traces in the file.
   */
  override async traces(): Promise<Trace[]> {
    if (this.#kind === "fifo") return [];
    await this.flush();
    return await Array.fromAsync(readTraces(this));
  }

  /**
   * Streams the file's lines as raw entries (`position` is `"line N"`); see
   * {@linkcode readNdjsonEntries}. A named pipe yields nothing.
   *
   * @returns An async iterable of raw entries.
   */
  readRawEntries(): AsyncIterable<RawEntry> {
    if (this.#kind === "fifo") return (async function* () {})();
    return readNdjsonEntries(this.#path);
  }

  /**
   * Flushes this collector's queue, then empties the file under an
   * exclusive lock (other processes' queued traces land after). Does
   * nothing to a named pipe.
   *
   * @returns Resolves when the file is empty.
   */
  override async clear(): Promise<void> {
    if (this.#kind === "fifo") return;
    await this.flush();
    const file = await fileSystem.open(this.#path, "readWrite");
    try {
      await file.lock(true);
      try {
        await file.truncate();
      } finally {
        await file.unlock();
      }
    } finally {
      file.close();
    }
  }

  /**
   * Flushes (see {@linkcode BatchCollector.close}), then closes the file.
   * Idempotent.
   *
   * @returns Resolves when done.
   */
  override close(): Promise<void> {
    this.#closing ??= super.close().then(async () => {
      const file = this.#file;
      this.#file = undefined;
      if (file !== undefined) (await file.catch(() => undefined))?.close();
    });
    return this.#closing;
  }

  /**
   * The open file, exclusively locked, once `path` is known to still name
   * it: a file renamed or deleted under the collector (log rotation) is let
   * go and `path` opened anew, so writes follow the path as pypss's
   * open-per-batch does. Costs a `stat` and an `fstat` per export.
   */
  async #lockCurrent(): Promise<FilePort> {
    let file = await this.#open();
    await file.lock(true);
    if (this.#kind !== "file") return file;
    let current: boolean;
    try {
      const [mine, named] = await Promise.all([
        file.identity(),
        fileSystem.identity(this.#path),
      ]);
      current = mine === named;
    } catch {
      current = true; // Cannot tell: keep writing where we are.
    }
    if (current) return file;
    await file.unlock().catch(() => {});
    this.#file = undefined;
    file.close();
    file = await this.#open();
    await file.lock(true);
    return file;
  }

  /** Opens the file once; a failed open is retried by the next export. */
  #open(): Promise<FilePort> {
    if (this.#file === undefined) {
      const opening = fileSystem.open(this.#path, "append");
      this.#file = opening;
      opening.catch(() => {
        if (this.#file === opening) this.#file = undefined;
      });
    }
    return this.#file;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
