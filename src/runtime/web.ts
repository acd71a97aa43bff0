/**
 * The adapter for other runtimes (browsers, workers, edge runtimes): nothing
 * is measurable portably, so every probe says so with `undefined`.
 *
 * @module
 */

import type { RuntimeAdapter } from "./types.ts";

/**
 * Creates the portable adapter: no RSS, no CPU time, no heap size, no
 * async context.
 *
 * @returns The web adapter.
 *
 * @example
 * ```ts
 * import { createAdapter } from "./web.ts";
 * console.log(createAdapter().rssBytes()); // undefined
 * ```
 */
export function createAdapter(): RuntimeAdapter {
  return {
    name: "web",
    rssBytes: (): number | undefined => undefined,
    cpuTimeSeconds: (): number | undefined => undefined,
    heapUsedBytes: (): number | undefined => undefined,
    collectGarbage: (): boolean => false,
    createContextStorage: (): undefined => undefined,
    processId: (): undefined => undefined,
    hostName: (): undefined => undefined,
  };
}
