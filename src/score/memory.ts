/**
 * Memory Stability (MS): how steady memory use is, and how far it spikes.
 *
 * @module
 */

import { DEFAULT_CONFIG, type PssConfig } from "./config.ts";
import { decay, max, median, stdev } from "./stats.ts";

/**
 * Memory Stability of a set of memory samples (docs/scoring.md, section 5): 1 for fewer
 * than 2 samples. With med = median + ε and peak the maximum: when
 * med ≤ ε, 1 if peak is 0 and 0 otherwise; else with ρ = peak / med,
 * MS = exp(−γ·(stdev / med + ρ − 1)), times exp(−γ·(ρ − threshold)) when
 * ρ exceeds `memSpikeThresholdRatio`.
 *
 * Returns the value exactly as pypss computes it (tiny samples can give
 * 1.000000002); {@linkcode computePss} clamps its breakdown.
 *
 * @param samples Memory samples in bytes; may be reordered in place (the median
 * comes from selection, not sorting).
 * @param config A complete configuration, as from `resolveConfig`.
 * @returns The Memory Stability score.
 *
 * @example
 * ```ts
 * import { memoryStability } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.equal(memoryStability(new Float64Array([1e6, 1e6, 1.5e6])), 0.20652160049098758);
 * assert.equal(memoryStability(new Float64Array([0, 0, 5])), 0); // median 0, peak 5
 * ```
 */
export function memoryStability(
  samples: Float64Array,
  config: Readonly<PssConfig> = DEFAULT_CONFIG,
): number {
  if (samples.length < 2) return 1;
  const epsilon = config.scoreMemoryEpsilon;
  const peak = max(samples);
  const med = median(samples) + epsilon;
  if (med <= epsilon) return peak === 0 ? 1 : 0;
  const ratio = peak / med;
  let score = decay(stdev(samples) / med + (ratio - 1), config.gamma);
  if (ratio > config.memSpikeThresholdRatio) {
    score *= decay(ratio - config.memSpikeThresholdRatio, config.gamma);
  }
  return score;
}
