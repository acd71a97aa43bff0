/**
 * Concurrency Chaos (CC): how erratic waiting is, and how laggy the event
 * loop.
 *
 * @module
 */

import { DEFAULT_CONFIG, type PssConfig } from "./config.ts";
import { cv, decay, mean, sum } from "./stats.ts";

/**
 * Concurrency Chaos (docs/scoring.md, section 5): starts at 1. With at least 2 wait times
 * whose mean is strictly greater than `concurrencyWaitThreshold`, it becomes
 * exp(−α·cv(waits)). When the mean event-loop lag ℓ̄ exceeds
 * `loopLagThreshold`, it is multiplied by 1 − min(1, `loopLagFactor`·ℓ̄).
 * Never below 0.
 *
 * The two means compared with thresholds are plain left-to-right sums
 * divided by the count, exactly as pypss computes them.
 *
 * @param waits Wait times in seconds, in input order (not reordered).
 * @param lags Event-loop lag samples in seconds.
 * @param config A complete configuration, as from `resolveConfig`.
 * @returns The Concurrency Chaos score.
 *
 * @example
 * ```ts
 * import { concurrencyChaos } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.equal(concurrencyChaos(new Float64Array([0.5, 0.5]), []), 1);
 * assert.equal(concurrencyChaos(new Float64Array(0), [0.1]), 0.5);
 * ```
 */
export function concurrencyChaos(
  waits: ArrayLike<number>,
  lags: ArrayLike<number>,
  config: Readonly<PssConfig> = DEFAULT_CONFIG,
): number {
  let score = 1;
  if (waits.length >= 2) {
    let meanWait = sum(waits) / waits.length;
    // pypss's plain mean, unless the sum overflowed (docs/scoring.md).
    if (!Number.isFinite(meanWait)) meanWait = mean(waits);
    if (meanWait > config.concurrencyWaitThreshold) {
      score = decay(cv(waits), config.alpha);
    }
  }
  if (lags.length > 0) {
    let meanLag = sum(lags) / lags.length;
    if (!Number.isFinite(meanLag)) meanLag = mean(lags);
    if (meanLag > config.loopLagThreshold) {
      score *= 1 - Math.min(1, meanLag * config.loopLagFactor);
    }
  }
  return Math.max(0, score);
}
