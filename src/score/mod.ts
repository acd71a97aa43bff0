/**
 * `@pss/pss/score`: the scoring parts one level below
 * {@linkcode computePss}: each pillar as a function of its raw inputs, the
 * pillar table, configuration defaults and validation, and rounding exactly
 * as pypss (Python) rounds. Pure and portable: no I/O, no runtime APIs.
 *
 * ```ts
 * import { roundPypss, timingStability } from "@pss/pss/score";
 * const steady = timingStability(new Float64Array([0.1, 0.1, 0.1]));
 * if (steady !== 1) throw new Error(`got ${steady}`);
 * if (roundPypss(0.125, 2) !== 0.12) throw new Error("half to even");
 * ```
 *
 * @module
 */

export { PILLARS } from "./pss.ts";
export type { PillarInfo, PillarKey } from "./pss.ts";
export { DEFAULT_CONFIG, resolveConfig } from "./config.ts";
export type { PssConfig } from "./config.ts";
export { isScorableTrace } from "../trace.ts";
export { roundPypss } from "./round.ts";
export { timingStability } from "./timing.ts";
export { memoryStability } from "./memory.ts";
export { errorVolatility, summarizeErrors } from "./errors.ts";
export type { ErrorSummary } from "./errors.ts";
export { branchingEntropy } from "./branching.ts";
export { concurrencyChaos } from "./concurrency.ts";
export { PssAccumulator } from "./accumulator.ts";
export type {
  GroupRow,
  LagSummary,
  LatencySummary,
  PssAccumulatorOptions,
  TraceDetails,
} from "./accumulator.ts";
