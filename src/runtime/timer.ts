/**
 * Timers that never keep the process alive.
 *
 * @module
 */

import { runtime } from "./adapter.ts";
import type { TimerHandle } from "./types.ts";

export type { TimerHandle } from "./types.ts";

/**
 * Lets the process exit even while `handle` is pending: `Deno.unrefTimer`
 * on Deno, the timer's own `unref()` on Bun. A no-op where neither exists.
 * Never throws.
 *
 * @param handle What `setTimeout` or `setInterval` returned.
 * @returns The same handle.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unrefTimer } from "./timer.ts";
 * const handle = setInterval(() => {}, 1000);
 * assert.equal(unrefTimer(handle), handle); // the same handle, for chaining
 * clearInterval(handle);
 * ```
 */
export function unrefTimer<T extends TimerHandle>(handle: T): T {
  return runtime.unrefTimer(handle);
}
