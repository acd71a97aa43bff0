/**
 * Timing Stability (TS): how steady and how tail-free latencies are.
 *
 * @module
 */

import { DEFAULT_CONFIG, type PssConfig } from "./config.ts";
import { cv, decay, exclusiveQuantiles } from "./stats.ts";

/**
 * Timing Stability of a set of durations (docs/scoring.md, section 5): with c the
 * coefficient of variation and r = p95 / p50 (1 when there is one value or
 * p50 is 0), TS = exp(−α·c) · 1 / (1 + β·max(0, r − 1)); 1 when empty.
 *
 * Returns the value exactly as pypss computes it, which float noise may push
 * a hair outside [0, 1]; {@linkcode computePss} clamps its breakdown.
 *
 * @param durations Durations in seconds; may be reordered in place (the
 * percentiles come from selection, not sorting).
 * @param config A complete configuration, as from `resolveConfig`.
 * @returns The Timing Stability score.
 *
 * @example
 * ```ts
 * import { timingStability } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.equal(timingStability(new Float64Array([0.1, 0.1, 0.1])), 1);
 * ```
 */
export function timingStability(
  durations: Float64Array,
  config: Readonly<PssConfig> = DEFAULT_CONFIG,
): number {
  const n = durations.length;
  if (n === 0) return 1;
  const variation = cv(durations);
  let tailRatio = 1;
  if (n > 1) {
    // pypss indexes the 99 cut points from 0: index 94 is cut point 95.
    const [p50, tail] = exclusiveQuantiles(durations, [
      50,
      config.scoreLatencyTailPercentile + 1,
    ]);
    if (p50 > 0) tailRatio = tail / p50;
  }
  const spread = decay(variation, config.alpha);
  const tailFactor = 1 / (1 + config.beta * Math.max(0, tailRatio - 1));
  return spread * tailFactor;
}
