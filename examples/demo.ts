/**
 * The pss demo: the first two pypss examples, in TypeScript.
 *
 * A `critical_op` with 10–20 ms of jitter and a 5 % failure rate runs 100
 * times; a cache lookup block takes a `cache_hit` or `cache_miss` path; an
 * event-loop monitor watches the loop. Then the traces are scored and the
 * report is printed, with one row per operation.
 *
 * Run it with `deno task demo` (or `bun examples/demo.ts`).
 *
 * @module
 */

import {
  computePss,
  computePssByName,
  globalCollector,
  monitorBlock,
  monitorFunction,
  renderReportText,
  startAsyncMonitoring,
} from "../mod.ts";

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

// 1. Mark the code you care about.
const criticalOperation = monitorFunction("critical_op")(async () => {
  await sleep(10 + Math.random() * 10); // work with some jitter
  if (Math.random() < 0.05) throw new Error("Random failure!");
});

const cache = new Map<number, string>();
function getUserData(userId: number): string {
  using block = monitorBlock("get_user_data");
  const cached = cache.get(userId);
  if (cached !== undefined) {
    block.tag("cache_hit");
    return cached;
  }
  block.tag("cache_miss");
  const user = `user-${userId}`.repeat(50); // "load" it
  cache.set(userId, user);
  return user;
}

// 2. Run the workload, with the event loop watched.
console.log("Running workload...");
{
  using _loop = startAsyncMonitoring({ intervalMs: 100 });
  for (let i = 0; i < 100; i++) {
    try {
      await criticalOperation();
    } catch {
      // The failure is recorded in the trace; the workload goes on.
    }
    getUserData(Math.floor(Math.random() * 20));
  }
}

// 3. Score the traces and print the report.
const traces = await globalCollector.traces();
console.log(
  renderReportText(computePss(traces), { byName: computePssByName(traces) }),
);
