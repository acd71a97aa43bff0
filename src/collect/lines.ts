/**
 * Splits a stream of bytes or text into lines with bounded memory.
 *
 * @module
 */

import { PssConfigError } from "../score/config.ts";

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
 * import { splitLines } from "./lines.ts";
 * const bytes = new TextEncoder().encode("a\r\nb\nc");
 * for await (const line of splitLines(ReadableStream.from([bytes]))) {
 *   console.log(line.number, line.text); // 1 a, 2 b, 3 c
 * }
 * ```
 */
export function splitLines(
  chunks: AsyncIterable<Uint8Array | string>,
  options: SplitLinesOptions = {},
): AsyncGenerator<Line> {
  const maxLineLength = options.maxLineLength ?? 16 * 1024 * 1024;
  if (!Number.isSafeInteger(maxLineLength) || maxLineLength <= 0) {
    throw new PssConfigError(
      "maxLineLength",
      maxLineLength,
      "splitLines' 'maxLineLength' must be a positive integer",
    );
  }
  return split(chunks, maxLineLength);
}

async function* split(
  chunks: AsyncIterable<Uint8Array | string>,
  maxLineLength: number,
): AsyncGenerator<Line> {
  const decoder = new TextDecoder();
  let pending = "";
  let overflow = false;
  let number = 0;
  const finish = (text: string): Line => {
    if (text.endsWith("\r")) text = text.slice(0, -1);
    const line = { text, number: ++number, overflow };
    overflow = false;
    return line;
  };
  for await (const chunk of chunks) {
    const text = typeof chunk === "string"
      ? chunk
      : decoder.decode(chunk, { stream: true });
    let start = 0;
    let end = text.indexOf("\n");
    while (end !== -1) {
      const piece = text.slice(start, end);
      if (overflow) {
        yield finish(pending);
      } else if (pending.length + piece.length > maxLineLength) {
        overflow = true;
        yield finish((pending + piece).slice(0, maxLineLength));
      } else {
        yield finish(pending === "" ? piece : pending + piece);
      }
      pending = "";
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
  }
  if (!overflow) pending += decoder.decode();
  if (pending.length > maxLineLength) {
    pending = pending.slice(0, maxLineLength);
    overflow = true;
  }
  if (pending !== "" || overflow) yield finish(pending);
}
