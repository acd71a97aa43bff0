/**
 * Timers that never keep the process alive.
 *
 * @module
 */

/** What `setTimeout`/`setInterval` return on Deno (a number) or Bun (a Timer object). */
export type TimerHandle = ReturnType<typeof setTimeout>;

const deno = (globalThis as { Deno?: { unrefTimer?(id: number): void } })
  .Deno;

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
 * import { unrefTimer } from "./timer.ts";
 * const id = unrefTimer(setInterval(() => {}, 1000));
 * clearInterval(id);
 * ```
 */
export function unrefTimer<T extends TimerHandle>(handle: T): T {
  try {
    const h = handle as unknown;
    if (typeof h === "number") deno?.unrefTimer?.(h);
    else if (h !== null && typeof h === "object" && "unref" in h) {
      (h as { unref(): void }).unref();
    }
  } catch {
    // Unref is an optimisation; failing to do it must not break the caller.
  }
  return handle;
}
