/**
 * The JSON report: pypss's `{ pss, breakdown }` block first, so tools that
 * read pypss's JSON keep working, then the unrounded pillars, the counts,
 * the diagnosis and the per-name reports.
 *
 * Shape (keys always in this order; `by_name` only when per-name reports
 * are given):
 *
 * ```json
 * {
 *   "pss": 78,
 *   "breakdown": {
 *     "timing_stability": 0.95, "memory_stability": 1.0,
 *     "error_volatility": 0.18, "branching_entropy": 1.0,
 *     "concurrency_chaos": 1.0
 *   },
 *   "verdict": "good",
 *   "pillars": { "timing_stability": 0.9512345678, "...": 0 },
 *   "counts": { "traces": 100, "system_traces": 0, "skipped": 3, "unused": 0 },
 *   "diagnosis": {
 *     "headline": "…",
 *     "findings": [{ "pillar": "error_volatility", "label": "Error Volatility",
 *       "value": 0.18, "severity": "critical", "summary": "…", "causes": "…" }],
 *     "notes": []
 *   },
 *   "by_name": [{ "name": "db.query", "pss": 61, "breakdown": { "...": 0 },
 *     "verdict": "fair", "pillars": { "...": 0 }, "counts": { "...": 0 } }]
 * }
 * ```
 *
 * `breakdown` is rounded like Python's `round(x, 2)`; `pillars` holds the
 * same values unrounded.
 *
 * @module
 */

import type { PssBreakdown, PssReport } from "../score/report.ts";
import { PILLARS, type PypssReportJson, toPypssJson } from "../score/pss.ts";
import { PssConfigError } from "../score/config.ts";
import { checkKnownKeys } from "../_options.ts";
import type { TraceDetails } from "../score/accumulator.ts";
import { detailsOf, dragRows } from "./_details.ts";
import {
  type DiagnoseOptions,
  diagnoseReport,
  rankByName,
  type ReportsByName,
  type Severity,
  type Verdict,
  verdictOf,
} from "./diagnose.ts";

/**
 * The five pillars under pypss's snake_case keys, in pypss's order.
 *
 * @example
 * ```ts
 * import { computePss, renderReportJson } from "@pss/pss";
 * import { type BreakdownJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const breakdown: BreakdownJson = JSON.parse(renderReportJson(computePss([{ name: "op", duration: 0.1 }]))).breakdown;
 * assert.deepEqual(Object.keys(breakdown), ["timing_stability", "memory_stability", "error_volatility", "branching_entropy", "concurrency_chaos"]);
 * assert.equal(breakdown.timing_stability, 1);
 * ```
 */
export type BreakdownJson = PypssReportJson["breakdown"];

/**
 * How many traces a report saw.
 *
 * @example
 * ```ts
 * import { computePss, renderReportJson } from "@pss/pss";
 * import { type CountsJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const counts: CountsJson = JSON.parse(renderReportJson(computePss([{ name: "op", duration: 0.1 }]))).counts;
 * assert.deepEqual(counts, { traces: 1, system_traces: 0, skipped: 0, unused: 0 });
 * ```
 */
export interface CountsJson {
  /** Regular traces scored. */
  traces: number;
  /** System traces used (those carrying a loop lag). */
  system_traces: number;
  /** Malformed traces (or input lines) skipped, never scored. */
  skipped: number;
  /**
   * Well-formed traces no pillar uses (system traces without a loop lag):
   * with it the counts add up to every trace read.
   */
  unused: number;
}

/**
 * One weak pillar in the JSON report.
 *
 * @example
 * ```ts
 * import { renderReportJson } from "@pss/pss";
 * import { type FindingJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const text = renderReportJson({ pss: 78, breakdown: { timingStability: 1, memoryStability: 1, errorVolatility: 0.18, branchingEntropy: 1, concurrencyChaos: 1 }, traceCount: 100, systemTraceCount: 0, skippedCount: 0 });
 * const findings: FindingJson[] = JSON.parse(text).diagnosis.findings;
 * assert.deepEqual(findings.map((f) => [f.pillar, f.value, f.severity]), [["error_volatility", 0.18, "critical"]]);
 * ```
 */
export interface FindingJson {
  /** The pillar's snake_case key, as in `breakdown`. */
  pillar: string;
  /** Its human name. */
  label: string;
  /** Its value rounded to two decimals. */
  value: number;
  /** How weak it is. */
  severity: Severity;
  /** What the value says about the program. */
  summary: string;
  /** What usually causes it. */
  causes: string;
}

/**
 * The report of one operation name in the JSON report.
 *
 * @example
 * ```ts
 * import { computePss, computePssByName, renderReportJson } from "@pss/pss";
 * import { type NamedReportJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const traces = [{ name: "a", duration: 0.1 }, { name: "b", duration: 0.1, error: true }];
 * const json = JSON.parse(renderReportJson(computePss(traces), { byName: computePssByName(traces) }));
 * const rows: NamedReportJson[] = json.by_name;
 * assert.deepEqual(rows.map((row) => [row.name, row.pss, row.verdict]), [["b", 84, "good"], ["a", 100, "excellent"]]);
 * ```
 */
export interface NamedReportJson {
  /** The operation name. */
  name: string;
  /** Its score, 0 to 100. */
  pss: number;
  /** Its verdict band. */
  verdict: Verdict;
  /** Its pillars rounded like Python's `round(x, 2)`. */
  breakdown: BreakdownJson;
  /** Its pillars unrounded. */
  pillars: BreakdownJson;
  /** Its trace counts. */
  counts: CountsJson;
  /** Its figures, when the rows carry them (`GroupRow`s). */
  details?: DetailsJson;
}

/**
 * The figures behind a score in the JSON report: durations and lags in
 * seconds, like the wire format.
 *
 * @example
 * ```ts
 * import type { DetailsJson } from "@pss/pss/report";
 * import { PssAccumulator } from "@pss/pss/score";
 * import { renderReportJson } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const accumulator = new PssAccumulator();
 * accumulator.add({ name: "op", duration: 0.25 });
 * const json = JSON.parse(renderReportJson(accumulator.report(), { details: accumulator.details() }));
 * const details: DetailsJson | undefined = json.details;
 * assert.equal(details?.latency_seconds?.max, 0.25);
 * ```
 */
export interface DetailsJson {
  /** Regular traces. */
  traces: number;
  /** Of which errors. */
  errors: number;
  /** The commonest exception types. */
  exceptions: { type: string; count: number }[];
  /** Duration percentiles, or `null` without traces. */
  latency_seconds:
    | { p50: number; p95: number; p99: number; max: number }
    | null;
  /** Event-loop lag figures, or `null` without samples. */
  lag_seconds:
    | { mean: number; p95: number; max: number; samples: number }
    | null;
  /** Duration histogram: `edges_seconds` has one more entry than `counts`. */
  histogram: { edges_seconds: number[]; counts: number[] };
  /** Traces and errors per slice of `width` input positions, in order. */
  timeline: { width: number; traces: number[]; errors: number[] };
  /** Branch tags with their counts, commonest first. */
  branch_tags: { tag: string; count: number }[];
}

/**
 * A row that pulls the overall score down, in the JSON report's diagnosis.
 *
 * @example
 * ```ts
 * import { computePss, computePssByName, renderReportJson } from "@pss/pss";
 * import type { DragRowJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const traces = [{ name: "ok", duration: 0.1 }, { name: "db", duration: 0.1 }, { name: "db", duration: 0.1, error: true }];
 * const json = JSON.parse(renderReportJson(computePss(traces), { byName: computePssByName(traces) }));
 * const drag: DragRowJson[] = json.diagnosis.drag;
 * assert.equal(drag[0].name, "db");
 * assert.equal(drag[0].weakest_pillar, "Error Volatility");
 * ```
 */
export interface DragRowJson {
  /** The row's key. */
  name: string;
  /** Its score. */
  pss: number;
  /** Its trace count. */
  traces: number;
  /** Its weakest pillar's label. */
  weakest_pillar: string;
  /** That pillar's value. */
  weakest_value: number;
}

function detailsJson(details: TraceDetails): DetailsJson {
  return {
    traces: details.traces,
    errors: details.errors,
    exceptions: details.exceptions,
    latency_seconds: details.latency ?? null,
    lag_seconds: details.lag ?? null,
    histogram: {
      edges_seconds: details.histogram.edges,
      counts: details.histogram.counts,
    },
    timeline: details.timeline,
    branch_tags: details.branchTags,
  };
}

/**
 * The JSON report; see the module documentation for an example.
 *
 * @example Read back a JSON report
 * ```ts
 * import { computePss, renderReportJson } from "@pss/pss";
 * import { type PssReportJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const text = renderReportJson(computePss([{ name: "op", duration: 0.1 }]));
 * const json: PssReportJson = JSON.parse(text);
 * assert.deepEqual([json.pss, json.verdict, json.counts.traces], [100, "excellent", 1]);
 * ```
 */
export interface PssReportJson {
  /** The score, 0 to 100 (pypss's `pss`). */
  pss: number;
  /** The pillars rounded like Python's `round(x, 2)` (pypss's `breakdown`). */
  breakdown: BreakdownJson;
  /** The verdict band. */
  verdict: Verdict;
  /** The pillars unrounded. */
  pillars: BreakdownJson;
  /** Trace counts. */
  counts: CountsJson;
  /** Which pillars are weak and what that usually means. */
  diagnosis: {
    /** One sentence for the verdict. */
    headline: string;
    /** Weak pillars, critical first. */
    findings: FindingJson[];
    /** Cross-pillar observations. */
    notes: string[];
    /** The rows pulling the score down most, when rows are given. */
    drag?: DragRowJson[];
  };
  /** The figures behind the score, when given. */
  details?: DetailsJson;
  /** Per-name reports, worst first; present only when given. */
  by_name?: NamedReportJson[];
}

/**
 * Options of {@linkcode renderReportJson}.
 *
 * @example Per-name rows and a stricter timing threshold
 * ```ts
 * import { computePss, computePssByName, type JsonReportOptions, renderReportJson } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const traces = [{ name: "a", duration: 0.1 }, { name: "b", duration: 0.1 }];
 * const options: JsonReportOptions = {
 *   byName: computePssByName(traces),
 *   thresholds: { timingStability: { warning: 0.95, critical: 0.8 } },
 * };
 * assert.equal(JSON.parse(renderReportJson(computePss(traces), options)).by_name.length, 2);
 * ```
 *
 * @example One line per report, for NDJSON logs
 * ```ts
 * import { computePss, type JsonReportOptions, renderReportJson } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const options: JsonReportOptions = { indent: 0 };
 * const text = renderReportJson(computePss([{ name: "op", duration: 0.1 }]), options);
 * assert.ok(!text.includes("\n"));
 * ```
 */
export interface JsonReportOptions {
  /**
   * Per-name reports (what `computePssByName` returns) to include as
   * `by_name`, worst first.
   * @default {undefined} (no `by_name` key)
   */
  byName?: ReportsByName;
  /**
   * The figures behind the score (from `PssAccumulator.details()`).
   * @default {undefined} (no `details` key)
   */
  details?: TraceDetails;
  /**
   * Diagnosis thresholds replacing the defaults for the pillars given.
   * @default {DEFAULT_DIAGNOSIS_THRESHOLDS}
   */
  thresholds?: DiagnoseOptions["thresholds"];
  /**
   * Indentation passed to `JSON.stringify`; 0 writes one line.
   * @default {2}
   */
  indent?: number;
}

/**
 * Converts a report to its JSON form (a plain object with a stable key
 * order): pypss's `pss` and rounded `breakdown` first, then `verdict`, the
 * unrounded `pillars`, `counts`, `diagnosis` and, when given, `by_name`.
 *
 * @param report The report.
 * @param options Per-name reports and diagnosis thresholds (`indent` is
 * not read here).
 * @returns A plain object ready for `JSON.stringify`.
 * @throws {PssConfigError} When a threshold override is invalid.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * import { reportToJson } from "./json.ts";
 * const json = reportToJson(computePss([{ name: "op", duration: 0.1 }]));
 * assert.deepEqual([json.pss, json.breakdown.timing_stability], [100, 1]);
 * ```
 */
export function reportToJson(
  report: PssReport,
  options: JsonReportOptions = {},
): PssReportJson {
  const diagnosis = diagnoseReport(report, { thresholds: options.thresholds });
  const wireKeys = new Map(PILLARS.map((p) => [p.key, p.pypssKey]));
  const json: PssReportJson = {
    ...toPypssJson(report),
    verdict: diagnosis.verdict,
    pillars: breakdownJson(report.breakdown),
    counts: countsJson(report),
    diagnosis: {
      headline: diagnosis.headline,
      findings: diagnosis.findings.map((f) => ({
        pillar: wireKeys.get(f.pillar) ?? f.pillar,
        label: f.label,
        value: f.value,
        severity: f.severity,
        summary: f.summary,
        causes: f.causes,
      })),
      notes: diagnosis.notes,
    },
  };
  if (options.details !== undefined) {
    json.details = detailsJson(options.details);
  }
  if (options.byName !== undefined) {
    const ranked = rankByName(options.byName);
    json.diagnosis.drag = dragRows(report, ranked).map((d) => ({
      name: d.name,
      pss: d.pss,
      traces: d.traces,
      weakest_pillar: d.pillar,
      weakest_value: d.value,
    }));
    json.by_name = ranked.map((row) => {
      const { name, report } = row;
      const named: NamedReportJson = {
        name,
        ...toPypssJson(report),
        verdict: verdictOf(report),
        pillars: breakdownJson(report.breakdown),
        counts: countsJson(report),
      };
      const details = detailsOf(row);
      if (details !== undefined) named.details = detailsJson(details);
      return named;
    });
  }
  return json;
}

/** Every key of {@linkcode JsonReportOptions}. */
const JSON_OPTION_KEYS: readonly (keyof JsonReportOptions)[] = [
  "byName",
  "details",
  "thresholds",
  "indent",
];

/**
 * Renders a report as JSON text (the shape is {@linkcode PssReportJson}),
 * without a trailing newline.
 *
 * @param report The report.
 * @param options Per-name reports, thresholds and indentation.
 * @returns The JSON text.
 * @throws {PssConfigError} For an unknown option (naming the closest known
 * one), an `indent` that is not an integer from 0 to 10, or an invalid
 * threshold override.
 *
 * @example
 * ```ts
 * import { computePss, renderReportJson } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const text = renderReportJson(computePss([{ name: "op", duration: 0.1 }]), { indent: 0 });
 * assert.ok(text.startsWith('{"pss":100,"breakdown":{"timing_stability":1,'));
 * ```
 */
export function renderReportJson(
  report: PssReport,
  options: JsonReportOptions = {},
): string {
  checkKnownKeys("renderReportJson", options, JSON_OPTION_KEYS);
  const indent = options.indent ?? 2;
  if (!Number.isInteger(indent) || indent < 0 || indent > 10) {
    throw new PssConfigError(
      "indent",
      indent,
      "renderReportJson's 'indent' must be an integer from 0 to 10",
    );
  }
  return JSON.stringify(
    reportToJson(report, options),
    null,
    indent > 0 ? indent : undefined,
  );
}

function breakdownJson(breakdown: PssBreakdown): BreakdownJson {
  return {
    timing_stability: breakdown.timingStability,
    memory_stability: breakdown.memoryStability,
    error_volatility: breakdown.errorVolatility,
    branching_entropy: breakdown.branchingEntropy,
    concurrency_chaos: breakdown.concurrencyChaos,
  };
}

function countsJson(report: PssReport): CountsJson {
  return {
    traces: report.traceCount,
    system_traces: report.systemTraceCount,
    skipped: report.skippedCount,
    unused: report.unusedCount ?? 0,
  };
}
