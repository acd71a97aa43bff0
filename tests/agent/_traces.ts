/**
 * Deterministic traces for the agent tests: the same inputs on the client
 * side and in the expected score.
 *
 * @module
 */

import type { Trace } from "../../src/trace.ts";

/** The `i`-th trace a client labelled `label` ships. */
export function clientTrace(label: string, i: number): Trace {
  if (i % 1000 === 999) {
    return {
      traceId: `${label}-${i}`,
      name: "__event_loop_health__",
      module: "pss.system",
      duration: 1,
      waitTime: (i % 7) / 1000,
      timestamp: 1_700_000_000 + i,
      asyncOp: true,
      systemMetric: true,
      metadata: { lag: (i % 7) / 1000, active_tasks: i % 5, churn_rate: 2.5 },
    };
  }
  return {
    traceId: `${label}-${i}`,
    name: `${label}.op${i % 4}`,
    filename: "/srv/app.ts",
    lineno: 10 + (i % 4),
    module: "app",
    duration: 0.01 + ((i * 7919) % 97) / 10_000,
    cpuTime: 0.004,
    waitTime: ((i * 31) % 13) / 1000,
    memory: 50_000_000 + (i % 100) * 1000,
    memoryDiff: (i % 3) - 1,
    error: i % 97 === 0,
    exceptionType: i % 97 === 0 ? "TimeoutError" : undefined,
    branchTag: i % 5 === 0 ? "cache_miss" : "cache_hit",
    timestamp: 1_700_000_000 + i / 100,
    asyncOp: i % 2 === 0,
    yieldCount: i % 3,
    metadata: { request: i, tags: ["a", "b"] },
  };
}
