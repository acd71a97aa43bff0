/**
 * The hand-written trace codec is wire-identical to the generated one
 * (protobuf-es), both ways, on random traces; and a trace whose bytes are
 * broken is refused on its own.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { random } from "../fixtures/random.ts";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  SubmitTracesRequestSchema,
  SubmitTracesResponseSchema,
} from "../../src/gen/pss/v1/trace_pb.ts";
import {
  encodeSubmitTraces,
  readTrace,
} from "../../src/collect/_trace_wire.ts";
import { traceToMessage } from "./_reference_codec.ts";
import { traceFromMessage, traceFromRead } from "../../src/agent/_decode.ts";
import { MemoryCollector } from "../../src/collect/memory.ts";
import { serveAgent } from "../../src/agent/mod.ts";
import type { Trace } from "../../src/trace.ts";

function randomTrace(next: () => number, i: number): Trace {
  const pick = <T>(values: T[]): T =>
    values[Math.floor(next() * values.length)];
  const maybe = <T>(value: T): T | undefined =>
    next() < 0.7 ? value : undefined;
  const text = (): string =>
    pick([
      "",
      "a",
      "db.query",
      "ünïcödé ✓",
      "x".repeat(200),
      'quote"s\n',
      "🚀",
    ]);
  const trace: Record<string, unknown> = { name: text() };
  const fields: [string, unknown][] = [
    ["traceId", maybe(`id-${i}`)],
    ["filename", maybe(text())],
    ["lineno", maybe(Math.floor(next() * 100_000))],
    ["module", maybe(text())],
    ["duration", maybe(next() * 10)],
    ["cpuTime", maybe(next())],
    ["waitTime", maybe(pick([0, next(), 1e-9]))],
    ["memory", maybe(Math.floor(next() * 2 ** 40))],
    ["memoryDiff", maybe(Math.floor((next() - 0.5) * 2 ** 30))],
    ["error", maybe(next() < 0.5)],
    ["exceptionType", maybe(text())],
    ["exceptionMessage", maybe(text())],
    ["branchTag", maybe(text())],
    ["timestamp", maybe(1.7e9 + next() * 1e6)],
    ["asyncOp", maybe(next() < 0.5)],
    ["yieldCount", maybe(Math.floor(next() * 1000))],
    ["systemMetric", maybe(next() < 0.3)],
    ["host", maybe(text())],
    ["pid", maybe(Math.floor(next() * 4_000_000))],
  ];
  for (const [key, value] of fields) {
    if (value !== undefined) trace[key] = value;
  }
  if (next() < 0.6) {
    trace.metadata = {
      ...(next() < 0.5
        ? { lag: next() / 10, active_tasks: 3, churn_rate: 0.5 }
        : {}),
      ...(next() < 0.5
        ? { tag: text(), n: next(), list: [1, "two", null] }
        : {}),
      ...(next() < 0.3 ? { nested: { deep: { deeper: [text()] } } } : {}),
    };
  }
  return trace as unknown as Trace;
}

/**
 * Where each trace of an encoded request is (`[start, end)`), checking
 * that every field is field 1 and that the traces fill the bytes.
 */
function traceSpans(bytes: Uint8Array): [number, number][] {
  const spans: [number, number][] = [];
  let pos = 0;
  while (pos < bytes.length) {
    assert.equal(bytes[pos++], 0x0a); // the tag of field 1
    let length = 0;
    let shift = 0;
    while (true) {
      const byte = bytes[pos++];
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (!(byte & 0x80)) break;
    }
    spans.push([pos, pos + length]);
    pos += length;
  }
  assert.equal(pos, bytes.length);
  return spans;
}

/** Every trace of an encoded request, read with the hand-written codec. */
function readAll(bytes: Uint8Array): ReturnType<typeof readTrace>[] {
  return traceSpans(bytes).map(([start, end]) => readTrace(bytes, start, end));
}

describe("hand-written trace codec", () => {
  const next = random(42);
  const traces = Array.from({ length: 400 }, (_, i) => randomTrace(next, i));

  test("encodeSubmitTraces writes exactly what protobuf-es writes", () => {
    const generated = toBinary(
      SubmitTracesRequestSchema,
      create(SubmitTracesRequestSchema, { traces: traces.map(traceToMessage) }),
    );
    assert.deepEqual(encodeSubmitTraces(traces), generated);
  });

  test("readTrace reads what protobuf-es reads", () => {
    const bytes = encodeSubmitTraces(traces);
    const decoded = fromBinary(SubmitTracesRequestSchema, bytes).traces;
    const spans = traceSpans(bytes);
    assert.equal(spans.length, traces.length);
    for (const [i, [start, end]] of spans.entries()) {
      const { $typeName: _, ...expected } = decoded[i];
      const read = readTrace(bytes, start, end);
      const present = Object.fromEntries(
        Object.entries(read).filter(([, value]) => value !== undefined),
      );
      // protobuf-es gives an empty map where readTrace leaves it out.
      const { metadata, ...rest } = expected;
      assert.deepEqual(
        present,
        Object.keys(metadata ?? {}).length === 0
          ? rest
          : { ...rest, metadata: { ...metadata } },
      );
    }
  });

  test("traceFromRead, which converts in place, makes what traceFromMessage makes, refusals included", () => {
    const next = random(99);
    const batch: Trace[] = [];
    for (let i = 0; i < 3000; i++) batch.push(randomTrace(next, i));
    batch.push(
      { name: "proto", metadata: { ["__proto__"]: "x", b: 2 } } as Trace,
      { name: "empty tag", branchTag: "" },
      { name: "negative", duration: -1, metadata: { a: 1 } },
      { name: "nan", memory: NaN },
      { name: "x".repeat(5000) },
      { name: "absurd", timestamp: 1e12 },
      {
        name: "loop",
        systemMetric: true,
        metadata: { lag: -1, active_tasks: 2 },
      },
    );
    // `__proto__` as an own key, as JSON.parse makes it.
    batch.push({
      name: "own proto",
      metadata: JSON.parse('{"__proto__": {"polluted": true}, "k": "v"}'),
    });
    const bytes = encodeSubmitTraces(batch);
    const spans = traceSpans(bytes);
    assert.equal(spans.length, batch.length);
    let inPlace = 0;
    for (const [i, [start, end]] of spans.entries()) {
      const fields = readTrace(bytes, start, end);
      const copied = traceFromMessage(readTrace(bytes, start, end));
      const made = traceFromRead(fields);
      assert.deepEqual(made, copied, `trace ${i}`);
      if (made === fields) inPlace++;
      if (typeof made === "object") {
        assert.equal(Object.getPrototypeOf(made), Object.prototype);
        if (made.metadata !== undefined) {
          assert.equal(
            Object.getPrototypeOf(made.metadata),
            Object.prototype,
            `trace ${i}: metadata's prototype`,
          );
        }
      }
    }
    assert.ok(inPlace > 1000, `only ${inPlace} converted in place`);
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  });

  test("short strings read through the intern table stay exact, across many distinct and colliding values", () => {
    // 20,000 distinct short names (far more than the table's slots, so
    // slots are overwritten), ASCII and not, invalid UTF-8 among them, each
    // read twice: a hit must never return another string's text.
    const names: string[] = [];
    for (let i = 0; i < 20_000; i++) {
      names.push(
        i % 3 === 0 ? `op.${i}` : i % 3 === 1 ? `é${i}✓` : `x`.repeat(i % 33),
      );
    }
    const batch = names.map((name, i) => ({
      name,
      module: `m${i % 7}`,
      branchTag: i % 2 === 0 ? "hit" : "miss",
    }));
    for (let round = 0; round < 2; round++) {
      const bytes = encodeSubmitTraces(batch);
      const decoded = fromBinary(SubmitTracesRequestSchema, bytes).traces;
      const read = readAll(bytes);
      assert.equal(read.length, names.length);
      for (let i = 0; i < names.length; i++) {
        assert.equal(read[i].name, names[i]);
        assert.equal(read[i].name, decoded[i].name);
        assert.equal(read[i].module, `m${i % 7}`);
        assert.equal(read[i].branchTag, i % 2 === 0 ? "hit" : "miss");
      }
    }
    // Invalid UTF-8 in a short string becomes U+FFFD, as protobuf-es reads
    // it, whether or not the bytes were seen before.
    const invalid = new Uint8Array([0x12, 0x03, 0x61, 0xff, 0x62]);
    for (let i = 0; i < 2; i++) {
      assert.equal(readTrace(invalid, 0, invalid.length).name, "a\ufffdb");
    }
  });

  test("metadata values are written as their JSON text, whatever their kind", () => {
    const values: unknown[] = [
      "plain",
      "",
      'with "quotes"',
      "back\\slash",
      "tab\tand\nnewline",
      "\u0001control",
      "ünï",
      "x".repeat(200),
      0,
      -0,
      1.5,
      1e21,
      -7,
      NaN,
      Infinity,
      true,
      false,
      null,
      [1, "two"],
      { nested: { a: 1 } },
    ];
    const batch: Trace[] = values.map((value, i) => ({
      name: `m${i}`,
      metadata: { value, gone: undefined, fn: () => 1 } as Record<
        string,
        unknown
      >,
    }));
    const generated = toBinary(
      SubmitTracesRequestSchema,
      create(SubmitTracesRequestSchema, { traces: batch.map(traceToMessage) }),
    );
    assert.deepEqual(encodeSubmitTraces(batch), generated);
    const read = readAll(encodeSubmitTraces(batch));
    for (let i = 0; i < values.length; i++) {
      // Values JSON leaves out take no entry at all.
      assert.deepEqual(Object.keys(read[i].metadata ?? {}), ["value"]);
    }
  });

  test("each encoding is a buffer of its own", () => {
    const first = encodeSubmitTraces([{ name: "first", duration: 1 }]);
    const copy = Uint8Array.from(first);
    encodeSubmitTraces([{ name: "second", duration: 2 }]);
    // A large batch makes the shared buffer grow; the earlier result stays.
    encodeSubmitTraces(
      Array.from({ length: 5000 }, (_, i) => ({ name: `big.${i}` })),
    );
    assert.deepEqual(first, copy);
    assert.equal(first.buffer.byteLength, first.byteLength);
  });

  test("readTrace throws on truncated or malformed bytes", () => {
    const bytes = encodeSubmitTraces([{ name: "op", duration: 1 }]);
    assert.throws(() => readTrace(bytes, 2, bytes.length - 3), /truncated/);
    assert.throws(
      () => readTrace(new Uint8Array([0x12, 0x05, 0x61]), 0, 3),
      /length past the end/,
    );
  });

  test("the agent refuses a trace with broken bytes on its own and keeps the rest", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink });
    const good = encodeSubmitTraces([{ name: "good", duration: 0.1 }]);
    // A trace whose only field claims 5 bytes of name but carries 1.
    const broken = new Uint8Array([0x0a, 0x03, 0x12, 0x05, 0x61]);
    const body = new Uint8Array([...good, ...broken, ...good]);
    const response = await fetch(
      agent.url + "/pss.v1.TraceService/SubmitTraces",
      {
        method: "POST",
        headers: { "content-type": "application/proto" },
        body,
      },
    );
    assert.equal(response.status, 200);
    const answer = fromBinary(
      SubmitTracesResponseSchema,
      new Uint8Array(await response.arrayBuffer()),
    );
    assert.equal(answer.accepted, 2);
    assert.equal(answer.rejected, 1);
    assert.equal(answer.rejections[0].index, 1);
    assert.match(answer.rejections[0].reason, /not a valid pss\.v1\.Trace/);
    assert.equal(sink.size, 2);
  });
});
