/**
 * `monitorBlock`: monitor a synchronous block with `using`.
 *
 * @module
 */

import { Block, type MonitorOptions, startBlock } from "./_core.ts";
import { active } from "./settings.ts";

export type { MonitorOptions } from "./_core.ts";

/**
 * A running synchronous monitor. Disposing it (the end of the `using`
 * scope) records one trace; later calls do nothing.
 *
 * A disposer cannot see an exception leaving its scope (neither `using` nor
 * `DisposableStack` passes it; `SuppressedError` only appears when the
 * disposer itself throws), so mark failures with `fail(error)` or use
 * {@linkcode monitorFunction}, which records them by itself.
 *
 * @example
 * ```ts
 * import { MemoryCollector, type MonitorBlock, monitorBlock } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * function route(path: string): string {
 *   using block: MonitorBlock = monitorBlock("route", { collector });
 *   block.tag(path.startsWith("/api/") ? "api" : "static");
 *   return path.startsWith("/api/") ? "json" : "file";
 * }
 * assert.equal(route("/api/users"), "json");
 * assert.equal(collector.snapshot()[0].branchTag, "api");
 * ```
 */
export interface MonitorBlock extends Disposable {
  /**
   * Sets the branch tag, for blocks that learn their path inside.
   *
   * @param branchTag Which code path was taken.
   * @returns This block.
   */
  tag(branchTag: string): MonitorBlock;
  /**
   * Marks the block as failed; the trace records `error: true`, the error's
   * class name and message.
   *
   * @param error What was thrown.
   * @returns This block.
   */
  fail(error: unknown): MonitorBlock;
  /** Ends the block now and records its trace (the same as disposing it). */
  end(): void;
}

/**
 * Starts monitoring a synchronous block; the trace is recorded when the
 * returned object is disposed.
 *
 * The trace has `name`, `duration` (seconds, from `performance.now()`),
 * `memory` (the cached process RSS, read at most `memoryMaxAgeMs` before the
 * block ended), `error`, `branchTag`, `module`, `timestamp` (epoch seconds
 * of the start, as pypss), `waitTime` (0, or `max(0, duration − cpuTime)`
 * with `cpu: true`), `host`, `pid` and, inside {@linkcode withTags},
 * `metadata`.
 *
 * @param name Name of the operation.
 * @param options See {@linkcode MonitorOptions}.
 * @returns The running block. Never throws: an invalid or unknown option
 * is reported once to `onError` (source `"options"`) and the global setting
 * is used instead.
 *
 * @example Monitor a block
 * ```ts
 * import { MemoryCollector, monitorBlock } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * function processData(items: number[]): number {
 *   using _ = monitorBlock("data_processing", { branchTag: "batch_start", collector });
 *   return items.reduce((a, b) => a + b, 0);
 * }
 * assert.equal(processData([1, 2, 3]), 6);
 * assert.equal(collector.snapshot()[0].name, "data_processing");
 * ```
 *
 * @example Record a failure
 * ```ts
 * import { MemoryCollector, monitorBlock } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * function parse(text: string): unknown {
 *   using block = monitorBlock("parse", { collector });
 *   try {
 *     return JSON.parse(text);
 *   } catch (error) {
 *     block.fail(error);
 *     throw error;
 *   }
 * }
 * assert.deepEqual(parse("{}"), {});
 * assert.throws(() => parse("{"), SyntaxError);
 * const [ok, failed] = collector.snapshot();
 * assert.equal(ok.error, false);
 * assert.equal(failed.error, true);
 * assert.equal(failed.exceptionType, "SyntaxError");
 * ```
 */
export function monitorBlock(
  name: string,
  options?: MonitorOptions,
): MonitorBlock {
  // The plain block inline: small enough for the JIT to inline this call.
  return options === undefined && active.plain
    ? new Block(name, undefined, undefined, 3, undefined) // 3: keep all
    : startBlock(name, options, false);
}
