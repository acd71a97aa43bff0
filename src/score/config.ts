/**
 * Scoring configuration: every tunable of docs/scoring.md with pypss 1.3.1's
 * defaults, and its validation.
 *
 * @module
 */

import { didYouMean } from "../_names.ts";

/**
 * Every tunable of the score. Field names are the camelCase forms of
 * pypss's `PssConfig` fields; defaults are pypss 1.3.1's.
 *
 * @example Weigh timing more heavily
 * ```ts
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1 }], { wTs: 0.5 });
 * assert.equal(report.pss, 100);
 * ```
 */
export interface PssConfig {
  /** Weight of Timing Stability. @default {0.30} */
  wTs: number;
  /** Weight of Memory Stability. @default {0.20} */
  wMs: number;
  /** Weight of Error Volatility. @default {0.20} */
  wEv: number;
  /** Weight of Branching Entropy. @default {0.15} */
  wBe: number;
  /** Weight of Concurrency Chaos. @default {0.15} */
  wCc: number;
  /** Decay of the latency CV, and of the wait-time CV in Concurrency Chaos. @default {2.0} */
  alpha: number;
  /** Sensitivity to the p95/p50 tail ratio. @default {1.0} */
  beta: number;
  /** Decay of the memory metric and of the memory spike penalty. @default {2.0} */
  gamma: number;
  /** Peak-to-median memory ratio above which a spike is penalised. @default {1.5} */
  memSpikeThresholdRatio: number;
  /** Decay of the error metric. @default {1.0} */
  delta: number;
  /** Error rate above which an extra spike penalty applies. @default {0.1} */
  errorSpikeThreshold: number;
  /** Shortest run of consecutive errors that is penalised. @default {3} */
  consecutiveErrorThreshold: number;
  /** Mean wait time (seconds) that must be exceeded for the wait CV to count. @default {0.001} */
  concurrencyWaitThreshold: number;
  /**
   * Zero-based index into the 99 percentile cut points used as the latency
   * tail, as in pypss: 94 selects the 95th percentile. Valid: 1 to 98.
   * @default {94}
   */
  scoreLatencyTailPercentile: number;
  /** Added to the memory median to avoid dividing by zero. @default {1e-9} */
  scoreMemoryEpsilon: number;
  /** Weight of the variance-to-mean ratio of errors. @default {0.5} */
  scoreErrorVmrMultiplier: number;
  /** Strength of the error-rate spike penalty. @default {0.5} */
  scoreErrorSpikeImpactMultiplier: number;
  /** Multiplier of `delta` for the consecutive-error penalty. @default {2.0} */
  scoreConsecutiveErrorDecayMultiplier: number;
  /** Mean event-loop lag (seconds) above which Concurrency Chaos is penalised. @default {0.01} */
  loopLagThreshold: number;
  /** Strength of the event-loop lag penalty. @default {5.0} */
  loopLagFactor: number;
}

/**
 * pypss 1.3.1's default configuration.
 *
 * @example
 * ```ts
 * import { DEFAULT_CONFIG } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.equal(DEFAULT_CONFIG.wTs, 0.3);
 * ```
 */
export const DEFAULT_CONFIG: Readonly<PssConfig> = Object.freeze({
  wTs: 0.30,
  wMs: 0.20,
  wEv: 0.20,
  wBe: 0.15,
  wCc: 0.15,
  alpha: 2.0,
  beta: 1.0,
  gamma: 2.0,
  memSpikeThresholdRatio: 1.5,
  delta: 1.0,
  errorSpikeThreshold: 0.1,
  consecutiveErrorThreshold: 3,
  concurrencyWaitThreshold: 0.001,
  scoreLatencyTailPercentile: 94,
  scoreMemoryEpsilon: 1e-9,
  scoreErrorVmrMultiplier: 0.5,
  scoreErrorSpikeImpactMultiplier: 0.5,
  scoreConsecutiveErrorDecayMultiplier: 2.0,
  loopLagThreshold: 0.01,
  loopLagFactor: 5.0,
});

/**
 * Thrown, synchronously and early, when a configuration value is invalid.
 * `field` names the offending setting, `value` is what was given, and
 * `source` (when set) names the file or environment variable it came from.
 *
 * @example
 * ```ts
 * import { computePss, PssConfigError } from "@pss/pss";
 * import assert from "node:assert/strict";
 * assert.throws(() => computePss([], { wTs: -1 }), (error) => {
 *   assert.ok(error instanceof PssConfigError);
 *   assert.equal(error.field, "wTs");
 *   return true;
 * });
 * ```
 */
export class PssConfigError extends Error {
  /** The configuration field that is invalid. */
  readonly field: string;
  /** The value that was given. */
  readonly value: unknown;
  /** Where the value came from (a file path, an environment variable), if not code. */
  readonly source: string | undefined;

  /**
   * Creates the error; the message reads "Invalid pss configuration (from
   * source) as reason: got value".
   *
   * @param field The offending field.
   * @param value The value given.
   * @param reason Why it is invalid, phrased after "as" (for example "'wTs' must be a finite number ≥ 0").
   * @param source Where the value came from, when not from code.
   */
  constructor(field: string, value: unknown, reason: string, source?: string) {
    const where = source === undefined ? "" : ` (from ${source})`;
    super(
      `Invalid pss configuration${where} as ${reason}: got ${describe(value)}`,
    );
    this.name = "PssConfigError";
    this.field = field;
    this.value = value;
    this.source = source;
  }
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (
    typeof value === "number" || typeof value === "boolean" || value == null
  ) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

const WEIGHTS = ["wTs", "wMs", "wEv", "wBe", "wCc"] as const;

/**
 * Merges `overrides` over the defaults and validates the result.
 *
 * @param overrides Fields to change; unknown keys are rejected.
 * @param source Where the overrides came from, for error messages.
 * @returns A frozen, complete configuration.
 * @throws {PssConfigError} For an unknown key, a weight that is negative or
 * not finite, weights that are all zero, a percentile index outside 1–98, or
 * any other parameter that is not a finite number in its range.
 *
 * @example
 * ```ts
 * import { resolveConfig } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const config = resolveConfig({ alpha: 3 });
 * assert.equal(config.alpha, 3);
 * assert.equal(config.beta, 1);
 * ```
 */
export function resolveConfig(
  overrides: Partial<PssConfig> = {},
  source?: string,
): Readonly<PssConfig> {
  if (overrides === null || typeof overrides !== "object") {
    throw new PssConfigError(
      "config",
      overrides,
      "the configuration must be an object",
      source,
    );
  }
  const config: PssConfig = { ...DEFAULT_CONFIG };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(DEFAULT_CONFIG, key)) {
      throw new PssConfigError(
        key,
        value,
        `'${key}' is not a known setting${
          didYouMean(key, Object.keys(DEFAULT_CONFIG))
        }`,
        source,
      );
    }
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new PssConfigError(
        key,
        value,
        `'${key}' must be a finite number`,
        source,
      );
    }
    (config as unknown as Record<string, number>)[key] = value;
  }
  for (const key of WEIGHTS) {
    if (config[key] < 0) {
      throw new PssConfigError(
        key,
        config[key],
        `'${key}' must be a weight ≥ 0`,
        source,
      );
    }
  }
  const weightSum = WEIGHTS.reduce((sum, key) => sum + config[key], 0);
  if (!Number.isFinite(weightSum)) {
    throw new PssConfigError(
      "wTs",
      weightSum,
      "the weights must add up to a finite number",
      source,
    );
  }
  if (WEIGHTS.every((key) => config[key] === 0)) {
    throw new PssConfigError(
      "wTs",
      0,
      "at least one weight must be > 0",
      source,
    );
  }
  const p = config.scoreLatencyTailPercentile;
  // pypss indexes the list of 99 cut points with this value; 99 would fall
  // off the end (pypss raises IndexError), and 0 is no tail at all.
  if (!Number.isInteger(p) || p < 1 || p > 98) {
    throw new PssConfigError(
      "scoreLatencyTailPercentile",
      p,
      "'scoreLatencyTailPercentile' must be an integer from 1 to 98",
      source,
    );
  }
  for (
    const key of [
      "alpha",
      "beta",
      "gamma",
      "delta",
      "memSpikeThresholdRatio",
      "errorSpikeThreshold",
      "consecutiveErrorThreshold",
      "concurrencyWaitThreshold",
      "scoreMemoryEpsilon",
      "scoreErrorVmrMultiplier",
      "scoreErrorSpikeImpactMultiplier",
      "scoreConsecutiveErrorDecayMultiplier",
      "loopLagThreshold",
      "loopLagFactor",
    ] as const
  ) {
    if (config[key] < 0) {
      throw new PssConfigError(
        key,
        config[key],
        `'${key}' must be ≥ 0`,
        source,
      );
    }
  }
  if (config.errorSpikeThreshold >= 1) {
    throw new PssConfigError(
      "errorSpikeThreshold",
      config.errorSpikeThreshold,
      "'errorSpikeThreshold' must be below 1",
      source,
    );
  }
  return Object.freeze(config);
}
