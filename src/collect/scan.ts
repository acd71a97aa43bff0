/**
 * Reads traces straight into a {@linkcode PssAccumulator}: each entry is
 * parsed and its scored values go into the accumulator's columns, so a file
 * of any size costs a few numbers per trace, never the parsed traces. The
 * fast path of `pss score`.
 *
 * @module
 */

import { traceFromJson } from "../trace.ts";
import { PssAccumulator } from "../score/accumulator.ts";
import {
  type EntryBatch,
  readEntryBatches,
  readFileChunks,
  rejectionReason,
  type TraceFileFormat,
  type TraceSource,
} from "./read.ts";
import { PssConfigError } from "../score/config.ts";
import { checkedMaxLineLength, lineTooLong } from "./lines.ts";
import {
  type ChunkLog,
  groupOf,
  invalidJson,
  Op,
  takeFast,
} from "./_scan_core.ts";
import {
  parallelFormat,
  startPool,
  type WorkerPool,
} from "./_scan_parallel.ts";
import { fileSystem } from "../runtime/fs.ts";
import {
  checkKnownKeys,
  functionOption,
  oneOf,
  positiveInteger,
} from "../_options.ts";

/**
 * Which wire field keys a trace's group in {@linkcode scanTraces}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PssAccumulator } from "../score/accumulator.ts";
 * import { type GroupBy, scanTraces } from "./scan.ts";
 * const path = await Deno.makeTempFile({ suffix: ".ndjson" });
 * await Deno.writeTextFile(path, '{"name":"a","pid":41}\n{"name":"b","pid":42}\n{"name":"c","pid":41}\n');
 * const groupBy: GroupBy = "pid";
 * const accumulator = new PssAccumulator({ groups: "shared" });
 * await scanTraces(path, accumulator, { groupBy });
 * assert.deepEqual(accumulator.groupRows().map((row) => [row.name, row.details.traces]), [["41", 2], ["42", 1]]);
 * await Deno.remove(path);
 * ```
 */
export type GroupBy = "name" | "module" | "host" | "pid";

/**
 * Options of {@linkcode scanTraces}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PssAccumulator } from "../score/accumulator.ts";
 * import { scanTraces, type ScanTracesOptions } from "./scan.ts";
 * const skipped: string[] = [];
 * const options: ScanTracesOptions = { groupBy: "name", onSkip: (position) => skipped.push(position) };
 * const bytes = new TextEncoder().encode('{"name":"a"}\noops\n');
 * await scanTraces(ReadableStream.from([bytes]), new PssAccumulator(), options);
 * assert.deepEqual(skipped, ["line 2"]);
 * ```
 */
export interface ScanTracesOptions {
  /**
   * The field that keys each trace's group in the accumulator.
   * @default {"name"}
   */
  groupBy?: GroupBy;
  /** Called for every skipped entry with its position and why. Must not throw. */
  onSkip?: (position: string, reason: string) => void;
  /** Called when the source is damaged as a whole. Must not throw. */
  onWarning?: (message: string) => void;
  /** Called after each chunk with the bytes read so far (compressed bytes for gzip). */
  onProgress?: (bytes: number) => void;
  /** Told the size of a file once known. */
  onSize?: (bytes: number) => void;
  /** Told the format of a file or stream once known. */
  onFormat?: (format: TraceFileFormat) => void;
  /**
   * Longest line or entry read, in characters.
   * @default {16777216}
   */
  maxLineLength?: number;
  /**
   * Bytes read from a file at a time. Small chunks keep memory low: with
   * 64 KiB, reading a million lines peaked at half the memory of 1 MiB
   * chunks on Deno and Bun, for the same time. A file read by workers is
   * read in chunks of 1 MiB unless this is given.
   * @default {65536}
   */
  chunkBytes?: number;
  /**
   * Workers that parse an NDJSON file in parallel while this thread scores
   * what they parsed, in file order (the result is the same as a serial
   * read's, line for line). `0` reads on this thread only. By default, a
   * file of 16 MiB or more is read by one worker per core (at most 4) when
   * the machine has two cores or more and the runtime has `Worker`; a
   * number given here is used for any file. Gzip files, JSON documents,
   * streams and trace sources are always read on this thread.
   * @default {undefined} (chosen by size and cores)
   */
  workers?: number;
}

const OWNER = "scanTraces";
const GROUP_BY: readonly GroupBy[] = ["name", "module", "host", "pid"];
const HOOKS = [
  "onSkip",
  "onWarning",
  "onProgress",
  "onSize",
  "onFormat",
] as const;
/** Every key of {@linkcode ScanTracesOptions}. */
const SCAN_OPTION_KEYS: readonly (keyof ScanTracesOptions)[] = [
  "groupBy",
  ...HOOKS,
  "maxLineLength",
  "chunkBytes",
  "workers",
];

/**
 * What {@linkcode scanTraces} read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PssAccumulator } from "../score/accumulator.ts";
 * import { type ScanStats, scanTraces } from "./scan.ts";
 * const bytes = new TextEncoder().encode('{"name":"a"}\n{"name":"b"}\n{"name":"c","duration":-1}\n');
 * const accumulator = new PssAccumulator();
 * const stats: ScanStats = await scanTraces(ReadableStream.from([bytes]), accumulator);
 * assert.equal(stats.entries - stats.skipped, 2);
 * assert.equal(accumulator.report().traceCount, 2);
 * ```
 */
export interface ScanStats {
  /** Entries read, blank lines excluded: traces taken plus skipped. */
  entries: number;
  /** Entries skipped as malformed. */
  skipped: number;
  /** Workers that parsed the input in parallel; 0 when read on one thread. */
  workers: number;
}

/**
 * Reads every trace of `input` into `accumulator`: a path or URL of a trace
 * file (NDJSON or a pypss JSON document, possibly gzip-compressed), a byte
 * stream holding the same (standard input), or a {@linkcode TraceSource}
 * such as a `RedisCollector`. The accumulator gets exactly what
 * `computePss` would score from `readTraces(input)`; malformed entries are
 * skipped, counted and reported with the field at fault.
 *
 * @param input Where to read from.
 * @param accumulator Where the values go.
 * @param options See {@linkcode ScanTracesOptions}.
 * @returns The counts; rejects with the runtime's error when the input
 * cannot be read.
 * @throws {PssConfigError} When an option is invalid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PssAccumulator } from "../score/accumulator.ts";
 * import { scanTraces } from "./scan.ts";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, '[{"name":"a","duration":0.1},{"name":"b","duration":-1}]');
 * const accumulator = new PssAccumulator();
 * const skips: string[] = [];
 * const stats = await scanTraces(path, accumulator, {
 *   onSkip: (position, reason) => skips.push(`${position} ${reason}`),
 * });
 * assert.deepEqual(skips, ["entry 2 duration must be a finite number ≥ 0, got -1"]);
 * assert.deepEqual(stats, { entries: 2, skipped: 1, workers: 0 });
 * assert.equal(accumulator.report().pss, 100);
 * await Deno.remove(path);
 * ```
 */
export async function scanTraces(
  input: string | URL | AsyncIterable<Uint8Array> | TraceSource,
  accumulator: PssAccumulator,
  options: ScanTracesOptions = {},
): Promise<ScanStats> {
  if (!(accumulator instanceof PssAccumulator)) {
    // The likely slip: scanTraces(path, options), the accumulator left out.
    throw new PssConfigError(
      "accumulator",
      accumulator,
      "scanTraces' second argument must be a PssAccumulator (scanTraces(input, accumulator, options))",
    );
  }
  checkKnownKeys(OWNER, options, SCAN_OPTION_KEYS);
  const groupBy = options.groupBy === undefined
    ? "name"
    : oneOf(OWNER, "groupBy", options.groupBy, GROUP_BY);
  const maxLineLength = checkedMaxLineLength(OWNER, options.maxLineLength);
  for (const field of HOOKS) {
    if (options[field] !== undefined) {
      functionOption(OWNER, field, options[field]);
    }
  }
  if (options.chunkBytes !== undefined) {
    positiveInteger(OWNER, "chunkBytes", options.chunkBytes);
  }
  const requested = options.workers;
  if (
    requested !== undefined &&
    (!Number.isSafeInteger(requested) || requested < 0 || requested > 64)
  ) {
    throw new PssConfigError(
      "workers",
      requested,
      "scanTraces' 'workers' must be an integer from 0 to 64",
    );
  }
  const stats: ScanStats = { entries: 0, skipped: 0, workers: 0 };
  const sink = new Sink(accumulator, groupBy, stats, options.onSkip);
  if (typeof input === "object" && "readRawEntries" in input) {
    for await (const entry of input.readRawEntries()) {
      if (entry.skipReason !== undefined) {
        sink.skip(entry.position, entry.skipReason);
      } else {
        sink.take(entry.text, entry.position);
      }
    }
    return stats;
  }
  let bytes = 0;
  const onProgress = options.onProgress;
  const counted = async function* (
    chunks: AsyncIterable<Uint8Array>,
  ): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      bytes += chunk.length;
      yield chunk;
    }
  };
  let chunks: AsyncIterable<Uint8Array> | undefined;
  if (typeof input === "string" || input instanceof URL) {
    const workers = await workersFor(input, requested);
    chunks = workers === 0
      ? readFileChunks(input, {
        chunkBytes: options.chunkBytes ?? 65536,
        onSize: options.onSize,
        reuseBuffer: true,
      })
      : await readInParallel(input, workers, sink, stats, {
        ...options,
        maxLineLength,
      });
    if (chunks === undefined) return stats; // the workers read it all
  } else chunks = input;
  const batches = readEntryBatches(counted(chunks), {
    maxLineLength,
    onWarning: options.onWarning,
    onFormat: options.onFormat,
  });
  for await (const batch of batches) {
    sink.batch(batch);
    onProgress?.(bytes);
  }
  return stats;
}

/** Turns entry texts into accumulator calls. */
class Sink {
  readonly #accumulator: PssAccumulator;
  readonly #groupKey: string;
  readonly #stats: ScanStats;
  readonly #onSkip: ((position: string, reason: string) => void) | undefined;

  constructor(
    accumulator: PssAccumulator,
    groupBy: GroupBy,
    stats: ScanStats,
    onSkip: ((position: string, reason: string) => void) | undefined,
  ) {
    this.#accumulator = accumulator;
    // Without rows, no group key is read at all.
    this.#groupKey = accumulator.grouped ? groupBy : "";
    this.#stats = stats;
    this.#onSkip = onSkip;
  }

  /** The wire field that keys groups; `""` for none. */
  get groupKey(): string {
    return this.#groupKey;
  }

  batch({ texts, first, unit, cut, cutReason }: EntryBatch): void {
    const accumulator = this.#accumulator;
    const groupKey = this.#groupKey;
    let next = cut.length > 0 ? cut[0] : -1;
    let cutAt = 0;
    for (let i = 0; i < texts.length; i++) {
      if (i === next) {
        this.skip(`${unit} ${first + i}`, cutReason);
        next = ++cutAt < cut.length ? cut[cutAt] : -1;
        continue;
      }
      const text = texts[i];
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        if (text.trim() === "") continue;
        this.skip(`${unit} ${first + i}`, invalidJson(error));
        continue;
      }
      this.#stats.entries++;
      if (!takeFast(value, accumulator, groupKey)) {
        this.#takeSlow(value, `${unit} ${first + i}`);
      }
    }
  }

  /** Replays a parallel reader's log of one chunk, as `batch` would take it. */
  replay(log: ChunkLog, first: number, cutReason: string): void {
    const accumulator = this.#accumulator;
    const stats = this.#stats;
    const { ops, numbers, refs, strings, texts } = log;
    let n = 0;
    let r = 0;
    let t = 0;
    for (let i = 0; i < log.lines; i++) {
      const op = ops[i];
      switch (op) {
        case Op.blank:
          break;
        case Op.values:
        case Op.valuesFailed: {
          stats.entries++;
          const tag = refs[r];
          const exceptionType = refs[r + 1];
          const group = refs[r + 2];
          r += 3;
          accumulator.addValues(
            numbers[n],
            numbers[n + 1],
            numbers[n + 2],
            op === Op.valuesFailed,
            tag < 0 ? undefined : strings[tag],
            exceptionType < 0 ? undefined : strings[exceptionType],
            group < 0 ? "" : strings[group],
          );
          n += 3;
          break;
        }
        case Op.lag: {
          stats.entries++;
          const group = refs[r++];
          accumulator.addLag(numbers[n++], group < 0 ? "" : strings[group]);
          break;
        }
        case Op.unused:
          stats.entries++;
          accumulator.addUnused();
          break;
        case Op.slow:
          stats.entries++;
          this.#takeSlow(JSON.parse(texts[t++]), `line ${first + i}`);
          break;
        case Op.invalid:
          this.skip(`line ${first + i}`, texts[t++]);
          break;
        default:
          this.skip(`line ${first + i}`, cutReason);
      }
    }
  }

  take(text: string, position: string): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      if (text.trim() === "") return;
      this.skip(position, invalidJson(error));
      return;
    }
    this.#stats.entries++;
    if (!takeFast(value, this.#accumulator, this.#groupKey)) {
      this.#takeSlow(value, position);
    }
  }

  skip(position: string, reason: string): void {
    this.#stats.entries++;
    this.#stats.skipped++;
    this.#accumulator.addUnreadable();
    try {
      this.#onSkip?.(position, reason);
    } catch {
      // A reporting hook must not stop the read.
    }
  }

  /** Anything the fast path does not take: the codec decides. */
  #takeSlow(value: unknown, position: string): void {
    const trace = traceFromJson(value);
    if (trace === undefined) {
      this.#stats.skipped++;
      this.#accumulator.addUnreadable();
      try {
        this.#onSkip?.(position, rejectionReason(value));
      } catch {
        // A reporting hook must not stop the read.
      }
      return;
    }
    this.#accumulator.add(
      trace,
      groupOf(value as Record<string, unknown>, this.#groupKey),
    );
  }
}

/** Files at least this large are read by workers unless told otherwise. */
const PARALLEL_MIN_BYTES = 16 * 1024 * 1024;
/** Chunks sent to the workers. */
const PARALLEL_CHUNK_BYTES = 1 << 20;
/** The most workers chosen by default. */
const MAX_WORKERS = 4;

/** How many workers should read `path`: 0 to read it on this thread. */
async function workersFor(
  path: string | URL,
  requested: number | undefined,
): Promise<number> {
  if (typeof Worker !== "function") return 0;
  if (requested !== undefined) return requested;
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  if (!(cores >= 2)) return 0;
  try {
    if (fileSystem.kindSync(path) !== "file") return 0;
    const file = await fileSystem.open(path, "read");
    try {
      if (await file.size() < PARALLEL_MIN_BYTES) return 0;
    } finally {
      file.close();
    }
  } catch {
    return 0; // the read proper reports what is wrong
  }
  return Math.min(MAX_WORKERS, cores);
}

/**
 * Reads `path` with workers when its first chunk shows plain NDJSON, and
 * sets `stats.workers`; otherwise returns its chunks, the first one
 * included, for the serial reader.
 *
 * @returns `undefined` once the workers have read the file.
 * @throws {Error} When a worker fails.
 */
async function readInParallel(
  path: string | URL,
  workers: number,
  sink: Sink,
  stats: ScanStats,
  options: ScanTracesOptions & { maxLineLength: number },
): Promise<AsyncIterable<Uint8Array> | undefined> {
  const chunkBytes = options.chunkBytes ?? PARALLEL_CHUNK_BYTES;
  let pool: WorkerPool | undefined = undefined; // set once the format is known
  const chunks = readFileChunks(path, {
    chunkBytes,
    onSize: options.onSize,
    recycled: () => pool?.recycled(),
  });
  const iterator = chunks[Symbol.asyncIterator]();
  let head = await iterator.next();
  while (!head.done && head.value.length === 0) head = await iterator.next();
  const rest = async function* (): AsyncGenerator<Uint8Array> {
    if (!head.done) yield head.value;
    for (;;) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  };
  if (head.done || !parallelFormat(head.value)) return rest();
  const maxLineLength = options.maxLineLength;
  const cutReason = lineTooLong(maxLineLength);
  pool = await startPool({
    workers,
    chunkBytes,
    groupKey: sink.groupKey,
    maxLineLength,
    replay: (log, first) => sink.replay(log, first, cutReason),
    onProgress: options.onProgress,
  });
  if (pool === undefined) return rest();
  try {
    options.onFormat?.({ document: false, gzip: false });
    await pool.read(head.value, iterator);
    stats.workers = workers;
    return undefined;
  } finally {
    pool.terminate();
    await iterator.return?.(undefined); // closes the file after a failure
  }
}
