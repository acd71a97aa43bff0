/**
 * Streams traces back from wherever collectors put them: an NDJSON file (or
 * named pipe), any {@linkcode TraceSource}, or any {@linkcode Collector}.
 *
 * @module
 */

import { parseWireNumber, type Trace, traceFromJson } from "../trace.ts";
import type { Collector } from "./collector.ts";
import {
  checkedMaxLineLength,
  DEFAULT_MAX_LINE_LENGTH,
  lineTooLong,
  splitLineBatches,
} from "./lines.ts";
import { JsonElementSplitter } from "./json_elements.ts";
import { PssConfigError } from "../score/config.ts";
import { fileSystem } from "../runtime/fs.ts";
import {
  checkKnownKeys,
  functionOption,
  positiveInteger,
} from "../_options.ts";

/**
 * One stored trace, not yet parsed: its pypss JSON text and where it was.
 *
 * @example
 * ```ts
 * import { type RawEntry, readTraces } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const entries: RawEntry[] = [
 *   { text: '{"name":"a","duration":0.1}', position: "row 1" },
 *   { text: '{"name":"b"', position: "row 2", skipReason: "cut at 11 characters" },
 * ];
 * const reader = readTraces({ readRawEntries: async function* () { yield* entries; } });
 * assert.equal((await Array.fromAsync(reader)).length, 1);
 * assert.deepEqual(reader.stats, { read: 1, skipped: 1 });
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
 * import assert from "node:assert/strict";
 * class ArraySource implements TraceSource {
 *   constructor(private lines: string[]) {}
 *   async *readRawEntries(): AsyncIterable<RawEntry> {
 *     for (const [i, text] of this.lines.entries()) {
 *       yield { text, position: `item ${i}` };
 *     }
 *   }
 * }
 * const reader = readTraces(new ArraySource(['{"name":"a"}', "oops"]));
 * assert.equal((await Array.fromAsync(reader)).length, 1);
 * assert.deepEqual(reader.stats, { read: 1, skipped: 1 });
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
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/t.ndjson`, `{"name":"a"}\n{"name":"${"x".repeat(100)}"}\n`);
 * const skipped: string[] = [];
 * const options: ReadTracesOptions = { maxLineLength: 50, onSkip: (position) => skipped.push(position) };
 * const traces = await Array.fromAsync(readTraces(`${dir}/t.ndjson`, options));
 * assert.equal(traces.length, 1);
 * assert.deepEqual(skipped, ["line 2"]);
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
   * Called with a message when a source is damaged as a whole rather than
   * entry by entry (a JSON document cut before its closing bracket, text
   * after its end). Must not throw.
   * @default {undefined (nothing is reported)}
   */
  onWarning?: (message: string) => void;
  /**
   * Longest NDJSON line or JSON-document entry read from a file, in characters; longer lines are
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
 * import assert from "node:assert/strict";
 * const reader = readTraces({
 *   async *readRawEntries() { yield { text: '{"name":"a"}', position: "1" }; yield { text: "oops", position: "2" }; },
 * });
 * await Array.fromAsync(reader);
 * const stats: ReadTracesStats = reader.stats;
 * assert.deepEqual(stats, { read: 1, skipped: 1 });
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
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * collector.add({ name: "a", duration: 0.1 });
 * collector.add({ name: "b", duration: 0.2 });
 * const reader: TraceReader = readTraces(collector);
 * const seen: [string, number][] = [];
 * for await (const trace of reader) seen.push([trace.name, reader.stats.read]);
 * assert.deepEqual(seen, [["a", 1], ["b", 2]]);
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
 * import assert from "node:assert/strict";
 * async function count(input: TraceInput): Promise<number> {
 *   return (await Array.fromAsync(readTraces(input))).length;
 * }
 * const collector = new MemoryCollector();
 * collector.add({ name: "op" });
 * assert.equal(await count(collector), 1);
 * ```
 */
export type TraceInput =
  | string
  | URL
  | TraceSource
  | Collector
  | AsyncIterable<Uint8Array>;

const OWNER = "readTraces";
/** Every key of {@linkcode ReadTracesOptions}. */
const READ_OPTION_KEYS: readonly (keyof ReadTracesOptions)[] = [
  "onSkip",
  "onWarning",
  "maxLineLength",
  "chunkBytes",
];

/**
 * Reads traces one at a time, with memory bounded by one chunk and one
 * entry whatever the size of the source. Malformed entries (invalid JSON,
 * or JSON that {@linkcode traceFromJson} rejects) are skipped and counted
 * in `reader.stats.skipped`, and reported to `options.onSkip` with their
 * position and the field at fault. Blank lines are ignored.
 *
 * Sources:
 * - a path or `file:` URL of a trace file: NDJSON in pypss's schema (or a
 *   named pipe, read until its writers close it), or a pypss JSON document
 *   (`[trace, …]` or `{"traces": [trace, …]}`, told apart by its first
 *   character and split as it streams, never parsed whole); either may be
 *   gzip-compressed (told by its first bytes). A file is read up to the
 *   size it had when reading started, measured under a shared lock, so a
 *   batch being appended by a {@linkcode FileFifoCollector} at that moment
 *   is either read whole or not at all.
 * - a byte stream (such as standard input) holding the same;
 * - a {@linkcode TraceSource} (streams its raw entries; `RedisCollector`
 *   is one);
 * - any other {@linkcode Collector} (reads `await collector.traces()`).
 *
 * @param source Where to read from.
 * @param options See {@linkcode ReadTracesOptions}.
 * @returns A {@linkcode TraceReader}: an async iterator with `stats`. A
 * missing or unreadable file, or a corrupt gzip stream, rejects `next()`
 * with the runtime's error.
 * @throws {PssConfigError} When `source` or an option is invalid.
 *
 * @example Score a file written by several processes
 * ```ts
 * import { readTraces } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".ndjson" });
 * await Deno.writeTextFile(path, '{"name":"a","duration":0.1}\n{"name":"b","duration":-1}\n');
 * const skipped: string[] = [];
 * const reader = readTraces(path, {
 *   onSkip: (position, reason) => skipped.push(`${position}: ${reason}`),
 * });
 * const names: string[] = [];
 * for await (const trace of reader) names.push(trace.name);
 * assert.deepEqual(names, ["a"]);
 * assert.deepEqual(reader.stats, { read: 1, skipped: 1 });
 * assert.match(skipped[0], /^line 2: duration must be/);
 * await Deno.remove(path);
 * ```
 *
 * @example Read a pypss JSON document
 * ```ts
 * import { readTraces } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".json" });
 * await Deno.writeTextFile(path, '{"traces": [{"name": "a"}, {"name": "b"}]}');
 * assert.equal((await Array.fromAsync(readTraces(path))).length, 2);
 * await Deno.remove(path);
 * ```
 */
export function readTraces(
  source: TraceInput,
  options: ReadTracesOptions = {},
): TraceReader {
  checkKnownKeys(OWNER, options, READ_OPTION_KEYS);
  const maxLineLength = checkedMaxLineLength(OWNER, options.maxLineLength);
  const chunkBytes = options.chunkBytes === undefined
    ? 65536
    : positiveInteger(OWNER, "chunkBytes", options.chunkBytes);
  for (const field of ["onSkip", "onWarning"] as const) {
    if (options[field] !== undefined) {
      functionOption(OWNER, field, options[field]);
    }
  }
  const { onSkip, onWarning } = options;
  if (typeof source === "string" || source instanceof URL) {
    return new Reader((stats) =>
      parseEntries(
        entriesOf(
          readEntryBatches(readFileChunks(source, { chunkBytes }), {
            maxLineLength,
            onWarning,
          }),
        ),
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
  } else if (isByteStream(source)) {
    return new Reader((stats) =>
      parseEntries(
        entriesOf(readEntryBatches(source, { maxLineLength, onWarning })),
        stats,
        onSkip,
      )
    );
  } else {
    throw new PssConfigError(
      "source",
      source,
      "readTraces' 'source' must be a path, a URL, a byte stream, a TraceSource or a Collector",
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
      skip(entry.position, rejectionReason(json));
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

function isByteStream(value: unknown): value is AsyncIterable<Uint8Array> {
  return value !== null && typeof value === "object" &&
    typeof (value as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] ===
      "function";
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
 * import assert from "node:assert/strict";
 * import { readNdjsonEntries } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "{}\n");
 * const entries = await Array.fromAsync(readNdjsonEntries(path));
 * assert.deepEqual(entries.map((entry) => [entry.position, entry.text]), [["line 1", "{}"]]);
 * await Deno.remove(path);
 * ```
 */
export async function* readNdjsonEntries(
  path: string | URL,
  options: ReadNdjsonEntriesOptions = {},
): AsyncGenerator<RawEntry> {
  const maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  const chunks = readFileChunks(path, { chunkBytes: options.chunkBytes });
  const reason = lineTooLong(maxLineLength);
  for await (
    const { lines, first, cut } of splitLineBatches(chunks, { maxLineLength })
  ) {
    for (let i = 0; i < lines.length; i++) {
      const position = `line ${first + i}`;
      yield cut.includes(i)
        ? { text: lines[i], position, skipReason: reason }
        : { text: lines[i], position };
    }
  }
}

/**
 * Options for {@linkcode readFileChunks}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileChunks, type ReadFileChunksOptions } from "./read.ts";
 * let size: number | undefined;
 * const options: ReadFileChunksOptions = { chunkBytes: 2, onSize: (bytes) => size = bytes };
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abcde");
 * const lengths: number[] = [];
 * for await (const chunk of readFileChunks(path, options)) lengths.push(chunk.length);
 * assert.equal(size, 5);
 * assert.equal(lengths.reduce((a, b) => a + b), 5);
 * await Deno.remove(path);
 * ```
 */
export interface ReadFileChunksOptions {
  /**
   * Bytes read at a time.
   * @default {65536}
   */
  chunkBytes?: number;
  /** Told the size that will be read, once known; not called for a pipe. */
  onSize?: (bytes: number) => void;
  /**
   * Read every chunk into the same buffer: each yielded chunk is then valid
   * only until the next is asked for. Saves allocating (and the runtime
   * zeroing and collecting) a fresh buffer per chunk.
   * @default {false}
   */
  reuseBuffer?: boolean;
  /**
   * A free buffer to read the next chunk into (at least `chunkBytes`
   * long), or `undefined` to allocate one: lets a reader whose chunks are
   * handed off (to a worker) recycle them when they come back.
   * @default {undefined}
   */
  recycled?: () => Uint8Array | undefined;
}

/**
 * Reads a file's bytes in chunks: a regular file up to the size it had when
 * reading started (measured under a shared `flock`, so a batch being
 * appended is read whole or not at all), a named pipe until its writers
 * close it.
 *
 * @param path The file's path or `file:` URL.
 * @param options See {@linkcode ReadFileChunksOptions}.
 * @returns The chunks; rejects with the runtime's error when the file
 * cannot be opened or read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileChunks } from "./read.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "abc");
 * let bytes = 0;
 * for await (const chunk of readFileChunks(path)) bytes += chunk.length;
 * assert.equal(bytes, 3);
 * await Deno.remove(path);
 * ```
 */
export async function* readFileChunks(
  path: string | URL,
  options: ReadFileChunksOptions = {},
): AsyncGenerator<Uint8Array> {
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
      if (Number.isFinite(remaining)) options.onSize?.(remaining);
    }
    const shared = options.reuseBuffer
      ? new Uint8Array(Math.min(chunkBytes, remaining))
      : undefined;
    while (remaining > 0) {
      const size = Math.min(chunkBytes, remaining);
      const free = shared ?? options.recycled?.();
      const buffer = free === undefined || free.length < size
        ? new Uint8Array(size)
        : free.length === size
        ? free
        : free.subarray(0, size);
      const count = await file.read(buffer);
      if (count === 0) return;
      remaining -= count;
      yield count === buffer.length ? buffer : buffer.subarray(0, count);
    }
  } finally {
    file.close();
  }
}

/**
 * The entries of one chunk of a trace file, handed over together so that
 * readers loop over an array rather than await each entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EntryBatch, readEntryBatches } from "./read.ts";
 * const bytes = new TextEncoder().encode('[{"name":"a"},{"name":"b"}]');
 * const batches: EntryBatch[] = await Array.fromAsync(readEntryBatches(ReadableStream.from([bytes])));
 * assert.deepEqual(batches.map((b) => [b.unit, b.first, b.texts.length]), [["entry", 1, 2]]);
 * ```
 */
export interface EntryBatch {
  /** The entries' JSON texts. */
  texts: string[];
  /** The 1-based number of the first entry (a line number for NDJSON). */
  first: number;
  /** What the number counts: NDJSON lines or JSON-document entries. */
  unit: "line" | "entry";
  /** Indices (into `texts`) of entries to skip with `cutReason`. */
  cut: number[];
  /** Why the entries in `cut` are skipped. */
  cutReason: string;
}

/**
 * Options for {@linkcode readEntryBatches}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readEntryBatches, type ReadEntryBatchesOptions } from "./read.ts";
 * const warnings: string[] = [];
 * const options: ReadEntryBatchesOptions = { onWarning: (message) => warnings.push(message) };
 * const bytes = new TextEncoder().encode('[{"name":"a"}');
 * const batches = await Array.fromAsync(readEntryBatches(ReadableStream.from([bytes]), options));
 * assert.deepEqual(batches.map((batch) => batch.texts), [['{"name":"a"}']]);
 * assert.match(warnings[0], /]/); // the closing ']' is missing
 * ```
 */
export interface ReadEntryBatchesOptions {
  /**
   * Longest line or entry kept, in characters; longer ones are cut and
   * listed in `cut`.
   * @default {16777216}
   */
  maxLineLength?: number;
  /** Told when the document as a whole is damaged. */
  onWarning?: (message: string) => void;
  /** Told the format once the first bytes have shown it. */
  onFormat?: (format: TraceFileFormat) => void;
}

/**
 * How a trace file is written: NDJSON (one trace per line) or a JSON
 * document, each possibly gzip-compressed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readEntryBatches, type TraceFileFormat } from "./read.ts";
 * let format: TraceFileFormat | undefined;
 * const bytes = new TextEncoder().encode('{"traces": [{"name": "a"}]}');
 * await Array.fromAsync(readEntryBatches(ReadableStream.from([bytes]), { onFormat: (f) => format = f }));
 * assert.deepEqual(format, { document: true, gzip: false });
 * ```
 */
export interface TraceFileFormat {
  /** Whether the text is a JSON document (`[…]` or `{"traces": […]}`). */
  document: boolean;
  /** Whether the bytes were gzip-compressed. */
  gzip: boolean;
}

/**
 * Splits a trace file's bytes into entries: gzip is told by its first two
 * bytes and decompressed as it streams (`DecompressionStream`); a JSON
 * document (first non-blank character `[`, or `{` starting an object with a
 * `traces` array) is split element by element; anything else is NDJSON.
 *
 * @param bytes The file's bytes; a chunk may be reused once the next is
 * asked for.
 * @param options See {@linkcode ReadEntryBatchesOptions}.
 * @returns The batches, in order; rejects when the gzip data is corrupt.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readEntryBatches } from "./read.ts";
 * const bytes = new TextEncoder().encode('{"name":"a"}\n{"name":"b"}\n');
 * const batches = await Array.fromAsync(readEntryBatches(ReadableStream.from([bytes])));
 * assert.deepEqual(batches.map((batch) => [batch.unit, batch.texts.length]), [["line", 2]]);
 * ```
 */
export async function* readEntryBatches(
  bytes: AsyncIterable<Uint8Array>,
  options: ReadEntryBatchesOptions = {},
): AsyncGenerator<EntryBatch> {
  const maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  const iterator = bytes[Symbol.asyncIterator]();
  let first = await iterator.next();
  while (!first.done && first.value.length === 0) first = await iterator.next();
  if (first.done) return;
  const head = first.value;
  const gzip = head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
  const rest: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => iterator,
  };
  const raw = prepend(head, rest);
  // The decompressor may hold a chunk while the next is read: give it
  // copies, as a source may reuse its buffer (compressed chunks are small).
  const plain = gzip
    ? ReadableStream.from(copies(raw)).pipeThrough(
      new DecompressionStream("gzip") as unknown as ReadableWritablePair<
        Uint8Array,
        Uint8Array
      >,
    )
    : raw;
  const text = decodeText(plain);
  // Buffer text until the format is known: the first non-blank character,
  // and for `{`, whether the object is a document or an NDJSON record.
  const seen: string[] = [];
  const textIterator = text[Symbol.asyncIterator]();
  let probe: JsonElementSplitter | undefined;
  let document = false;
  let decided = false;
  const pending: EntryBatch[] = [];
  let seenLength = 0;
  while (!decided) {
    const next = await textIterator.next();
    if (next.done) break;
    const chunk = next.value;
    seen.push(chunk);
    seenLength += chunk.length;
    if (probe === undefined) {
      const trimmed = chunk.trimStart();
      if (trimmed === "") continue;
      const start = trimmed.charCodeAt(0);
      if (start === 91 /* [ */) {
        document = true;
        decided = true;
        break;
      }
      if (start !== 123 /* { */) {
        decided = true;
        break;
      }
      probe = new JsonElementSplitter(maxLineLength);
    }
    const batch = probe.push(chunk);
    if (batch.texts.length > 0) pending.push(entryBatch(batch, ""));
    if (probe.foundTraces) {
      document = true;
      decided = true;
    } else if (probe.isRecord || seenLength > maxLineLength) {
      decided = true;
    }
  }
  options.onFormat?.({ document, gzip });
  const restText: AsyncIterable<string> = {
    [Symbol.asyncIterator]: () => textIterator,
  };
  if (!document) {
    const lines = splitLineBatches(prependAll(seen, restText), {
      maxLineLength,
    });
    const reason = lineTooLong(maxLineLength);
    for await (const { lines: texts, first, cut } of lines) {
      yield { texts, first, unit: "line", cut, cutReason: reason };
    }
    return;
  }
  let splitter = probe;
  if (splitter === undefined) {
    splitter = new JsonElementSplitter(maxLineLength);
    for (const chunk of seen) {
      const batch = splitter.push(chunk);
      if (batch.texts.length > 0) pending.push(entryBatch(batch, ""));
    }
  }
  yield* pending;
  const reason = `entry longer than ${maxLineLength} characters`;
  for await (const chunk of restText) {
    const batch = splitter.push(chunk);
    if (batch.texts.length > 0) yield entryBatch(batch, reason);
  }
  const { partial, end } = splitter.end();
  if (partial !== undefined) {
    yield {
      texts: [partial],
      first: splitter.count,
      unit: "entry",
      cut: [],
      cutReason: reason,
    };
  }
  const problems: string[] = [];
  if (end.truncated !== undefined) problems.push(end.truncated);
  if (end.trailing) problems.push("text follows the end of the document");
  if (problems.length > 0) {
    try {
      options.onWarning?.(
        `the JSON document is damaged: ${
          problems.join("; ")
        } (read ${splitter.count} ${
          splitter.count === 1 ? "entry" : "entries"
        })`,
      );
    } catch {
      // A reporting hook must not stop the read.
    }
  }
}

function entryBatch(
  batch: { texts: string[]; first: number; cut: number[] },
  reason: string,
): EntryBatch {
  return {
    texts: batch.texts,
    first: batch.first,
    unit: "entry",
    cut: batch.cut,
    cutReason: reason,
  };
}

async function* prepend(
  head: Uint8Array,
  rest: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  yield head;
  yield* rest;
}

async function* copies(
  chunks: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield chunk.slice();
}

async function* prependAll(
  head: string[],
  rest: AsyncIterable<string>,
): AsyncGenerator<string> {
  yield* head;
  yield* rest;
}

async function* decodeText(
  bytes: AsyncIterable<Uint8Array>,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  for await (const chunk of bytes) {
    const text = decoder.decode(chunk, { stream: true });
    if (text !== "") yield text;
  }
  const tail = decoder.decode();
  if (tail !== "") yield tail;
}

async function* entriesOf(
  batches: AsyncIterable<EntryBatch>,
): AsyncGenerator<RawEntry> {
  for await (const { texts, first, unit, cut, cutReason } of batches) {
    for (let i = 0; i < texts.length; i++) {
      const position = `${unit} ${first + i}`;
      yield cut.includes(i)
        ? { text: texts[i], position, skipReason: cutReason }
        : { text: texts[i], position };
    }
  }
}

/** A short rendering of a rejected value for messages. */
function shown(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? "nothing" : JSON.stringify(value) ?? "nothing";
  } catch {
    text = String(value);
  }
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/**
 * Why {@linkcode traceFromJson} rejects `value`, naming the field and the
 * value: `"duration must be a finite number ≥ 0, got -1"`.
 *
 * @param value A parsed JSON entry that `traceFromJson` rejected.
 * @returns The reason, one line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rejectionReason } from "./read.ts";
 * assert.equal(rejectionReason({ name: "a", duration: -1 }), "duration must be a finite number ≥ 0, got -1");
 * assert.equal(rejectionReason([1, 2]), "expected a JSON object, got an array");
 * ```
 */
export function rejectionReason(value: unknown): string {
  if (value === null || typeof value !== "object") {
    return `expected a JSON object, got ${shown(value)}`;
  }
  if (Array.isArray(value)) return "expected a JSON object, got an array";
  const record = value as Record<string, unknown>;
  const own = (key: string): unknown =>
    Object.hasOwn(record, key) ? record[key] : undefined;
  const check = (key: string, raw: unknown): string | undefined => {
    if (raw === undefined) return undefined;
    const number = parseWireNumber(raw);
    return number === undefined || !Number.isFinite(number) || number < 0
      ? `${key} must be a finite number ≥ 0, got ${shown(raw)}`
      : undefined;
  };
  const metadata = own("metadata");
  const lag = metadata !== null && typeof metadata === "object" &&
      Object.hasOwn(metadata, "lag")
    ? (metadata as Record<string, unknown>).lag
    : undefined;
  return check("duration", own("duration")) ??
    check("memory", own("memory")) ??
    check("wait_time", own("wait_time")) ??
    check("metadata.lag", lag) ??
    "not a valid pypss trace";
}
