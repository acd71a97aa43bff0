/**
 * Reads traces straight into a {@linkcode PssAccumulator}: each entry is
 * parsed and its scored values go into the accumulator's columns, so a file
 * of any size costs a few numbers per trace, never the parsed traces. The
 * fast path of `pss score`.
 *
 * @module
 */

import { traceFromJson } from "../trace.ts";
import type { PssAccumulator } from "../score/accumulator.ts";
import {
  type EntryBatch,
  readEntryBatches,
  readFileChunks,
  rejectionReason,
  type TraceFileFormat,
  type TraceSource,
} from "./read.ts";
import { PssConfigError } from "../score/config.ts";

/**
 * Which wire field keys a trace's group in {@linkcode scanTraces}.
 *
 * @example
 * ```ts
 * import type { GroupBy } from "./scan.ts";
 * const groupBy: GroupBy = "pid";
 * console.log(groupBy);
 * ```
 */
export type GroupBy = "name" | "module" | "host" | "pid";

/**
 * Options of {@linkcode scanTraces}.
 *
 * @example
 * ```ts
 * import type { ScanTracesOptions } from "./scan.ts";
 * const options: ScanTracesOptions = { groupBy: "name", onSkip: (position, reason) => console.warn(position, reason) };
 * console.log(options.groupBy);
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
   * chunks on Deno and Bun, for the same time.
   * @default {65536}
   */
  chunkBytes?: number;
}

/**
 * What {@linkcode scanTraces} read.
 *
 * @example
 * ```ts
 * import type { ScanStats } from "./scan.ts";
 * const stats: ScanStats = { entries: 3, skipped: 1 };
 * console.log(stats.entries - stats.skipped); // 2
 * ```
 */
export interface ScanStats {
  /** Entries read, blank lines excluded: traces taken plus skipped. */
  entries: number;
  /** Entries skipped as malformed. */
  skipped: number;
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
 * import { PssAccumulator } from "../score/accumulator.ts";
 * import { scanTraces } from "./scan.ts";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, '[{"name":"a","duration":0.1},{"name":"b","duration":-1}]');
 * const accumulator = new PssAccumulator();
 * const stats = await scanTraces(path, accumulator, {
 *   onSkip: (position, reason) => console.log(position, reason), // entry 2 duration must be a finite number ≥ 0, got -1
 * });
 * console.log(stats, accumulator.report().pss); // { entries: 2, skipped: 1 } 100
 * await Deno.remove(path);
 * ```
 */
export async function scanTraces(
  input: string | URL | AsyncIterable<Uint8Array> | TraceSource,
  accumulator: PssAccumulator,
  options: ScanTracesOptions = {},
): Promise<ScanStats> {
  const groupBy = options.groupBy ?? "name";
  if (!["name", "module", "host", "pid"].includes(groupBy)) {
    throw new PssConfigError(
      "groupBy",
      groupBy,
      "scanTraces' 'groupBy' must be name, module, host or pid",
    );
  }
  const stats: ScanStats = { entries: 0, skipped: 0 };
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
  const chunks = typeof input === "string" || input instanceof URL
    ? readFileChunks(input, {
      chunkBytes: options.chunkBytes ?? 65536,
      onSize: options.onSize,
      reuseBuffer: true,
    })
    : input;
  const batches = readEntryBatches(counted(chunks), {
    maxLineLength: options.maxLineLength,
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

function invalidJson(error: unknown): string {
  return `invalid JSON: ${error instanceof Error ? error.message : error}`;
}

/** A group key from a wire field: strings as they are, finite numbers as text. */
function groupOf(record: Record<string, unknown>, key: string): string {
  if (key === "") return "";
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return "";
}

/** Whether `value` is a plain scored number: finite, ≥ 0. */
function plain(value: unknown): value is number {
  return typeof value === "number" && value >= 0 && value <= Number.MAX_VALUE;
}

/**
 * Takes the common shape of a wire trace (numbers as numbers, booleans as
 * booleans) straight into the accumulator, as `traceFromJson` followed by
 * `computePss` would; returns false, taking nothing, for anything else.
 */
function takeFast(
  value: unknown,
  accumulator: PssAccumulator,
  groupKey: string,
): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return false;
  }
  const record = value as Record<string, unknown>;
  const system = record.system_metric;
  if (system === true) {
    const metadata = record.metadata;
    if (
      metadata === undefined || metadata === null ||
      typeof metadata !== "object" || Array.isArray(metadata)
    ) {
      accumulator.addUnused();
      return true;
    }
    const lag = (metadata as Record<string, unknown>).lag;
    if (lag === undefined && !Object.hasOwn(metadata, "lag")) {
      accumulator.addUnused();
      return true;
    }
    if (!plain(lag)) return false;
    accumulator.addLag(lag, groupOf(record, groupKey));
    return true;
  }
  if (system !== false && system !== undefined && system !== null) return false;
  const duration = record.duration;
  const memory = record.memory;
  const wait = record.wait_time;
  if (
    !(duration === undefined || plain(duration)) ||
    !(memory === undefined || plain(memory)) ||
    !(wait === undefined || plain(wait))
  ) return false;
  const error = record.error;
  let failed: boolean;
  if (error === true) failed = true;
  else if (error === false || error === undefined || error === null) {
    failed = false;
  } else return false;
  const tag = record.branch_tag;
  const exceptionType = record.exception_type;
  accumulator.addValues(
    duration === undefined ? 0 : duration,
    memory === undefined ? 0 : memory,
    wait === undefined ? 0 : wait,
    failed,
    typeof tag === "string" && tag !== "" ? tag : undefined,
    typeof exceptionType === "string" ? exceptionType : undefined,
    groupOf(record, groupKey),
  );
  return true;
}
