/**
 * What `computePss` and `PssAccumulator` share: the rules for one trace's
 * values and the score of a group's columns. One copy, so the streaming
 * accumulator and `computePss` cannot drift apart.
 *
 * @module
 */

import type { PssConfig } from "./config.ts";
import type { PssReport } from "./report.ts";
import { branchingEntropy } from "./branching.ts";
import { concurrencyChaos } from "./concurrency.ts";
import { errorVolatility } from "./errors.ts";
import { memoryStability } from "./memory.ts";
import { timingStability } from "./timing.ts";
import { roundHalfEven } from "./round.ts";

/** A finite number ≥ 0, or missing. */
export function isPlain(value: unknown): boolean {
  return value === undefined ||
    (typeof value === "number" && value >= 0 && value <= Number.MAX_VALUE);
}

/**
 * docs/scoring.md, section 2: `true`, non-zero numbers (NaN included, as in Python) and
 * non-empty strings other than "false" and "0"; other objects as Python
 * would judge them (empty arrays and objects are false).
 */
export function isTruthyError(value: unknown): boolean {
  switch (typeof value) {
    case "boolean":
      return value;
    case "number":
      return value !== 0;
    case "bigint":
      return value !== 0n;
    case "string":
      return value !== "" && value !== "false" && value !== "0";
    case "object":
      if (value === null) return false;
      if (Array.isArray(value)) return value.length > 0;
      return Object.keys(value).length > 0;
    case "undefined":
      return false;
    default: // functions and symbols, truthy in Python too
      return true;
  }
}

/** The regular traces of one group, as scoring reads them. */
export interface ColumnsInput {
  /** Entries of each column in use. */
  size: number;
  /** Durations in input order (may be longer than `size`). */
  durations: Float64Array;
  /** Memory readings in input order. */
  memory: Float64Array;
  /** Wait times in input order. */
  waits: Float64Array;
  /** How many of the traces are errors. */
  errors: number;
  /** The longest run of consecutive errors. */
  longestRun: number;
  /** How often each branch tag occurs. */
  tagCounts: readonly number[];
}

export function clampUnit(x: number): number {
  return x > 1 ? 1 : x > 0 ? x : 0;
}

/**
 * The score of one group from its columns and its loop-lag samples. Reorders
 * the `size` first entries of the duration and memory columns.
 */
export function scoreColumns(
  columns: ColumnsInput,
  lags: ArrayLike<number>,
  skippedCount: number,
  config: Readonly<PssConfig>,
  unusedCount = 0,
): PssReport {
  const n = columns.size;
  if (n === 0 && lags.length === 0) {
    return emptyReport(skippedCount, unusedCount);
  }
  const waits = columns.waits.subarray(0, n);
  // Concurrency first: it reads the waits in input order; the others
  // reorder their own columns.
  const cc = concurrencyChaos(waits, lags, config);
  const ts = timingStability(columns.durations.subarray(0, n), config);
  const ms = memoryStability(columns.memory.subarray(0, n), config);
  const ev = errorVolatility({
    total: n,
    errors: columns.errors,
    longestRun: columns.longestRun,
  }, config);
  const be = branchingEntropy(columns.tagCounts);
  return combine(
    ts,
    ms,
    ev,
    be,
    cc,
    n,
    lags.length,
    skippedCount,
    config,
    unusedCount,
  );
}

/**
 * The report of nothing to score: pss 0 and every pillar 0, as pypss
 * returns for empty input (docs/scoring.md, "Nothing to score").
 */
export function emptyReport(skippedCount = 0, unusedCount = 0): PssReport {
  return {
    pss: 0,
    breakdown: {
      timingStability: 0,
      memoryStability: 0,
      errorVolatility: 0,
      branchingEntropy: 0,
      concurrencyChaos: 0,
    },
    traceCount: 0,
    systemTraceCount: 0,
    skippedCount,
    unusedCount,
  };
}

/** The weighted score from the five unclamped pillars. */
export function combine(
  ts: number,
  ms: number,
  ev: number,
  be: number,
  cc: number,
  traceCount: number,
  systemTraceCount: number,
  skippedCount: number,
  config: Readonly<PssConfig>,
  unusedCount = 0,
): PssReport {
  if (traceCount === 0 && systemTraceCount === 0) {
    return emptyReport(skippedCount, unusedCount);
  }
  // pypss's exact sum order; pillars enter unclamped, as in pypss, so the
  // integer cannot differ by the clamp's float noise.
  const totalWeight = config.wTs + config.wMs + config.wEv + config.wBe +
    config.wCc;
  const raw = (config.wTs * ts + config.wMs * ms + config.wEv * ev +
    config.wBe * be + config.wCc * cc) / totalWeight;
  return {
    pss: roundHalfEven(clampUnit(raw) * 100),
    breakdown: {
      timingStability: clampUnit(ts),
      memoryStability: clampUnit(ms),
      errorVolatility: clampUnit(ev),
      branchingEntropy: clampUnit(be),
      concurrencyChaos: clampUnit(cc),
    },
    traceCount,
    systemTraceCount,
    skippedCount,
    unusedCount,
  };
}
