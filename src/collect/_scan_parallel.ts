/**
 * The parallel read of a large NDJSON file for {@linkcode scanTraces}:
 * this thread reads the file in chunks cut at line ends and hands each to
 * one of a few workers, which decode and parse the lines (the bulk of the
 * work) and send back a log of what each line holds; the logs are replayed
 * into the accumulator on this thread, in file order. The scores, counts
 * and skip reports are those of the serial read, line for line.
 *
 * @module
 */

import { type ChunkLog, Op } from "./_scan_core.ts";
import type { ChunkAnswer, ChunkJob, WorkerReady } from "./_scan_worker.ts";
import { runtime } from "../runtime/adapter.ts";

/** A file's first chunk: may it be read in parallel? */
export function parallelFormat(head: Uint8Array): boolean {
  // Gzip, a JSON document, or anything but a plain record on the first
  // line: the serial reader, which knows every format, takes it.
  const start = hasBom(head) ? 3 : 0;
  if (head[start] !== 0x7b /* { */) return false;
  const newline = head.indexOf(0x0a, start);
  if (newline === -1) return false;
  const line = new TextDecoder().decode(head.subarray(start, newline));
  if (line.includes('"traces"')) return false;
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === "object" &&
      !Array.isArray(value);
  } catch {
    return false;
  }
}

function hasBom(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb &&
    bytes[2] === 0xbf;
}

/** What the parallel read needs to know. */
export interface ParallelReadOptions {
  /** Workers to start. */
  workers: number;
  /** The wire field that keys groups; `""` for none. */
  groupKey: string;
  /** Longest line kept, in characters. */
  maxLineLength: number;
  /** Replays one chunk's log; `first` is the number of its first line. */
  replay: (log: ChunkLog, first: number) => void;
  /** Told the bytes read so far, after each chunk replayed. */
  onProgress?: (bytes: number) => void;
  /** The size of the chunks read, whose buffers are read into again. */
  chunkBytes: number;
}

/**
 * Starts the workers and waits until each has loaded; resolves to
 * `undefined` when this runtime cannot start them or one failed to load
 * (then nothing has been sent to them, and the serial reader takes the
 * file).
 */
export async function startPool(
  options: ParallelReadOptions,
): Promise<WorkerPool | undefined> {
  let pool: WorkerPool;
  try {
    pool = new WorkerPool(options);
  } catch {
    return undefined;
  }
  if (await pool.ready()) return pool;
  pool.terminate();
  return undefined;
}

/** The workers, and the logs waiting for their turn to be replayed. */
export class WorkerPool {
  readonly #workers: Worker[] = [];
  readonly #options: ParallelReadOptions;
  readonly #logs = new Map<number, ChunkLog>();
  /** Chunk buffers back from the workers, to read into again. */
  readonly #free: Uint8Array[] = [];
  #posted = 0;
  #replayed = 0;
  #line = 1;
  #bytesRead = 0;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  /** Workers that have loaded. */
  #loaded = 0;

  constructor(options: ParallelReadOptions) {
    this.#options = options;
    const url = new URL("./_scan_worker.ts", import.meta.url).href;
    if (!runtime.canStartWorker(url)) {
      throw new Error(`workers cannot be started from ${url} here`);
    }
    try {
      for (let i = 0; i < options.workers; i++) {
        const worker = new Worker(url, { type: "module" });
        worker.onmessage = (
          event: MessageEvent<ChunkAnswer | WorkerReady>,
        ) => {
          if ("ready" in event.data) {
            this.#loaded++;
            this.#wakeUp();
            return;
          }
          const { buffer } = event.data;
          if (
            buffer.byteLength === options.chunkBytes && this.#free.length < 8
          ) {
            this.#free.push(new Uint8Array(buffer));
          }
          this.#received(event.data);
        };
        worker.onerror = (event: ErrorEvent) => {
          event.preventDefault();
          this.#fail(`a parsing worker failed: ${event.message}`);
        };
        worker.onmessageerror = () =>
          this.#fail("a parsing worker sent a message that could not be read");
        this.#workers.push(worker);
      }
    } catch (error) {
      this.terminate();
      throw error;
    }
  }

  /**
   * Reads `head` and then `rest` to the end, in parallel.
   *
   * @throws {Error} When a worker fails.
   */
  async read(
    head: Uint8Array,
    rest: AsyncIterator<Uint8Array>,
  ): Promise<void> {
    const { maxLineLength } = this.#options;
    // A line this many bytes long is longer than `maxLineLength` characters
    // whatever it holds (UTF-8 takes at most 3 bytes per UTF-16 unit).
    const hopeless = 3 * maxLineLength + 3;
    /** The start of a line that goes on in the next chunk. */
    const carry: Uint8Array[] = [];
    let carried = 0;
    /** Skipping the rest of a line too long to keep. */
    let discarding = false;
    let chunk: Uint8Array | undefined = hasBom(head) ? head.subarray(3) : head;
    while (chunk !== undefined) {
      this.#bytesRead += chunk.length;
      let data = chunk;
      if (discarding) {
        const newline = data.indexOf(0x0a);
        discarding = newline === -1;
        data = data.subarray(discarding ? data.length : newline + 1);
      }
      const last = data.lastIndexOf(0x0a);
      if (last === -1) {
        if (data.length > 0) {
          carry.push(data);
          carried += data.length;
        }
        if (carried > hopeless) {
          this.#local(cutLog());
          carry.length = 0;
          carried = 0;
          discarding = true;
        }
      } else {
        // Copied before `data`'s buffer goes to a worker.
        const tail = data.slice(last + 1);
        const prefix = carried === 0 ? undefined : concat(carry, carried);
        await this.#post(prefix, data.subarray(0, last + 1));
        carry.length = 0;
        carried = 0;
        if (tail.length > 0) {
          carry.push(tail);
          carried = tail.length;
        }
      }
      const next = await rest.next();
      chunk = next.done ? undefined : next.value;
    }
    // The last line, without a newline at the end of the file.
    if (carried > 0) await this.#post(undefined, concat(carry, carried));
    while (this.#replayed < this.#posted && this.#failure === undefined) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Waits until every worker has loaded (resolves `true`) or one has
   * failed to (resolves `false`), at most 10 s.
   */
  async ready(): Promise<boolean> {
    const deadline = Date.now() + 10_000;
    while (
      this.#loaded < this.#workers.length && this.#failure === undefined &&
      Date.now() < deadline
    ) {
      const timer = setTimeout(() => this.#wakeUp(), 100);
      await new Promise<void>((resolve) => this.#wake = resolve);
      clearTimeout(timer);
    }
    return this.#loaded === this.#workers.length &&
      this.#failure === undefined;
  }

  /** A free chunk buffer, if one came back. */
  recycled(): Uint8Array | undefined {
    return this.#free.pop();
  }

  /** Stops the workers. */
  terminate(): void {
    for (const worker of this.#workers) worker.terminate();
    this.#workers.length = 0;
  }

  async #post(
    prefix: Uint8Array | undefined,
    bytes: Uint8Array,
  ): Promise<void> {
    // Two chunks per worker in flight: one being parsed, one waiting.
    while (
      this.#posted - this.#replayed >= 2 * this.#workers.length &&
      this.#failure === undefined
    ) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#failure !== undefined) throw this.#failure;
    const id = this.#posted++;
    const job: ChunkJob = {
      id,
      prefix,
      bytes,
      groupKey: this.#options.groupKey,
      maxLineLength: this.#options.maxLineLength,
    };
    const transfer = [bytes.buffer as ArrayBuffer];
    if (prefix !== undefined) transfer.push(prefix.buffer as ArrayBuffer);
    this.#workers[id % this.#workers.length].postMessage(job, transfer);
  }

  /** A log made on this thread (an over-long line), in its place. */
  #local(log: Omit<ChunkLog, "id">): void {
    this.#received({ ...log, id: this.#posted++ });
  }

  #received(log: ChunkLog): void {
    this.#logs.set(log.id, log);
    const { replay, onProgress } = this.#options;
    try {
      for (
        let next = this.#logs.get(this.#replayed);
        next !== undefined;
        next = this.#logs.get(this.#replayed)
      ) {
        this.#logs.delete(this.#replayed);
        replay(next, this.#line);
        this.#line += next.lines;
        this.#replayed++;
        onProgress?.(this.#bytesRead);
      }
    } catch (error) {
      this.#fail(error instanceof Error ? error.message : String(error));
    }
    this.#wakeUp();
  }

  #fail(message: string): void {
    this.#failure ??= new Error(message);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

/** The parts as one new array (its own buffer, free to transfer). */
function concat(parts: Uint8Array[], length: number): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The log of one line too long to keep. */
function cutLog(): Omit<ChunkLog, "id"> {
  return {
    lines: 1,
    ops: new Uint8Array([Op.cut]),
    numbers: new Float64Array(0),
    refs: new Int32Array(0),
    strings: [],
    texts: [],
  };
}
