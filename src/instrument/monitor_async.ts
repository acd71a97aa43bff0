/**
 * `monitorAsync`: monitor an asynchronous block with `await using`.
 *
 * @module
 */

import { type MonitorOptions, startBlock } from "./_core.ts";

/**
 * A running asynchronous monitor. Disposing it (the end of the
 * `await using` scope) records one trace with `asyncOp: true`.
 *
 * As with {@linkcode MonitorBlock}, the disposer cannot see an exception:
 * mark failures with `fail(error)` or use {@linkcode monitorFunction}.
 *
 * @example
 * ```ts
 * import { type AsyncMonitorBlock, MemoryCollector, monitorAsync } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * async function lookup(id: string): Promise<string | undefined> {
 *   await using block: AsyncMonitorBlock = monitorAsync("cache.lookup", { collector });
 *   const hit = await block.wait(Promise.resolve(id === "a" ? "value" : undefined));
 *   block.tag(hit === undefined ? "miss" : "hit");
 *   return hit;
 * }
 * assert.equal(await lookup("a"), "value");
 * assert.equal(await lookup("b"), undefined);
 * assert.deepEqual(collector.snapshot().map((t) => t.branchTag), ["hit", "miss"]);
 * ```
 */
export interface AsyncMonitorBlock extends AsyncDisposable {
  /**
   * Sets the branch tag.
   *
   * @param branchTag Which code path was taken.
   * @returns This block.
   */
  tag(branchTag: string): AsyncMonitorBlock;
  /**
   * Marks the block as failed.
   *
   * @param error What was thrown.
   * @returns This block.
   */
  fail(error: unknown): AsyncMonitorBlock;
  /**
   * Awaits `value` and counts one yield of this block to the event loop in
   * the trace's `yieldCount`. Neither Deno nor Bun lets a library observe
   * the awaits of a call chain (no promise hooks), so `yieldCount` counts
   * only the awaits routed through `wait`, and is absent from the trace
   * when `wait` was never called.
   *
   * @param value A promise (or value) to await.
   * @returns A promise of its value.
   */
  wait<T>(value: T | PromiseLike<T>): Promise<Awaited<T>>;
  /** Ends the block now and records its trace (the same as disposing it). */
  end(): void;
}

/**
 * Starts monitoring an asynchronous block; the trace is recorded when the
 * returned object is disposed. Each call has its own monitor, so any number
 * of overlapping or nested blocks each record their own trace.
 *
 * As in pypss, the whole duration counts as waiting: the trace has
 * `asyncOp: true`, `waitTime = duration` and `cpuTime: 0` (process CPU time
 * cannot be attributed to one of many interleaved tasks). Other fields are
 * those of {@linkcode monitorBlock}.
 *
 * @param name Name of the operation.
 * @param options See {@linkcode MonitorOptions}.
 * @returns The running block. Never throws: an invalid or unknown option
 * is reported once to `onError` (source `"options"`) and the global setting
 * is used instead.
 *
 * @example
 * ```ts
 * import { MemoryCollector, monitorAsync } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * async function fetchData(): Promise<void> {
 *   await using _ = monitorAsync("fetch_data", { branchTag: "network_io", collector });
 *   await new Promise((resolve) => setTimeout(resolve, 5));
 * }
 * await Promise.all([fetchData(), fetchData()]);
 * assert.equal(collector.snapshot().length, 2);
 * assert.ok(collector.snapshot().every((t) => t.asyncOp && t.duration! > 0));
 * ```
 *
 * @example Count yields
 * ```ts
 * import { MemoryCollector, monitorAsync } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * async function load(): Promise<number> {
 *   await using block = monitorAsync("load", { collector });
 *   const a = await block.wait(Promise.resolve(1));
 *   const b = await block.wait(Promise.resolve(2));
 *   return a + b;
 * }
 * assert.equal(await load(), 3);
 * assert.equal(collector.snapshot()[0].yieldCount, 2);
 * ```
 */
export function monitorAsync(
  name: string,
  options?: MonitorOptions,
): AsyncMonitorBlock {
  return startBlock(name, options, true);
}
