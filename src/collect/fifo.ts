/**
 * A collector that appends traces as NDJSON lines to a file (or a named
 * pipe) that many processes may share: the {@linkcode BatchCollector}
 * engine over a file exporter.
 *
 * @example
 * ```ts
 * import { FileFifoCollector } from "@pss/pss/fifo";
 * import { computePss, readTraces } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/traces.ndjson`;
 * {
 *   await using collector = new FileFifoCollector({ path });
 *   collector.add({ name: "op", duration: 0.01 });
 * }
 * const traces = await Array.fromAsync(readTraces(path));
 * assert.equal(traces.length, 1);
 * assert.equal(computePss(traces).pss, 100);
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { stringifyTrace, type Trace } from "../trace.ts";
import {
  BATCH_OPTION_KEYS,
  BatchCollector,
  type BatchOptions,
} from "./batch.ts";
import { withBacklogExports } from "./batch_options.ts";
import type { TraceExporter } from "./exporter.ts";
import { type RawEntry, readNdjsonEntries, readTraces } from "./read.ts";
import type { TraceSource } from "./read.ts";
import { PssConfigError } from "../score/config.ts";
import { type FileKind, type FilePort, fileSystem } from "../runtime/fs.ts";
import type { FileSystemPort } from "../runtime/fs.ts";
import { runtime } from "../runtime/adapter.ts";
import { checkKnownKeys } from "../_options.ts";
import { messageOf } from "../_message.ts";

export type {
  FileKind,
  FilePort,
  FileSystemPort,
  OpenMode,
  PipeOpenOptions,
} from "../runtime/fs.ts";

/**
 * Options for {@linkcode FileFifoCollector}.
 *
 * @example
 * ```ts
 * import { FileFifoCollector, type FileFifoCollectorOptions } from "@pss/pss/fifo";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const options: FileFifoCollectorOptions = { path: `${dir}/traces.ndjson`, batchSize: 200 };
 * const collector = new FileFifoCollector(options);
 * collector.add({ name: "job", duration: 0.2 });
 * await collector.close();
 * assert.equal((await collector.traces()).length, 1);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileFifoCollectorOptions extends BatchOptions {
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
  /**
   * How long one export waits for a reader to open a named pipe, in
   * milliseconds; without one the export fails (and is retried).
   * @default {1000}
   */
  pipeOpenTimeoutMs?: number;
  /**
   * The file system to write through: the running runtime's by default.
   * Tests give one that fails on purpose.
   * @default {the runtime's}
   */
  fileSystem?: FileSystemPort;
}

const OWN_KEYS = ["path", "pipeOpenTimeoutMs", "fileSystem"];
const encoder = new TextEncoder();

/**
 * Options of {@linkcode createFileExporter}.
 *
 * @example
 * ```ts
 * import { BatchCollector } from "@pss/pss";
 * import { createFileExporter, type FileExporterOptions } from "@pss/pss/fifo";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const options: FileExporterOptions = { path: `${dir}/traces.ndjson` }; // such as "/tmp/traces.ndjson"
 * await using collector = new BatchCollector({ exporter: createFileExporter(options) });
 * collector.add({ name: "op" });
 * await collector.flush();
 * assert.match(await Deno.readTextFile(options.path), /"name":"op"/);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface FileExporterOptions {
  /** The file or named pipe. @default {none: required} */
  path: string | URL;
  /** See {@linkcode FileFifoCollectorOptions.pipeOpenTimeoutMs}. @default {1000} */
  pipeOpenTimeoutMs?: number;
  /** See {@linkcode FileFifoCollectorOptions.fileSystem}. @default {the runtime's} */
  fileSystem?: FileSystemPort;
}

/**
 * An exporter that appends each batch as NDJSON lines, all or nothing: the
 * batch is written under an exclusive `flock`, and a write that fails
 * part-way (a full disk) is cut back to where the batch began, so the file
 * never holds a torn line or part of a batch counted as dropped. Writes run
 * one at a time: a retry waits for an abandoned write to end, and a batch
 * an abandoned write stored is not written again. A named pipe cannot be
 * cut back; its writes resume where they stopped.
 *
 * @param options Where to write.
 * @returns The exporter (give it to a {@linkcode BatchCollector}).
 *
 * @example
 * ```ts
 * import { BatchCollector } from "@pss/pss";
 * import { createFileExporter } from "@pss/pss/fifo";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await using collector = new BatchCollector({
 *   exporter: createFileExporter({ path: `${dir}/t.ndjson` }),
 * });
 * collector.add({ name: "op" });
 * await collector.flush();
 * assert.equal((await Deno.readTextFile(`${dir}/t.ndjson`)).split("\n").length, 2); // one line and its newline
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function createFileExporter(
  options: FileExporterOptions,
): TraceExporter {
  const fs = options.fileSystem ?? fileSystem;
  const kind = fs.kindSync(options.path) === "fifo" ? "fifo" : "file";
  return new FileExporter(
    options.path,
    kind,
    fs,
    options.pipeOpenTimeoutMs ?? 1000,
  );
}

class FileExporter implements TraceExporter {
  readonly #path: string | URL;
  readonly #kind: FileKind;
  readonly #fs: FileSystemPort;
  readonly #pipeWaitMs: number;
  #file: Promise<FilePort> | undefined;
  /** Batches stored, so a retry after an abandoned write stores nothing twice. */
  readonly #stored = new WeakSet<readonly Trace[]>();
  /** Bytes of a batch a pipe took before its write failed. */
  readonly #piped = new WeakMap<readonly Trace[], number>();
  #busy: Promise<unknown> = Promise.resolve();

  constructor(
    path: string | URL,
    kind: FileKind,
    fs: FileSystemPort,
    pipeWaitMs: number,
  ) {
    this.#path = path;
    this.#kind = kind;
    this.#fs = fs;
    this.#pipeWaitMs = pipeWaitMs;
  }

  export(batch: readonly Trace[], signal: AbortSignal): Promise<void> {
    const run = this.#busy.then(() => this.#write(batch, signal));
    this.#busy = run.catch(() => {});
    return run;
  }

  async #write(batch: readonly Trace[], signal: AbortSignal): Promise<void> {
    if (this.#stored.has(batch)) return;
    signal.throwIfAborted();
    let text = "";
    for (const trace of batch) text += stringifyTrace(trace) + "\n";
    let bytes = encoder.encode(text);
    const file = await this.#lockCurrent(signal);
    try {
      if (this.#kind === "fifo") {
        bytes = bytes.subarray(this.#piped.get(batch) ?? 0);
        let written = 0;
        try {
          while (written < bytes.length) {
            written += await file.write(bytes.subarray(written));
          }
        } catch (error) {
          this.#piped.set(batch, (this.#piped.get(batch) ?? 0) + written);
          this.#drop(); // A pipe whose reader left is opened anew.
          throw error;
        }
      } else {
        let written = 0;
        try {
          while (written < bytes.length) {
            written += await file.write(bytes.subarray(written));
          }
        } catch (error) {
          if (written > 0) await this.#cutBack(file, written, error);
          throw error;
        }
      }
      this.#stored.add(batch);
    } finally {
      await file.unlock().catch(() => {});
    }
  }

  /**
   * Cuts the `written` bytes of a batch written in part back off the end of
   * the file, so none of it counts. Under the exclusive lock, every writer
   * appends only while holding it: the file ends with exactly those bytes.
   */
  async #cutBack(
    file: FilePort,
    written: number,
    error: unknown,
  ): Promise<void> {
    try {
      await file.truncate((await file.size()) - written);
    } catch (cut) {
      this.#drop();
      throw new Error(
        `${messageOf(error)}; cutting the partial batch back failed too (${
          messageOf(cut)
        }): the file may end with a torn line`,
        { cause: error },
      );
    }
  }

  /**
   * The open file, exclusively locked, once `path` still names it: a file
   * renamed or deleted under the collector (log rotation) is let go and
   * `path` opened anew.
   */
  async #lockCurrent(signal: AbortSignal): Promise<FilePort> {
    let file = await this.#open(signal);
    await file.lock(true);
    if (this.#kind !== "file") return file;
    let current: boolean;
    try {
      const [mine, named] = await Promise.all([
        file.identity(),
        this.#fs.identity(this.#path),
      ]);
      current = mine === named;
    } catch {
      current = true; // Cannot tell: keep writing where we are.
    }
    if (current) return file;
    await file.unlock().catch(() => {});
    this.#drop();
    file = await this.#open(signal);
    await file.lock(true);
    return file;
  }

  /** The open file, or a new open; `signal` cuts a pipe's wait short. */
  #open(signal: AbortSignal): Promise<FilePort> {
    if (this.#file === undefined) {
      const opening = this.#kind === "fifo"
        ? this.#fs.openPipeWriter(this.#path, {
          waitMs: this.#pipeWaitMs,
          signal,
        })
        : this.#fs.open(this.#path, "append");
      this.#file = opening;
      opening.catch(() => {
        if (this.#file === opening) this.#file = undefined;
      });
    }
    return this.#file;
  }

  #drop(): void {
    const file = this.#file;
    this.#file = undefined;
    file?.then((f) => f.close(), () => {});
  }

  async shutdown(): Promise<void> {
    await this.#busy;
    this.#drop();
  }
}

/**
 * Why `path` cannot be appended to: a permission the runtime withholds
 * (Deno's, named by its flag, in the runtime's own error class), or a path
 * that cannot be a file (a {@linkcode PssConfigError}).
 */
function appendError(name: string, path: string | URL, error: unknown): Error {
  const flag = runtime.missingPermission(error);
  if (flag === undefined) {
    return new PssConfigError(
      "path",
      String(path),
      `${name} cannot append to 'path' (${messageOf(error)})`,
    );
  }
  const Denied = (error as Error).constructor as ErrorConstructor;
  return new Denied(
    `${name} needs read and write access to '${
      String(path)
    }': run Deno with ${flag} (it said: ${messageOf(error)})`,
    { cause: error },
  );
}

/**
 * Appends every trace as one NDJSON line in pypss's schema to a file that
 * any number of processes (Deno, Bun, pypss readers) may share, or to a
 * named pipe.
 *
 * Each batch is written under an exclusive `flock` (readers take a shared
 * one), so lines of different processes never tear or interleave; a batch
 * is in the file whole or not at all (see {@linkcode createFileExporter}).
 * A named pipe with no reader never blocks the process: each export waits
 * at most `pipeOpenTimeoutMs` for one. `traces()` and `clear()` do nothing
 * on a pipe. Batching, retries, counters and the close deadline come from
 * {@linkcode BatchCollector}. It is also a {@linkcode TraceSource}:
 * `readTraces(collector)` streams its file with bounded memory.
 *
 * @example Flush on SIGTERM and SIGINT too (containers stop with SIGTERM)
 * ```ts
 * import { flushOnSignals } from "@pss/pss";
 * import { FileFifoCollector } from "@pss/pss/fifo";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * const collector = new FileFifoCollector({ path: `${dir}/shared.ndjson` });
 * const signals = flushOnSignals([collector]); // for the life of the program
 * collector.add({ name: "job", duration: 0.2 });
 * await collector.close();
 * assert.equal((await collector.traces()).length, 1);
 * signals[Symbol.dispose](); // only because this example ends here
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class FileFifoCollector extends BatchCollector implements TraceSource {
  readonly #path: string | URL;
  readonly #kind: FileKind;
  readonly #fs: FileSystemPort;

  /**
   * Checks that `path` can be appended to (creating its directories), then
   * starts an empty queue.
   *
   * @param options See {@linkcode FileFifoCollectorOptions}.
   * @throws {PssConfigError} When an option is invalid, or when `path`
   * cannot be created or written (checked synchronously, here).
   * @throws {Deno.errors.NotCapable} On Deno without read or write
   * permission for `path`: the runtime's own error class, with a message
   * that names the missing flag (not a configuration error: the path may
   * be fine).
   */
  constructor(options: FileFifoCollectorOptions) {
    const name = "FileFifoCollector";
    checkKnownKeys(name, options, [...BATCH_OPTION_KEYS, ...OWN_KEYS]);
    const { path, pipeOpenTimeoutMs, fileSystem: given, ...batch } = options;
    if (!(path instanceof URL) && (typeof path !== "string" || path === "")) {
      throw new PssConfigError(
        "path",
        path,
        `${name}'s 'path' must be a non-empty string or a URL`,
      );
    }
    const fs = given ?? fileSystem;
    let kind: FileKind;
    try {
      kind = fs.prepareAppendSync(path);
    } catch (error) {
      throw appendError(name, path, error);
    }
    // A backlog goes out in larger locked writes: the lock and unlock cost
    // two round trips to the runtime per export, more than the write.
    super({
      ...withBacklogExports(batch),
      exporter: createFileExporter({
        path,
        pipeOpenTimeoutMs,
        fileSystem: fs,
      }),
    }, name);
    this.#path = path;
    this.#kind = kind;
    this.#fs = fs;
    if (fs.locking === "none") {
      this.reportError(
        new Error(
          `${name} cannot lock files on this runtime (libc flock is unavailable): lines from concurrent writers may interleave`,
        ),
      );
    }
  }

  /** The file or pipe this collector appends to. */
  get path(): string | URL {
    return this.#path;
  }

  /**
   * Every trace in the file, oldest first, after flushing this collector's
   * queue. Malformed lines are skipped (count them with
   * `readTraces(collector, { onSkip })`). A named pipe yields nothing.
   *
   * @returns The traces in the file.
   */
  override async traces(): Promise<Trace[]> {
    if (this.#kind === "fifo") return [];
    await this.flush();
    return await Array.fromAsync(readTraces(this));
  }

  /**
   * Streams the file's lines as raw entries (`position` is `"line N"`). A
   * named pipe yields nothing.
   *
   * @returns An async iterable of raw entries.
   */
  readRawEntries(): AsyncIterable<RawEntry> {
    if (this.#kind === "fifo") return (async function* () {})();
    return readNdjsonEntries(this.#path);
  }

  /**
   * Flushes this collector's queue, then empties the file under an
   * exclusive lock. Does nothing to a named pipe.
   *
   * @returns Resolves when the file is empty.
   */
  override async clear(): Promise<void> {
    if (this.#kind === "fifo") return;
    await this.flush();
    const file = await this.#fs.open(this.#path, "readWrite");
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
}
