/**
 * Splits a stream of bytes or text into lines with bounded memory.
 *
 * @module
 */

import { positiveInteger } from "../_options.ts";

/** One line of a stream, without its line terminator. */
export interface Line {
  /** The line's text; `\n` and a `\r` before it are removed. */
  text: string;
  /** 1-based line number in the stream. */
  number: number;
  /**
   * Whether the line was longer than `maxLineLength`: `text` then holds
   * only its first `maxLineLength` characters and the rest was discarded.
   */
  overflow: boolean;
}

/**
 * The lines of one chunk of a stream, handed over together so a reader
 * loops over an array rather than awaiting every line.
 */
export interface LineBatch {
  /** The lines' texts, without terminators. */
  lines: string[];
  /** The 1-based number of the first line. */
  first: number;
  /** Indices (into `lines`) of lines cut for being longer than the limit. */
  cut: number[];
}

/** Options for {@linkcode splitLines}. */
export interface SplitLinesOptions {
  /**
   * Longest line kept, in UTF-16 code units; longer lines are cut and
   * flagged with `overflow`, so one line without a newline cannot exhaust
   * memory.
   * @default {16777216}
   */
  maxLineLength?: number;
}

/** The longest line or entry the readers keep, by default: 16 Mi characters. */
export const DEFAULT_MAX_LINE_LENGTH = 16 * 1024 * 1024;

/** Why a line longer than `maxLineLength` characters was skipped. */
export function lineTooLong(maxLineLength: number): string {
  return `line longer than ${maxLineLength} characters`;
}

/**
 * A reader's `maxLineLength` option, checked, or the default.
 *
 * @throws {PssConfigError} When it is not a positive integer.
 */
export function checkedMaxLineLength(
  owner: string,
  value: number | undefined,
): number {
  return value === undefined
    ? DEFAULT_MAX_LINE_LENGTH
    : positiveInteger(owner, "maxLineLength", value);
}

/**
 * Yields the lines of `chunks` (UTF-8 bytes or strings), holding at most one
 * chunk plus one line in memory. Lines end with `\n` (a `\r` before it is
 * removed); a last line without a newline is yielded too, unless empty.
 * Empty lines in the middle are yielded, so line numbers match the file.
 *
 * @param chunks The stream, such as a `ReadableStream<Uint8Array>`.
 * @param options See {@linkcode SplitLinesOptions}.
 * @returns An async generator of {@linkcode Line}s.
 * @throws {PssConfigError} When `maxLineLength` is not a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitLines } from "./lines.ts";
 * const bytes = new TextEncoder().encode("a\r\nb\nc");
 * const lines = await Array.fromAsync(splitLines(ReadableStream.from([bytes])));
 * assert.deepEqual(lines.map((line) => [line.number, line.text]), [[1, "a"], [2, "b"], [3, "c"]]);
 * ```
 */
export function splitLines(
  chunks: AsyncIterable<Uint8Array | string>,
  options: SplitLinesOptions = {},
): AsyncGenerator<Line> {
  return flatten(
    splitBatches(
      chunks,
      checkedMaxLineLength("splitLines", options.maxLineLength),
    ),
  );
}

/**
 * Like {@linkcode splitLines}, but yields the lines of each chunk as one
 * {@linkcode LineBatch}: the fast path for reading millions of lines.
 *
 * @param chunks The stream, such as a `ReadableStream<Uint8Array>`.
 * @param options See {@linkcode SplitLinesOptions}.
 * @returns An async generator of batches (never empty ones).
 * @throws {PssConfigError} When `maxLineLength` is not a positive integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { splitLineBatches } from "./lines.ts";
 * const text = ["a\nb", "c\nd\n"];
 * const batches = await Array.fromAsync(splitLineBatches(ReadableStream.from(text)));
 * assert.deepEqual(batches.map((batch) => [batch.first, batch.lines]), [[1, ["a"]], [2, ["bc", "d"]]]);
 * ```
 */
export function splitLineBatches(
  chunks: AsyncIterable<Uint8Array | string>,
  options: SplitLinesOptions = {},
): AsyncGenerator<LineBatch> {
  return splitBatches(
    chunks,
    checkedMaxLineLength("splitLines", options.maxLineLength),
  );
}

async function* flatten(
  batches: AsyncGenerator<LineBatch>,
): AsyncGenerator<Line> {
  for await (const { lines, first, cut } of batches) {
    for (let i = 0; i < lines.length; i++) {
      yield { text: lines[i], number: first + i, overflow: cut.includes(i) };
    }
  }
}

const CR = 13;

async function* splitBatches(
  chunks: AsyncIterable<Uint8Array | string>,
  maxLineLength: number,
): AsyncGenerator<LineBatch> {
  const decoder = new TextDecoder();
  let pending = "";
  let overflow = false;
  let number = 0;
  for await (const chunk of chunks) {
    const text = typeof chunk === "string"
      ? chunk
      : decoder.decode(chunk, { stream: true });
    const lines: string[] = [];
    const cut: number[] = [];
    const first = number + 1;
    let start = 0;
    let end = text.indexOf("\n");
    while (end !== -1) {
      let line: string;
      if (overflow) {
        cut.push(lines.length);
        line = pending;
      } else if (pending.length + (end - start) > maxLineLength) {
        cut.push(lines.length);
        line = (pending + text.slice(start, end)).slice(0, maxLineLength);
      } else {
        const stop = end > start && text.charCodeAt(end - 1) === CR
          ? end - 1
          : end;
        line = pending === ""
          ? text.slice(start, stop)
          : end === start && pending.charCodeAt(pending.length - 1) === CR
          ? pending.slice(0, -1)
          : pending + text.slice(start, stop);
      }
      lines.push(line);
      number++;
      pending = "";
      overflow = false;
      start = end + 1;
      end = text.indexOf("\n", start);
    }
    if (start < text.length && !overflow) {
      pending += start === 0 ? text : text.slice(start);
      if (pending.length > maxLineLength) {
        pending = pending.slice(0, maxLineLength);
        overflow = true;
      }
    }
    if (lines.length > 0) yield { lines, first, cut };
  }
  if (!overflow) pending += decoder.decode();
  if (pending.length > maxLineLength) {
    pending = pending.slice(0, maxLineLength);
    overflow = true;
  }
  if (pending !== "" || overflow) {
    if (!overflow && pending.endsWith("\r")) pending = pending.slice(0, -1);
    yield { lines: [pending], first: number + 1, cut: overflow ? [0] : [] };
  }
}
