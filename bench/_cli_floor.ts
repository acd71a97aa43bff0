/**
 * The floor of `pss score`: read a file's lines and `JSON.parse` each, and
 * nothing else, with the runtime's own file reads in chunks of 1 MiB (a
 * second argument changes it; 1 MiB was the fastest floor on Bun, and as
 * fast as any on Deno). Runs on Deno and Bun; prints the line count so the
 * work cannot be skipped.
 *
 * @module
 */

import { fileSystem } from "../src/runtime/fs.ts";

const args = (globalThis as { Deno?: { args: string[] } }).Deno?.args ??
  (globalThis as unknown as { process: { argv: string[] } }).process.argv
    .slice(2);
const path = args[0];
const chunkBytes = Number(args[1] ?? 1 << 20);
const file = await fileSystem.open(path, "read");
const decoder = new TextDecoder();
let pending = "";
let lines = 0;
let sink = 0;
const buffer = new Uint8Array(chunkBytes);
for (;;) {
  const count = await file.read(buffer);
  if (count === 0) break;
  const text = pending + decoder.decode(buffer.subarray(0, count), {
    stream: true,
  });
  let start = 0;
  let end = text.indexOf("\n");
  while (end !== -1) {
    const value = JSON.parse(text.slice(start, end));
    if (value.duration !== undefined) sink++;
    lines++;
    start = end + 1;
    end = text.indexOf("\n", start);
  }
  pending = text.slice(start);
}
file.close();
console.log(lines, sink);
