/**
 * Run as a child process by heap_test.ts: 1,000,000 monitored calls into a
 * bounded collector, with the heap measured after full collections before
 * and after. Prints one JSON line.
 */

import { monitorBlock } from "../../src/instrument/monitor_block.ts";
import { monitorFunction } from "../../src/instrument/monitor_function.ts";
import { runtime } from "../../src/runtime/adapter.ts";
import { MemoryCollector } from "../../src/collect/memory.ts";

const calls = Number(
  (globalThis as { process?: { argv: string[] } }).process
    ?.argv.at(-1),
) || 1_000_000;
const collector = new MemoryCollector({ maxTraces: 10_000 });
const add = monitorFunction("add", { collector, branchTag: "fn" })(
  (a: number, b: number) => a + b,
);
let sink = 0;

function work(n: number): void {
  for (let i = 0; i < n; i++) {
    if (i % 2 === 0) {
      using _ = monitorBlock("block", { collector, branchTag: "even" });
      sink += i;
    } else {
      sink = add(sink, 1);
    }
  }
}

function settledHeap(): number {
  for (let i = 0; i < 3; i++) runtime.collectGarbage();
  return runtime.heapUsedBytes() ?? NaN;
}

work(50_000); // Fill the ring and warm up the JIT.
const gc = runtime.collectGarbage();
const before = settledHeap();
work(calls);
const after = settledHeap();
console.log(JSON.stringify({
  runtime: runtime.name,
  gc,
  calls,
  kept: collector.size,
  heapBeforeBytes: before,
  heapAfterBytes: after,
  growthBytes: after - before,
  sink: sink > 0,
}));
