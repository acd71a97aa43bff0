import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Line, splitLines } from "../../src/collect/lines.ts";
import { PssConfigError } from "../../src/score/config.ts";

const encoder = new TextEncoder();

async function collect(
  chunks: (Uint8Array | string)[],
  maxLineLength?: number,
): Promise<Line[]> {
  const out: Line[] = [];
  const source = (async function* () {
    yield* chunks;
  })();
  for await (const line of splitLines(source, { maxLineLength })) {
    out.push(line);
  }
  return out;
}

function texts(lines: Line[]): string[] {
  return lines.map((line) => line.text);
}

describe("splitLines()", () => {
  test("splits on \\n and removes a \\r before it", async () => {
    const lines = await collect([encoder.encode("a\r\nb\nc\n")]);
    assert.deepEqual(texts(lines), ["a", "b", "c"]);
    assert.deepEqual(lines.map((l) => l.number), [1, 2, 3]);
  });

  test("yields a last line without a newline", async () => {
    assert.deepEqual(texts(await collect(["x\ny"])), ["x", "y"]);
  });

  test("keeps empty lines in the middle so numbers match the file", async () => {
    const lines = await collect(["a\n\n\nb\n"]);
    assert.deepEqual(texts(lines), ["a", "", "", "b"]);
    assert.equal(lines[3].number, 4);
  });

  test("joins a line split across many chunks, one byte at a time", async () => {
    const bytes = encoder.encode('{"name":"é€😀"}\r\nsecond\n');
    const chunks = [...bytes].map((b) => Uint8Array.of(b));
    assert.deepEqual(texts(await collect(chunks)), [
      '{"name":"é€😀"}',
      "second",
    ]);
  });

  test("handles \\r and \\n in different chunks", async () => {
    assert.deepEqual(texts(await collect(["a\r", "\nb"])), ["a", "b"]);
  });

  test("yields nothing for an empty stream", async () => {
    assert.deepEqual(await collect([]), []);
    assert.deepEqual(await collect([new Uint8Array(0)]), []);
  });

  test("cuts a line longer than maxLineLength and flags it", async () => {
    const lines = await collect(["abc", "defgh", "ij\nok\n", "zzzzzzzzz"], 4);
    assert.deepEqual(lines, [
      { text: "abcd", number: 1, overflow: true },
      { text: "ok", number: 2, overflow: false },
      { text: "zzzz", number: 3, overflow: true },
    ]);
  });

  test("flags an overlong line that ends inside one chunk", async () => {
    const lines = await collect(["123456\nab\n"], 4);
    assert.deepEqual(lines, [
      { text: "1234", number: 1, overflow: true },
      { text: "ab", number: 2, overflow: false },
    ]);
  });

  test("reads a ReadableStream of bytes", async () => {
    const stream = ReadableStream.from([encoder.encode("1\n2\n")]);
    const out: string[] = [];
    for await (const line of splitLines(stream)) out.push(line.text);
    assert.deepEqual(out, ["1", "2"]);
  });

  test("rejects a maxLineLength that is not a positive integer", () => {
    assert.throws(
      () => splitLines(ReadableStream.from([]), { maxLineLength: 0 }),
      (error: unknown) =>
        error instanceof PssConfigError &&
        error.message ===
          "Invalid pss configuration as splitLines' 'maxLineLength' must be a positive integer: got 0",
    );
  });
});
