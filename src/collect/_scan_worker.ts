/**
 * A worker of {@linkcode scanTraces}' parallel read: decodes each chunk of
 * whole NDJSON lines it is sent, parses every line and sends back the log
 * of what each line holds ({@linkcode scanChunk}), its columns transferred.
 *
 * @module
 */

import { type ChunkLog, OpLog, scanChunk } from "./_scan_core.ts";

/** One chunk to read. */
export interface ChunkJob {
  /** Its place in the file: logs are replayed in this order. */
  id: number;
  /** The start of its first line, carried over from the previous chunk. */
  prefix: Uint8Array | undefined;
  /** Whole lines (the last may lack its newline at the end of the file). */
  bytes: Uint8Array;
  /** The wire field that keys groups; `""` for none. */
  groupKey: string;
  /** Longest line kept, in characters. */
  maxLineLength: number;
}

interface WorkerScope {
  onmessage: ((event: MessageEvent<ChunkJob>) => void) | null;
  postMessage(
    message: ChunkAnswer | WorkerReady,
    transfer?: ArrayBuffer[],
  ): void;
}

/** What a worker sends once it has loaded, before any answer. */
export interface WorkerReady {
  /** Always true. */
  ready: true;
}

/** What a worker answers: the log, and the chunk's buffer to read into again. */
export interface ChunkAnswer extends ChunkLog {
  /** The buffer the chunk came in. */
  buffer: ArrayBuffer;
}

const scope = globalThis as unknown as WorkerScope;
// A byte-order mark is the file's business, stripped once by the reader;
// inside the file it is a character like any other, as the serial reader
// decodes it.
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Text decoded at a time: a chunk is decoded in pieces of about this many
 * bytes, cut at line ends, so that each piece is an ordinary young string
 * rather than a megabyte in the large-object space, which only a full
 * collection frees (a worker's memory grew with the file on Deno).
 */
const PIECE_BYTES = 48 * 1024;

scope.onmessage = (event: MessageEvent<ChunkJob>): void => {
  const { id, prefix, bytes, groupKey, maxLineLength } = event.data;
  const log = new OpLog();
  let start = 0;
  let head = prefix === undefined
    ? ""
    : decoder.decode(prefix, { stream: true });
  while (start < bytes.length) {
    const newline = bytes.indexOf(0x0a, start + PIECE_BYTES);
    const end = newline === -1 ? bytes.length : newline + 1;
    const text = head + decoder.decode(bytes.subarray(start, end));
    head = "";
    scanChunk(text, groupKey, maxLineLength, log);
    start = end;
  }
  if (head !== "") scanChunk(head, groupKey, maxLineLength, log);
  const buffer = bytes.buffer as ArrayBuffer;
  const result: ChunkAnswer = { ...log.finish(id), buffer };
  scope.postMessage(result, [
    result.ops.buffer as ArrayBuffer,
    result.numbers.buffer as ArrayBuffer,
    result.refs.buffer as ArrayBuffer,
    buffer,
  ]);
};

scope.postMessage({ ready: true });
