/**
 * The diagnosis shared by the text, JSON and HTML reports: the verdict band
 * of a score, and which pillars are weak and what that usually means.
 *
 * Thresholds follow pypss 1.3.1's advisor, so a pypss user sees the same
 * pillars flagged: the score bands are 90 / 75 / 50, and a pillar is judged
 * on its value rounded to two decimals (as displayed).
 *
 * @module
 */

import type { PssReport } from "../score/report.ts";
import { roundPypss } from "../score/round.ts";
import { type NamedPssReport, type PillarKey, PILLARS } from "../score/pss.ts";
import { PssConfigError } from "../score/config.ts";
import { checkKnownKeys } from "../_options.ts";

/**
 * The band a score falls in: `"excellent"` (≥ 90), `"good"` (≥ 75),
 * `"fair"` (≥ 50), `"unstable"` (below 50), or `"no-data"` when there was
 * nothing to score (no regular trace and no loop lag).
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { type Verdict, verdictOf } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const none: Verdict = verdictOf(computePss([]));
 * const one: Verdict = verdictOf(computePss([{ name: "op", duration: 0.1 }]));
 * assert.equal(none, "no-data");
 * assert.equal(one, "excellent");
 * ```
 */
export type Verdict = "excellent" | "good" | "fair" | "unstable" | "no-data";

/**
 * How weak a flagged pillar is.
 *
 * @example
 * ```ts
 * import { pillarSeverity, type Severity } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const severity: Severity | undefined = pillarSeverity("memoryStability", 0.5);
 * assert.equal(severity, "critical");
 * ```
 */
export type Severity = "warning" | "critical";

/**
 * The bounds below which a pillar is flagged; compared with the value rounded to two decimals.
 *
 * @example
 * ```ts
 * import { type PillarThresholds, pillarSeverity } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const lenient: PillarThresholds = { warning: 0.7, critical: 0.4 };
 * assert.equal(pillarSeverity("timingStability", 0.8), "warning");
 * assert.equal(pillarSeverity("timingStability", 0.8, { thresholds: { timingStability: lenient } }), undefined);
 * ```
 */
export interface PillarThresholds {
  /** Below this the pillar is a warning. */
  readonly warning: number;
  /** Below this the pillar is critical. */
  readonly critical: number;
}

/**
 * pypss 1.3.1's advisor thresholds: timing, memory and concurrency are a
 * warning below 0.85 and critical below 0.6; errors below 0.9 and 0.7;
 * branching below 0.8 (pypss has one level; pss adds critical below 0.5).
 *
 * @example
 * ```ts
 * import { DEFAULT_DIAGNOSIS_THRESHOLDS } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * assert.equal(DEFAULT_DIAGNOSIS_THRESHOLDS.errorVolatility.critical, 0.7);
 * ```
 */
export const DEFAULT_DIAGNOSIS_THRESHOLDS: Readonly<
  Record<PillarKey, PillarThresholds>
> = Object.freeze({
  timingStability: Object.freeze({ warning: 0.85, critical: 0.6 }),
  memoryStability: Object.freeze({ warning: 0.85, critical: 0.6 }),
  errorVolatility: Object.freeze({ warning: 0.9, critical: 0.7 }),
  branchingEntropy: Object.freeze({ warning: 0.8, critical: 0.5 }),
  concurrencyChaos: Object.freeze({ warning: 0.85, critical: 0.6 }),
});

/**
 * One weak pillar and what it usually means.
 *
 * @example
 * ```ts
 * import { diagnoseReport, type PillarFinding } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const findings: PillarFinding[] = diagnoseReport({ pss: 78, breakdown: { timingStability: 1, memoryStability: 1, errorVolatility: 0.18, branchingEntropy: 1, concurrencyChaos: 1 }, traceCount: 100, systemTraceCount: 0, skippedCount: 0 }).findings;
 * assert.deepEqual([findings[0].label, findings[0].value, findings[0].severity], ["Error Volatility", 0.18, "critical"]);
 * assert.equal(typeof findings[0].causes, "string");
 * ```
 */
export interface PillarFinding {
  /** Which pillar. */
  pillar: PillarKey;
  /** Its human name. */
  label: string;
  /** Its value rounded like Python's `round(x, 2)`, as displayed. */
  value: number;
  /** How weak it is. */
  severity: Severity;
  /** What the value says about the program. */
  summary: string;
  /** What usually causes it, and where to look. */
  causes: string;
}

/**
 * The diagnosis of a report.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { type Diagnosis, diagnoseReport } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const diagnosis: Diagnosis = diagnoseReport(computePss([{ name: "op", duration: 0.1 }]));
 * assert.equal(diagnosis.verdict, "excellent");
 * assert.equal(diagnosis.findings.length, 0);
 * assert.equal(diagnosis.headline, "Excellent: the program is stable under this workload.");
 * ```
 */
export interface Diagnosis {
  /** The score's band. */
  verdict: Verdict;
  /** One sentence for the verdict. */
  headline: string;
  /** The weak pillars, critical first, then in pypss's pillar order. */
  findings: PillarFinding[];
  /** Observations across pillars (for example timing and memory weak together). */
  notes: string[];
}

/**
 * Options of {@linkcode diagnoseReport}.
 *
 * @example
 * ```ts
 * import { type PssReport } from "@pss/pss";
 * import { diagnoseReport, type DiagnoseOptions } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const report: PssReport = { pss: 99, breakdown: { timingStability: 1, memoryStability: 1, errorVolatility: 0.95, branchingEntropy: 1, concurrencyChaos: 1 }, traceCount: 100, systemTraceCount: 0, skippedCount: 0 };
 * const strict: DiagnoseOptions = { thresholds: { errorVolatility: { warning: 0.99, critical: 0.9 } } };
 * assert.equal(diagnoseReport(report).findings.length, 0);
 * assert.equal(diagnoseReport(report, strict).findings[0].severity, "warning");
 * ```
 */
export interface DiagnoseOptions {
  /**
   * Per-pillar thresholds replacing the defaults for the pillars given.
   * @default {DEFAULT_DIAGNOSIS_THRESHOLDS}
   */
  thresholds?: Partial<Record<PillarKey, PillarThresholds>>;
}

const MEANINGS: Readonly<
  Record<PillarKey, { warning: string; critical: string; causes: string }>
> = {
  timingStability: {
    warning: "Latency varies more than expected (jitter or a long tail).",
    critical:
      "Severe latency jitter or a heavy tail: the slow calls are far slower than the median.",
    causes:
      "Usually GC pauses, lock or CPU contention, cold caches or network variance. Look at what the slowest calls wait on.",
  },
  memoryStability: {
    warning: "Memory use fluctuates more than expected.",
    critical: "Memory grows or spikes far above its median.",
    causes:
      "Usually a leak, an unbounded cache or large one-off allocations (inconsistent batch sizes). Compare heap snapshots over time.",
  },
  errorVolatility: {
    warning: "Occasional errors are hurting stability.",
    critical: "Errors are frequent or come in bursts.",
    causes:
      "Usually a flaky dependency, a race, or a missing timeout and retry policy. Check the exception types in the traces.",
  },
  branchingEntropy: {
    warning:
      "Code paths vary between calls: more than one branch tag is common.",
    critical:
      "Code paths are highly unpredictable: calls spread across branch tags.",
    causes:
      "Usually cache hit/miss churn, feature flags or data-dependent paths. Make sure each path is expected and tested.",
  },
  concurrencyChaos: {
    warning: "Wait times vary, or the event loop lags now and then.",
    critical: "Wait times vary widely or the event loop lags badly.",
    causes:
      "Usually blocking synchronous work on the event loop, lock contention or an undersized pool. Move CPU-heavy work off the loop.",
  },
};

const HEADLINES: Readonly<Record<Verdict, string>> = {
  excellent: "Excellent: the program is stable under this workload.",
  good: "Good: stable, with minor variance in some areas.",
  fair: "Fair: noticeable instability; reliability is at risk.",
  unstable: "Unstable: the weak pillars below need attention.",
  "no-data": "No traces to score.",
};

/**
 * The verdict band of a score.
 *
 * @param report The report (its `pss` and counts are used).
 * @returns `"no-data"` when the report scored no regular trace and no loop
 * lag, else the band of `pss`: `"excellent"` ≥ 90, `"good"` ≥ 75, `"fair"`
 * ≥ 50, `"unstable"` below.
 *
 * @example
 * ```ts
 * import { verdictOf } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const verdict = verdictOf({
 *   pss: 80,
 *   breakdown: { timingStability: 0.6, memoryStability: 1, errorVolatility: 1, branchingEntropy: 1, concurrencyChaos: 1 },
 *   traceCount: 10,
 *   systemTraceCount: 0,
 *   skippedCount: 0,
 * });
 * assert.equal(verdict, "good");
 * ```
 */
export function verdictOf(report: PssReport): Verdict {
  if (isEmptyReport(report)) return "no-data";
  if (report.pss >= 90) return "excellent";
  if (report.pss >= 75) return "good";
  if (report.pss >= 50) return "fair";
  return "unstable";
}

/**
 * Whether a report scored nothing (no regular trace and no system trace
 * with a lag), in which case its pillars are all 0 by convention.
 *
 * @param report The report.
 * @returns `true` when there was nothing to score.
 *
 * @example
 * ```ts
 * import { isEmptyReport } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const breakdown = { timingStability: 0, memoryStability: 0, errorVolatility: 0, branchingEntropy: 0, concurrencyChaos: 0 };
 * assert.ok(isEmptyReport({ pss: 0, breakdown, traceCount: 0, systemTraceCount: 0, skippedCount: 3 }));
 * ```
 */
export function isEmptyReport(report: PssReport): boolean {
  return report.traceCount === 0 && report.systemTraceCount === 0;
}

/**
 * Diagnoses a report: its verdict band, the pillars below their thresholds
 * (compared after rounding to two decimals, as displayed and as pypss's
 * advisor does) with what each usually means, and cross-pillar notes.
 *
 * @param report The report to diagnose.
 * @param options Threshold overrides.
 * @returns The diagnosis; `findings` is empty when every pillar is healthy
 * or there was nothing to score.
 * @throws {PssConfigError} For an unknown option (naming the closest known
 * one), or a threshold override that names an unknown pillar, is not a
 * number from 0 to 1, or has `critical` above `warning`.
 *
 * @example
 * ```ts
 * import { diagnoseReport } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const diagnosis = diagnoseReport({
 *   pss: 78,
 *   breakdown: { timingStability: 1, memoryStability: 1, errorVolatility: 0.18, branchingEntropy: 1, concurrencyChaos: 1 },
 *   traceCount: 100,
 *   systemTraceCount: 0,
 *   skippedCount: 0,
 * });
 * assert.equal(diagnosis.findings[0].pillar, "errorVolatility");
 * assert.equal(diagnosis.findings[0].severity, "critical");
 * ```
 */
export function diagnoseReport(
  report: PssReport,
  options: DiagnoseOptions = {},
): Diagnosis {
  checkKnownKeys("diagnoseReport", options, ["thresholds"]);
  checkThresholds(options.thresholds);
  const verdict = verdictOf(report);
  const findings: PillarFinding[] = [];
  const notes: string[] = [];
  if (verdict === "no-data") {
    return { verdict, headline: HEADLINES[verdict], findings, notes };
  }
  for (const pillar of PILLARS) {
    const value = roundPypss(report.breakdown[pillar.key], 2);
    const severity = pillarSeverity(pillar.key, value, options);
    if (severity === undefined) continue;
    const meaning = MEANINGS[pillar.key];
    findings.push({
      pillar: pillar.key,
      label: pillar.label,
      value,
      severity,
      summary: meaning[severity],
      causes: meaning.causes,
    });
  }
  // Stable sort: critical first, pillar order kept within a severity.
  findings.sort((a, b) => severityRank(a.severity) - severityRank(b.severity));
  const flagged = new Set(findings.map((f) => f.pillar));
  if (flagged.has("timingStability") && flagged.has("memoryStability")) {
    notes.push(
      "Timing and memory are weak together: memory pressure often shows up as GC pauses in the latency.",
    );
  }
  return { verdict, headline: HEADLINES[verdict], findings, notes };
}

/**
 * How weak one pillar value is, compared after rounding to two decimals.
 *
 * @param pillar Which pillar.
 * @param value Its value in [0, 1].
 * @param options Threshold overrides.
 * @returns `"critical"`, `"warning"`, or `undefined` when healthy.
 * @throws {PssConfigError} When a threshold override is invalid (see
 * {@linkcode diagnoseReport}).
 *
 * @example
 * ```ts
 * import { pillarSeverity } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * assert.equal(pillarSeverity("errorVolatility", 0.8), "warning");
 * assert.equal(pillarSeverity("timingStability", 0.8), "warning");
 * assert.equal(pillarSeverity("timingStability", 0.95), undefined);
 * ```
 */
export function pillarSeverity(
  pillar: PillarKey,
  value: number,
  options: DiagnoseOptions = {},
): Severity | undefined {
  checkThresholds(options.thresholds);
  const thresholds = options.thresholds?.[pillar] ??
    DEFAULT_DIAGNOSIS_THRESHOLDS[pillar];
  const rounded = roundPypss(value, 2);
  if (rounded < thresholds.critical) return "critical";
  if (rounded < thresholds.warning) return "warning";
  return undefined;
}

/** Validates threshold overrides early, so a typo cannot silently disable a warning. */
function checkThresholds(
  thresholds: DiagnoseOptions["thresholds"],
): void {
  if (thresholds === undefined) return;
  if (thresholds === null || typeof thresholds !== "object") {
    throw new PssConfigError(
      "thresholds",
      thresholds,
      "'thresholds' must be an object keyed by pillar",
    );
  }
  for (const [key, value] of Object.entries(thresholds)) {
    if (value === undefined) continue;
    const field = `thresholds.${key}`;
    if (!Object.hasOwn(DEFAULT_DIAGNOSIS_THRESHOLDS, key)) {
      throw new PssConfigError(field, value, `'${key}' is not a pillar`);
    }
    const { warning, critical } = (value ?? {}) as Partial<PillarThresholds>;
    const unit = (x: unknown): boolean =>
      typeof x === "number" && x >= 0 && x <= 1;
    if (!unit(warning) || !unit(critical) || critical! > warning!) {
      throw new PssConfigError(
        field,
        value,
        `'${field}' must be { warning, critical } with 0 ≤ critical ≤ warning ≤ 1`,
      );
    }
  }
}

function severityRank(severity: Severity): number {
  return severity === "critical" ? 0 : 1;
}

/**
 * Per-name reports: what `computePssByName` returns (an array of
 * `{ name, report }`), a `Map` from name to report, or a plain object keyed
 * by name.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { rankByName, type ReportsByName } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const cache = computePss([{ name: "cache", duration: 0.001 }]);
 * const db = computePss([{ name: "db", duration: 0.1 }, { name: "db", duration: 0.1, error: true }]);
 * const asMap: ReportsByName = new Map([["cache", cache], ["db", db]]);
 * const asObject: ReportsByName = { cache, db };
 * assert.equal(rankByName(asMap)[0].name, "db");
 * assert.equal(rankByName(asObject)[0].name, "db");
 * ```
 */
export type ReportsByName =
  | Iterable<NamedPssReport>
  | ReadonlyMap<string, PssReport>
  | Readonly<Record<string, PssReport>>;

/**
 * Lists per-name reports worst first: lowest `pss` first, then lowest sum
 * of pillars, then by name; names with nothing to score come last.
 *
 * @param byName The per-name reports.
 * @returns A new array, worst first.
 *
 * @example
 * ```ts
 * import { computePssByName } from "@pss/pss";
 * import { rankByName } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const rows = computePssByName([
 *   { name: "steady", duration: 0.1 },
 *   { name: "steady", duration: 0.1 },
 *   { name: "flaky", duration: 0.1, error: true },
 *   { name: "flaky", duration: 0.3, error: true },
 * ]);
 * assert.deepEqual(rankByName(rows).map((r) => r.name), ["flaky", "steady"]);
 * ```
 */
export function rankByName(byName: ReportsByName): NamedPssReport[] {
  const entries: NamedPssReport[] = [];
  if (Symbol.iterator in byName) {
    for (
      const item of byName as Iterable<
        NamedPssReport | readonly [string, PssReport]
      >
    ) {
      entries.push(
        Array.isArray(item)
          ? { name: item[0], report: item[1] }
          : item as NamedPssReport,
      );
    }
  } else {
    for (const [name, report] of Object.entries(byName)) {
      entries.push({ name, report });
    }
  }
  return entries.sort((a, b) =>
    Number(isEmptyReport(a.report)) - Number(isEmptyReport(b.report)) ||
    a.report.pss - b.report.pss ||
    pillarSum(a.report) - pillarSum(b.report) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

function pillarSum(report: PssReport): number {
  let sum = 0;
  for (const pillar of PILLARS) sum += report.breakdown[pillar.key];
  return sum;
}

/**
 * Formats a pillar value to two decimals the way pypss's reports do:
 * rounded like Python's `round(x, 2)` (ties to even on the exact binary
 * value), then printed with two digits.
 *
 * @param value A pillar value.
 * @returns For example `"0.12"` for 0.125.
 *
 * @example
 * ```ts
 * import { formatPillar } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * assert.equal(formatPillar(0.125), "0.12");
 * assert.equal(formatPillar(1), "1.00");
 * ```
 */
export function formatPillar(value: number): string {
  return roundPypss(value, 2).toFixed(2);
}
