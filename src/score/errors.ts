/**
 * Error Volatility (EV): how often operations fail, and in what bursts.
 *
 * @module
 */

import { DEFAULT_CONFIG, type PssConfig } from "./config.ts";
import { decay } from "./stats.ts";

/**
 * What Error Volatility needs from a sequence of outcomes: all of it fits in
 * three counters, so scoring keeps no per-trace error array.
 *
 * @example
 * ```ts
 * import { type ErrorSummary, errorVolatility } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const summary: ErrorSummary = { total: 100, errors: 1, longestRun: 1 };
 * assert.ok(errorVolatility(summary) < 1);
 * ```
 */
export interface ErrorSummary {
  /** How many outcomes (regular traces) there are. */
  total: number;
  /** How many of them are errors. */
  errors: number;
  /** The longest run of consecutive errors, in input order. */
  longestRun: number;
}

/**
 * Counts errors and the longest run of consecutive errors in a sequence of
 * outcomes (truthy = error).
 *
 * @param flags One entry per outcome, in order.
 * @returns The summary {@linkcode errorVolatility} takes.
 *
 * @example
 * ```ts
 * import { summarizeErrors } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.deepEqual(summarizeErrors([false, true, true, false, true]), {
 *   total: 5,
 *   errors: 3,
 *   longestRun: 2,
 * });
 * ```
 */
export function summarizeErrors(
  flags: Iterable<boolean | number>,
): ErrorSummary {
  let total = 0;
  let errors = 0;
  let run = 0;
  let longestRun = 0;
  for (const flag of flags) {
    total++;
    if (flag) {
      errors++;
      run++;
      if (run > longestRun) longestRun = run;
    } else {
      run = 0;
    }
  }
  return { total, errors, longestRun };
}

/**
 * Error Volatility (docs/scoring.md, section 5): 1 when there are no outcomes. With
 * m = errors / total and vmr the variance-to-mean ratio of the 0/1 flags,
 * EV = exp(−δ·(m + 0.5·vmr)); times 1 − ((m − 0.1) / 0.9)·0.5 when m exceeds
 * the spike threshold; times exp(−2δ·(R − 3 + 1)) when the longest run R
 * reaches the consecutive-error threshold. One error alone gives
 * e⁻¹ · 0.5 ≈ 0.18394.
 *
 * The vmr of 0/1 data depends only on the error count
 * (variance = k(n − k) / (n(n − 1))); only the run penalty sees bursts.
 *
 * @param summary Outcome count, error count and longest error run.
 * @param config A complete configuration, as from `resolveConfig`.
 * @returns The Error Volatility score.
 *
 * @example
 * ```ts
 * import { errorVolatility } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.equal(errorVolatility({ total: 10, errors: 0, longestRun: 0 }), 1);
 * ```
 */
export function errorVolatility(
  summary: ErrorSummary,
  config: Readonly<PssConfig> = DEFAULT_CONFIG,
): number {
  const { total, errors, longestRun } = summary;
  if (total === 0) return 1;
  const rate = errors / total;
  let vmr = 0;
  if (total > 1 && rate > 0) {
    // statistics.variance of 0/1 data, exact products then one rounding.
    const variance = (errors * (total - errors)) / (total * (total - 1));
    vmr = variance / rate;
  }
  let score = decay(rate + config.scoreErrorVmrMultiplier * vmr, config.delta);
  const spikeThreshold = config.errorSpikeThreshold;
  if (rate > spikeThreshold) {
    const impact = (rate - spikeThreshold) / (1 - spikeThreshold);
    score *= 1 - impact * config.scoreErrorSpikeImpactMultiplier;
  }
  const runThreshold = config.consecutiveErrorThreshold;
  if (longestRun >= runThreshold) {
    score *= decay(
      longestRun - runThreshold + 1,
      config.delta * config.scoreConsecutiveErrorDecayMultiplier,
    );
  }
  return score;
}
