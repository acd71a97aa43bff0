/**
 * The collector contract shared by every place traces can go.
 *
 * @module
 */

import type { Trace } from "../trace.ts";

/**
 * Where instrumentation sends traces.
 *
 * `add` is synchronous, O(1) and never throws: shipping, if any, happens in
 * the background. `traces()` returns what the collector can read back (for
 * shipping collectors, from their destination). `close()` is idempotent and
 * `[Symbol.asyncDispose]` calls it, so `await using` works.
 *
 * @example A collector that only counts
 * ```ts
 * import { type Collector, monitorBlock, type Trace } from "@pss/pss";
 * import assert from "node:assert/strict";
 * class CountingCollector implements Collector {
 *   count = 0;
 *   add(_trace: Trace): void { this.count++; }
 *   traces(): Promise<Trace[]> { return Promise.resolve([]); }
 *   clear(): Promise<void> { this.count = 0; return Promise.resolve(); }
 *   flush(): Promise<void> { return Promise.resolve(); }
 *   close(): Promise<void> { return Promise.resolve(); }
 *   [Symbol.asyncDispose](): Promise<void> { return this.close(); }
 * }
 * const collector = new CountingCollector();
 * { using _ = monitorBlock("op", { collector }); }
 * assert.equal(collector.count, 1);
 * ```
 */
export interface Collector extends AsyncDisposable {
  /** Records one trace. Synchronous, O(1), never throws. */
  add(trace: Trace): void;
  /** Everything this collector can read back, oldest first. */
  traces(): Promise<Trace[]>;
  /** Forgets every trace this collector holds (or its destination holds). */
  clear(): Promise<void>;
  /** Resolves once everything added so far has reached its destination. */
  flush(): Promise<void>;
  /** Flushes, then releases timers and connections. Idempotent. */
  close(): Promise<void>;
  /**
   * Calls `observer` with every trace the collector accepts from now on, and
   * returns a function that removes it. Optional: the built-in collectors
   * have it.
   */
  observe?(observer: TraceObserver): () => void;
}

/**
 * Called with every trace a collector accepts; see
 * {@linkcode MemoryCollector.observe}.
 *
 * @example
 * ```ts
 * import { type TraceObserver, MemoryCollector } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const seen: string[] = [];
 * const log: TraceObserver = (trace) => seen.push(trace.name);
 * const collector = new MemoryCollector();
 * collector.observe(log);
 * collector.add({ name: "op" });
 * assert.deepEqual(seen, ["op"]);
 * ```
 */
export type TraceObserver = (trace: Trace) => void;
