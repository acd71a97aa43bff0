import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { computePss } from "../../src/score/pss.ts";
import type { Trace } from "../../src/trace.ts";

const bun = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun;

/**
 * Bytes used by JS objects and array buffers. V8 counts buffers in
 * `external` as soon as they are allocated. Bun's JSC adds them to
 * `heapUsed` (and also to `external`) lazily, at its next collection, so on
 * Bun a sample follows a full collection and reads `heapUsed` alone.
 */
function sample(): number {
  if (bun !== undefined) {
    bun.gc(true);
    return process.memoryUsage().heapUsed;
  }
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

const N = 1_000_000;

/**
 * A million traces (one shared object, so the input itself is only the
 * array), where the first and the last trace sample the process's memory
 * when scoring reads their duration: the two samples bracket the extraction
 * pass, while every column array is alive.
 */
function instrumentedTraces(): {
  traces: Trace[];
  first: () => number;
  last: () => number;
} {
  let first: number | undefined;
  let last: number | undefined;
  const traces = new Array<Trace>(N).fill({
    name: "op",
    duration: 0.01,
    memory: 5e7,
    waitTime: 0.002,
    error: false,
    branchTag: "hit",
  });
  traces[0] = {
    name: "op",
    get duration() {
      first ??= sample();
      return 0.01;
    },
  };
  traces[N - 1] = {
    name: "op",
    error: true,
    branchTag: "miss",
    get duration() {
      last ??= sample();
      return 0.01;
    },
  };
  return { traces, first: () => first!, last: () => last! };
}

describe("computePss() memory", () => {
  test("allocates nothing per trace while reading a million traces", () => {
    const { traces, first, last } = instrumentedTraces();
    computePss(traces);
    const growth = last() - first();
    // A JS object or boxed number per trace would be ≥ 16 MB here.
    assert.ok(growth < 8 * N, `heap grew by ${growth} bytes during the pass`);
  });

  test("needs about three Float64Arrays of columns, no more", () => {
    const { traces, first } = instrumentedTraces();
    const before = sample();
    const report = computePss(traces);
    assert.equal(report.traceCount, N);
    const growth = first() - before;
    // durations, memory and wait times: 3 × 8 bytes per trace.
    assert.ok(
      growth < 24 * N + 4_000_000,
      `scoring took ${growth} bytes before the first trace`,
    );
  });
});
