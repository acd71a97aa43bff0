/** Shared helpers of the instrumentation tests. */

import type { Trace } from "../../src/trace.ts";
import type { Collector } from "../../src/collect/collector.ts";

/** Spins the CPU for `ms` milliseconds (a lower bound on a block's duration). */
export function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Spin.
  }
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A collector that keeps every trace in an array. */
export class ArrayCollector implements Collector {
  readonly recorded: Trace[] = [];
  add(trace: Trace): void {
    this.recorded.push(trace);
  }
  traces(): Promise<Trace[]> {
    return Promise.resolve([...this.recorded]);
  }
  clear(): Promise<void> {
    this.recorded.length = 0;
    return Promise.resolve();
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A deterministic uniform generator (mulberry32) for sampling tests. */
export { random as seeded } from "../fixtures/random.ts";
