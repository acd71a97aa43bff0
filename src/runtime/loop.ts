/**
 * Event-loop lag probes: how late the event loop runs a timer.
 *
 * One source serves every runtime: a timer-drift probe (an unref'd
 * `setInterval` checked against `performance.now()`). The alternatives were
 * measured here (Deno 2.9.6, Bun 1.4.5, a 200 ms busy block) and left out:
 *
 * - `monitorEventLoopDelay` from `node:perf_hooks`: Deno's exists but saw
 *   at most 0.007 ms of the 200 ms block, so it cannot be trusted. Bun's saw
 *   it (199 ms) but cost as much CPU as the timer probe (3–5 ms per second
 *   at a 20 ms resolution, both), needs a `node:` module, and cannot be read
 *   between two of its ticks, so a block that ends just before the last
 *   sample is lost.
 * - `performance.eventLoopUtilization()`: zeros on both runtimes.
 *
 * The timer probe gives the same meaning of "lag" on every runtime, so
 * scores from Deno and Bun compare.
 *
 * @module
 */

import { unrefTimer } from "./timer.ts";

/**
 * Which mechanism measures event-loop lag: on Deno and Bun alike, the drift
 * of a probe timer.
 *
 * @example
 * ```ts
 * import { type LagSource, startAsyncMonitoring } from "@pss/pss";
 * import assert from "node:assert/strict";
 * using monitor = startAsyncMonitoring();
 * const source: LagSource = monitor.source;
 * assert.equal(source, "timer-drift");
 * ```
 */
export type LagSource = "timer-drift";

/**
 * Measures event-loop lag continuously and hands out the worst delay seen
 * since the previous read.
 *
 * @example
 * ```ts
 * import { createLagProbe } from "./loop.ts";
 * import assert from "node:assert/strict";
 * const probe = createLagProbe(20);
 * await new Promise((resolve) => setTimeout(resolve, 50));
 * assert.ok(probe.takeMaxLagMs() >= 0);
 * probe.stop();
 * ```
 */
export interface LagProbe {
  /** The mechanism in use. */
  readonly source: LagSource;
  /** The probe period in milliseconds (how often the loop is checked). */
  readonly resolutionMs: number;
  /**
   * The largest delay, in milliseconds, with which the event loop ran the
   * probe since the previous call (or since creation), including how
   * overdue the probe is right now; then starts a new window. Never
   * negative, never throws.
   */
  takeMaxLagMs(): number;
  /** Clears the probe's timer. Idempotent. */
  stop(): void;
}

/**
 * Creates a timer-drift probe: an unref'd `setInterval` every
 * `resolutionMs` whose lateness (time since its previous tick minus
 * `resolutionMs`) is the lag. A busy block of B ms is seen as a delay
 * between B − `resolutionMs` and B. The timer never keeps the process
 * alive.
 *
 * @param resolutionMs Probe period in milliseconds (≥ 1).
 * @returns A running probe.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createTimerLagProbe } from "./loop.ts";
 * const probe = createTimerLagProbe(20);
 * assert.equal(probe.resolutionMs, 20);
 * assert.ok(probe.takeMaxLagMs() >= 0);
 * probe.stop();
 * ```
 */
export function createTimerLagProbe(resolutionMs: number): LagProbe {
  let last = performance.now();
  let maxLagMs = 0;
  let handle: ReturnType<typeof setInterval> | undefined = unrefTimer(
    setInterval(() => {
      const now = performance.now();
      const lag = now - last - resolutionMs;
      if (lag > maxLagMs) maxLagMs = lag;
      last = now;
    }, resolutionMs),
  );
  return {
    source: "timer-drift",
    resolutionMs,
    takeMaxLagMs(): number {
      const now = performance.now();
      const overdue = now - last - resolutionMs;
      let result = maxLagMs;
      if (overdue > 0) {
        if (overdue > result) result = overdue;
        // The probe's next tick would count this delay again: move its
        // reference so that tick measures only what comes after now.
        last = now - resolutionMs;
      }
      maxLagMs = 0;
      return result > 0 ? result : 0;
    },
    stop(): void {
      if (handle === undefined) return;
      clearInterval(handle);
      handle = undefined;
    },
  };
}

/**
 * Creates the lag probe for the runtime this process runs on (the timer
 * probe everywhere; see the module documentation for why).
 *
 * @param resolutionMs Probe period in milliseconds (≥ 1).
 * @returns A running probe.
 *
 * @example
 * ```ts
 * import { createLagProbe } from "./loop.ts";
 * import assert from "node:assert/strict";
 * const probe = createLagProbe(20);
 * assert.equal(probe.source, "timer-drift");
 * probe.stop();
 * ```
 */
export function createLagProbe(resolutionMs: number): LagProbe {
  return createTimerLagProbe(resolutionMs);
}
