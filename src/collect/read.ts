/**
 * Streams traces back from wherever collectors put them: an NDJSON file (or
 * named pipe), any {@linkcode TraceSource}, or any {@linkcode Collector}.
 *
 * @module
 */

import { type Trace, traceFromJson } from "../trace.ts";
import type { Collector } from "./collector.ts";
import { splitLines } from "./lines.ts";
import { PssConfigError } from "../score/config.ts";
import { fileSystem } from "../runtime/fs.ts";

/**
 * One stored trace, not yet parsed: its pypss JSON text and where it was.
 *
 * @example
 * ```ts
 * import { type RawEntry, readTraces } from "@pss/pss";
 * const entries: RawEntry[] = [
 *   { text: '{"name":"a","duration":0.1}', position: "row 1" },
 *   { text: '{"name":"b"', position: "row 2", skipReason: "cut at 11 characters" },
 * ];
 * const reader = readTraces({ readRawEntries: async function* () { yield* entries; } });
 * console.log((await Array.fromAsync(reader)).length, reader.stats); // 1 { read: 1, skipped: 1 }
 * ```
 */
export interface RawEntry {
  /** The entry's JSON text (one NDJSON line, one Redis entry). */
  text: string;
  /** Where the entry is, for messages: `"line 12"`, `"entry 1700000-0"`. */
  position: string;
  /**
   * Set when the source already knows the entry is malformed (such as a
   * line cut for being too long): the entry is skipped with this reason.
   */
  skipReason?: string;
}

/**
 * Anything that can stream its stored traces as raw JSON entries, oldest
 * first; {@linkcode readTraces} parses them and skips malformed ones.
 *
 * @example A source over an array of strings
 * ```ts
 * import { readTraces, type RawEntry, type TraceSource } from "@pss/pss";
 * class ArraySource implements TraceSource {
 *   constructor(private lines: string[]) {}
 *   async *readRawEntries(): AsyncIterable<RawEntry> {
 *     for (const [i, text] of this.lines.entries()) {
 *       yield { text, position: `item ${i}` };
 *     }
 *   }
 * }
 * const reader = readTraces(new ArraySource(['{"name":"a"}', "oops"]));
 * console.log((await Array.fromAsync(reader)).length, reader.stats); // 1 { read: 1, skipped: 1 }
 * ```
 */
export interface TraceSource {
  /** Yields every stored entry, oldest first, with bounded memory. */
  readRawEntries(): AsyncIterable<RawEntry>;
}

/**
 * Options for {@linkcode readTraces}.
 *
 * @example
 * ```ts
 * import { readTraces, type ReadTracesOptions } from "@pss/pss";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/t.ndjson`, `{"name":"a"}\n{"name":"${"x".repeat(100)}"}\n`);
 * const skipped: string[] = [];
 * const options: ReadTracesOptions = { maxLineLength: 50, onSkip: (position) => skipped.push(position) };
 * const traces = await Array.fromAsync(readTraces(`${dir}/t.ndjson`, options));
 * console.log(traces.length, skipped); // 1 ["line 2"]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface ReadTracesOptions {
  /**
   * Called for every entry skipped as malformed, with its position
   * (`"line 12"`) and the reason. Must not throw.
   * @default {undefined (skips are only counted in `stats.skipped`)}
   */
  onSkip?: (position: string, reason: string) => void;
  /**
   * Longest NDJSON line read from a file, in characters; longer lines are
   * skipped as malformed, so a corrupt file cannot exhaust memory.
   * @default {16777216}
   */
  maxLineLength?: number;
  /**
   * Bytes read from a file at a time.
   * @default {65536}
   */
  chunkBytes?: number;
}

/**
 * Counts of a {@linkcode TraceReader}, updated as it goes.
 *
 * @example
 * ```ts
 * import { readTraces, type ReadTracesStats } from "@pss/pss";
 * const reader = readTraces({
 *   async *readRawEntries() { yield { text: '{"name":"a"}', position: "1" }; yield { text: "oops", position: "2" }; },
 * });
 * await Array.fromAsync(reader);
 * const stats: ReadTracesStats = reader.stats;
 * console.log(stats); // { read: 1, skipped: 1 }
 * ```
 */
export interface ReadTracesStats {
  /** Traces yielded so far. */
  read: number;
  /** Entries skipped so far as malformed (bad JSON, not a valid trace, too long). */
  skipped: number;
}

/**
 * The async iterator {@linkcode readTraces} returns: iterate it once with
 * `for await`, then (or meanwhile) look at its `stats`.
 *
 * @example
 * ```ts
 * import { MemoryCollector, readTraces, type TraceReader } from "@pss/pss";
 * const collector = new MemoryCollector();
 * collector.add({ name: "a", duration: 0.1 });
 * collector.add({ name: "b", duration: 0.2 });
 * const reader: TraceReader = readTraces(collector);
 * for await (const trace of reader) console.log(trace.name, reader.stats.read); // a 1, then b 2
 * ```
 */
export interface TraceReader extends AsyncIterableIterator<Trace> {
  /** What was read and skipped so far. */
  readonly stats: ReadTracesStats;
}

/**
 * Where {@linkcode readTraces} can read from.
 *
 * @example
 * ```ts
 * import { MemoryCollector, readTraces, type TraceInput } from "@pss/pss";
 * async function count(input: TraceInput): Promise<number> {
 *   return (await Array.fromAsync(readTraces(input))).length;
 * }
 * const collector = new MemoryCollector();
 * collector.add({ name: "op" });
 * console.log(await count(collector)); // 1
 * ```
 */
export type TraceInput = string | URL | TraceSource | Collector;

/**
 * Reads traces one at a time, with memory bounded by one chunk and one line
 * whatever the size of the source. Malformed entries (invalid JSON, or JSON
 * that {@linkcode traceFromJson} rejects) are skipped and counted in
 * `reader.stats.skipped`, and reported to `options.onSkip` with their
 * position. Blank lines are ignored.
 *
 * Sources:
 * - a path or `file:` URL of an NDJSON file in pypss's schema (or a named
 *   pipe, read until its writers close it). A file is read up to the size
 *   it had when reading started, measured under a shared lock, so a batch
 *   being appended by a {@linkcode FileFifoCollector} at that moment is
 *   either read whole or not at all.
 * - a {@linkcode TraceSource} (streams its raw entries);
 * - any other {@linkcode Collector} (reads `await collector.traces()`).
 *
 * @param source Where to read from.
 * @param options See {@linkcode ReadTracesOptions}.
 * @returns A {@linkcode TraceReader}: an async iterator with `stats`. A
 * missing or unreadable file rejects the first `next()` with the runtime's
 * error.
 * @throws {PssConfigError} When `source` or an option is invalid.
 *
 * @example Score a file written by several processes
 * ```ts
 * import { readTraces } from "@pss/pss";
 * const path = await Deno.makeTempFile({ suffix: ".ndjson" });
 * await Deno.writeTextFile(path, '{"name":"a","duration":0.1}\nnot json\n');
 * const reader = readTraces(path, {
 *   onSkip: (position, reason) => console.warn(`${position}: ${reason}`),
 * });
 * for await (const trace of reader) console.log(trace.name); // a
 * console.log(reader.stats); // { read: 1, skipped: 1 }
 * ```
 */
export function readTraces(
  source: TraceInput,
  options: ReadTracesOptions = {},
): TraceReader {
  const maxLineLength = options.maxLineLength ?? 16 * 1024 * 1024;
  const chunkBytes = options.chunkBytes ?? 65536;
  for (
    const [field, value] of [["maxLineLength", maxLineLength], [
      "chunkBytes",
      chunkBytes,
    ]] as const
  ) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new PssConfigError(
        field,
        value,
        `readTraces' '${field}' must be a positive integer`,
      );
    }
  }
  if (options.onSkip !== undefined && typeof options.onSkip !== "function") {
    throw new PssConfigError(
      "onSkip",
      options.onSkip,
      "readTraces' 'onSkip' must be a function",
    );
  }
  const onSkip = options.onSkip;
  if (typeof source === "string" || source instanceof URL) {
    return new Reader((stats) =>
      parseEntries(
        readNdjsonEntries(source, { maxLineLength, chunkBytes }),
        stats,
        onSkip,
      )
    );
  } else if (isTraceSource(source)) {
    return new Reader((stats) =>
      parseEntries(source.readRawEntries(), stats, onSkip)
    );
  } else if (isCollector(source)) {
    return new Reader((stats) => collectorTraces(source, stats));
  } else {
    throw new PssConfigError(
      "source",
      source,
      "readTraces' 'source' must be a path, a URL, a TraceSource or a Collector",
    );
  }
}

class Reader implements TraceReader {
  readonly #stats: ReadTracesStats = { read: 0, skipped: 0 };
  readonly #iterator: AsyncIterator<Trace>;

  constructor(
    produce: (stats: ReadTracesStats) => AsyncGenerator<Trace>,
  ) {
    this.#iterator = produce(this.#stats);
  }

  get stats(): ReadTracesStats {
    return { ...this.#stats };
  }

  next(): Promise<IteratorResult<Trace>> {
    return this.#iterator.next();
  }

  return(value?: unknown): Promise<IteratorResult<Trace>> {
    return this.#iterator.return?.(value) ??
      Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): TraceReader {
    return this;
  }
}

async function* parseEntries(
  entries: AsyncIterable<RawEntry>,
  stats: ReadTracesStats,
  onSkip: ((position: string, reason: string) => void) | undefined,
): AsyncGenerator<Trace> {
  const skip = (position: string, reason: string): void => {
    stats.skipped++;
    try {
      onSkip?.(position, reason);
    } catch {
      // A reporting hook must not stop the read.
    }
  };
  for await (const entry of entries) {
    if (entry.skipReason !== undefined) {
      skip(entry.position, entry.skipReason);
      continue;
    }
    const text = entry.text;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      if (text.trim() === "") continue;
      skip(
        entry.position,
        `invalid JSON: ${error instanceof Error ? error.message : error}`,
      );
      continue;
    }
    const trace = traceFromJson(json);
    if (trace === undefined) {
      skip(entry.position, "not a valid pypss trace");
      continue;
    }
    stats.read++;
    yield trace;
  }
}

async function* collectorTraces(
  collector: Collector,
  stats: ReadTracesStats,
): AsyncGenerator<Trace> {
  for (const trace of await collector.traces()) {
    stats.read++;
    yield trace;
  }
}

function isTraceSource(value: unknown): value is TraceSource {
  return value !== null && typeof value === "object" &&
    typeof (value as TraceSource).readRawEntries === "function";
}

function isCollector(value: unknown): value is Collector {
  return value !== null && typeof value === "object" &&
    typeof (value as Collector).traces === "function";
}

/** Options for {@linkcode readNdjsonEntries}. */
export interface ReadNdjsonEntriesOptions {
  /**
   * Longest line kept, in characters; a longer line is yielded with a
   * `skipReason`.
   * @default {16777216}
   */
  maxLineLength?: number;
  /**
   * Bytes read at a time.
   * @default {65536}
   */
  chunkBytes?: number;
}

/**
 * Yields the lines of an NDJSON file as {@linkcode RawEntry}s (`"line N"`),
 * with bounded memory. A regular file is read up to the size it had when
 * reading started, measured under a shared `flock`, so a batch appended by
 * a {@linkcode FileFifoCollector} at that moment is read whole or not at
 * all; a named pipe is read until its writers close it.
 *
 * @param path The file's path or `file:` URL.
 * @param options See {@linkcode ReadNdjsonEntriesOptions}.
 * @returns An async generator of raw entries.
 *
 * @example
 * ```ts
 * import { readNdjsonEntries } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "{}\n");
 * for await (const entry of readNdjsonEntries(path)) {
 *   console.log(entry.position, entry.text); // line 1 {}
 * }
 * ```
 */
export async function* readNdjsonEntries(
  path: string | URL,
  options: ReadNdjsonEntriesOptions = {},
): AsyncGenerator<RawEntry> {
  const maxLineLength = options.maxLineLength ?? 16 * 1024 * 1024;
  const chunkBytes = options.chunkBytes ?? 65536;
  const pipe = fileSystem.kindSync(path) === "fifo";
  const file = await fileSystem.open(path, "read");
  try {
    let remaining = Infinity;
    if (!pipe) {
      try {
        await file.lock(false);
        try {
          remaining = await file.size();
        } finally {
          await file.unlock();
        }
      } catch {
        // No lock here (some network file systems): read to the end.
        remaining = Infinity;
      }
    }
    const chunks = async function* (): AsyncGenerator<Uint8Array> {
      while (remaining > 0) {
        const buffer = new Uint8Array(Math.min(chunkBytes, remaining));
        const count = await file.read(buffer);
        if (count === 0) return;
        remaining -= count;
        yield count === buffer.length ? buffer : buffer.subarray(0, count);
      }
    };
    for await (const line of splitLines(chunks(), { maxLineLength })) {
      const position = `line ${line.number}`;
      if (line.overflow) {
        yield {
          text: line.text,
          position,
          skipReason: `line longer than ${maxLineLength} characters`,
        };
      } else {
        yield { text: line.text, position };
      }
    }
  } finally {
    file.close();
  }
}
