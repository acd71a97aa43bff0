/**
 * The hand-written trace codec is wire-identical to the generated one
 * (protobuf-es), both ways, on random traces; and a trace whose bytes are
 * broken is refused on its own.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
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
import { MemoryCollector } from "../../src/collect/memory.ts";
import { serveAgent } from "../../src/agent/mod.ts";
import type { Trace } from "../../src/trace.ts";

/** A deterministic pseudo-random generator (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
    let pos = 0;
    for (let i = 0; i < traces.length; i++) {
      assert.equal(bytes[pos++], 0x0a);
      let length = 0;
      let shift = 0;
      while (true) {
        const byte = bytes[pos++];
        length += (byte & 0x7f) * 2 ** shift;
        shift += 7;
        if (!(byte & 0x80)) break;
      }
      const { $typeName: _, ...expected } = decoded[i];
      const read = readTrace(bytes, pos, pos + length);
      const present = Object.fromEntries(
        Object.entries(read).filter(([, value]) => value !== undefined),
      );
      assert.deepEqual(present, {
        ...expected,
        metadata: { ...expected.metadata },
      });
      pos += length;
    }
    assert.equal(pos, bytes.length);
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
