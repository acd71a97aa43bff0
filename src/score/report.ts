/**
 * The result types of scoring.
 *
 * @module
 */

/**
 * The five pillars, each unrounded in [0, 1] (1 is perfectly stable).
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const { breakdown } = computePss([{ name: "op", duration: 0.1 }]);
 * assert.equal(breakdown.timingStability, 1);
 * ```
 */
export interface PssBreakdown {
  /** Timing Stability (TS): latency spread and tail. */
  timingStability: number;
  /** Memory Stability (MS): memory spread and spikes. */
  memoryStability: number;
  /** Error Volatility (EV): error rate, spikes and bursts (1 means no errors). */
  errorVolatility: number;
  /** Branching Entropy (BE): how predictable the code paths are. */
  branchingEntropy: number;
  /** Concurrency Chaos (CC): wait-time spread and event-loop lag (1 means calm). */
  concurrencyChaos: number;
}

/**
 * The score of a set of traces, the counterpart of pypss's
 * `compute_pss_from_traces` result.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1 }, { name: "op", duration: 0.1 }]);
 * assert.equal(report.pss, 100);
 * assert.equal(report.traceCount, 2);
 * ```
 */
export interface PssReport {
  /** The Program Stability Score, an integer from 0 to 100. */
  pss: number;
  /** The five pillars, unrounded; rounding is the reports' job. */
  breakdown: PssBreakdown;
  /** Regular (non-system) traces that were scored. */
  traceCount: number;
  /** System traces that were used (those carrying a loop lag). */
  systemTraceCount: number;
  /** Traces rejected as malformed (docs/scoring.md, "Reading traces"), system ones included; never scored. */
  skippedCount: number;
  /**
   * Well-formed traces that no pillar uses: system traces without a loop
   * lag (pypss's `kafka_lag_report`, a sample with only `active_tasks`).
   * With it the counts add up to every entry read: `traceCount +
   * systemTraceCount + skippedCount + unusedCount`. Always set by
   * `computePss`; optional only so that reports built by hand need not
   * carry it.
   */
  unusedCount?: number;
}
