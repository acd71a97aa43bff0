/**
 * How fast is scoring? `computePss` over a million in-memory traces, against
 * the floor of merely reading every trace's duration once, and a full sort of
 * a million doubles (what selection avoids). pypss 1.3.1 takes 2.24 s for
 * the same work, measured on a 2-vCPU Xeon with CPython 3.11.
 *
 *     npx deno bench -A bench/score_bench.ts
 */

import { bench } from "../src/bench/mod.ts";
import { computePss, computePssByName } from "../src/score/pss.ts";
import type { Trace } from "../src/trace.ts";

const N = 1_000_000;

/** Deterministic xorshift32 in [0, 1), so every run scores the same data. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/**
 * Traces shaped like instrumented ones: every wire field set, five
 * operation names, a branch tag on a third of them, 1 % errors (with an
 * exception type), 2 % slow outliers, and a loop-lag system trace every
 * thousand.
 */
function makeTraces(count: number): Trace[] {
  const next = random(20261126);
  const names = ["db.query", "cache.get", "http.fetch", "render", "queue.pop"];
  const tags = ["cache_hit", "cache_hit", "cache_miss", "stale"];
  const traces: Trace[] = [];
  for (let i = 0; i < count; i++) {
    if (i % 1000 === 999) {
      traces.push({
        name: "__event_loop__",
        systemMetric: true,
        timestamp: 1.7e9 + i * 1e-3,
        metadata: { lag: next() * 0.004 },
      });
      continue;
    }
    const failed = next() < 0.01;
    const duration = (0.004 + next() * 0.002) * (next() < 0.02 ? 20 : 1);
    const trace: Trace = {
      traceId: `t${i}`,
      name: names[i % 5],
      filename: "app.ts",
      lineno: 10 + (i % 5),
      module: "app",
      duration,
      cpuTime: duration * 0.4,
      waitTime: duration * 0.6 * next(),
      memory: 5e7 + Math.floor(next() * 4e6),
      memoryDiff: 0,
      error: failed,
      timestamp: 1.7e9 + i * 1e-3,
      asyncOp: false,
      yieldCount: 0,
      systemMetric: false,
      metadata: {},
    };
    if (failed) {
      trace.exceptionType = "TimeoutError";
      trace.exceptionMessage = "deadline exceeded";
    }
    if (i % 3 === 0) trace.branchTag = tags[Math.floor(next() * 4)];
    traces.push(trace);
  }
  return traces;
}

const traces = makeTraces(N);
const durations = Float64Array.from(traces, (t) => t.duration ?? 0);
const tenth = traces.slice(0, N / 10);
let sink = 0;

bench({
  name: "read every duration once (floor)",
  group: "score 1,000,000 traces",
  baseline: true,
  fn() {
    let total = 0;
    for (let i = 0; i < traces.length; i++) total += traces[i].duration ?? 0;
    sink += total;
  },
});

bench({
  name: "Float64Array sort of 1,000,000 durations",
  group: "score 1,000,000 traces",
  fn() {
    sink += durations.slice().sort()[N >>> 1];
  },
});

bench({
  name: "computePss",
  group: "score 1,000,000 traces",
  fn() {
    sink += computePss(traces).pss;
  },
});

bench({
  name: "computePssByName (5 names)",
  group: "score 1,000,000 traces",
  fn() {
    sink += computePssByName(traces).length;
  },
});

bench({
  name: "read every duration once (floor)",
  group: "score 100,000 traces",
  baseline: true,
  fn() {
    let total = 0;
    for (let i = 0; i < tenth.length; i++) total += tenth[i].duration ?? 0;
    sink += total;
  },
});

bench({
  name: "computePss",
  group: "score 100,000 traces",
  fn() {
    sink += computePss(tenth).pss;
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === 0.5) console.log(sink); // keeps the work observable
});
