/**
 * The stability table of a benchmark run: one row per benchmark, scored with
 * the library's own `computePss`, printed as text after the runner's table
 * and written as JSON for CI.
 *
 * @module
 */

import { computePss } from "../score/pss.ts";
import type { PssBreakdown } from "../score/report.ts";
import { cv, exclusiveQuantiles } from "../score/stats.ts";
import type { Trace } from "../trace.ts";
import type { BenchRecorder } from "./_recorder.ts";

/**
 * One benchmark's row of the stability table (and of the JSON file). Times
 * are in nanoseconds, like `deno bench --json`; a value is `null` when it
 * cannot be measured honestly (see `clockBound`).
 *
 * @example
 * ```ts
 * import type { BenchStabilityRow } from "@pss/pss/bench";
 * import assert from "node:assert/strict";
 * const weak = (row: BenchStabilityRow): boolean =>
 *   row.pss !== null && row.pss < 90;
 * assert.equal(weak({ pss: 72 } as BenchStabilityRow), true);
 * ```
 */
export interface BenchStabilityRow {
  /** The benchmark's name. */
  name: string;
  /** Its group, or `null`. */
  group: string | null;
  /**
   * The module it was defined in (`deno bench` only): its path relative to
   * the working directory (`bench/parse_bench.ts`), or its URL when it lies
   * outside; `null` elsewhere.
   */
  file: string | null;
  /**
   * The PSS (0–100) of its recorded calls, `null` when clock-bound or when
   * nothing was recorded.
   */
  pss: number | null;
  /** The five pillars behind `pss` (memory, branching, concurrency are 1). */
  breakdown: PssBreakdown | null;
  /** Timing Stability, the pillar that moves: `breakdown.timingStability`. */
  timingStability: number | null;
  /** Coefficient of variation of the recorded durations. */
  cv: number | null;
  /** Median duration, ns. */
  p50Ns: number | null;
  /** 95th percentile, ns (Python's exclusive method, as the score uses). */
  p95Ns: number | null;
  /** 99th percentile, ns; `null` under 100 samples (it would lie beyond the data). */
  p99Ns: number | null;
  /** `p95Ns / p50Ns`, the tail ratio the score penalises. */
  tailRatio: number | null;
  /** Longest measured call, ns (over every measured call, not only the sample). */
  maxNs: number | null;
  /** Mean of every measured call, ns. */
  meanNs: number | null;
  /** Calls measured after warm-up (clock-bound: calls counted). */
  calls: number;
  /** Calls set aside as warm-up. */
  warmupCalls: number;
  /** Durations kept in the reservoir and scored (at most the reservoir size; 0 when clock-bound). */
  samples: number;
  /**
   * Kept durations left out of the score as outliers (`outlierFactor`);
   * `samples` does not count them.
   */
  outliers: number;
  /** Calls that threw or rejected. */
  errors: number;
  /** The first error's message, or `null`. */
  error: string | null;
  /**
   * The call costs less than `clockFactor` times the clock itself: it is
   * counted but not timed, and not scored (its timing would measure the
   * clock). `estimateNs` is its median warm-up duration.
   */
  clockBound: boolean;
  /** Median warm-up duration, ns (what decided `clockBound`). */
  estimateNs: number | null;
  /** Whether it scored below the gate. */
  belowGate: boolean;
}

/**
 * The JSON file `PSS_BENCH_JSON` names (format `pss-bench`, version 1): the
 * run's clock and settings, the gate, and every row, sorted as the table
 * is. Two files of the same benchmarks (a pull request's base and head)
 * compare row by row on `file`, `group` and `name`.
 *
 * @example
 * ```ts
 * import type { BenchStabilityJson } from "@pss/pss/bench";
 * import assert from "node:assert/strict";
 * function scores(json: BenchStabilityJson): Map<string, number | null> {
 *   return new Map(json.benchmarks.map((row) => [row.name, row.pss]));
 * }
 * assert.equal(scores({ benchmarks: [] } as unknown as BenchStabilityJson).size, 0);
 * ```
 */
export interface BenchStabilityJson {
  /** Always `"pss-bench"`. */
  format: "pss-bench";
  /** The version of this shape: 1. */
  version: 1;
  /** The runtime and its version, such as `"deno 2.9.6"`. */
  runtime: string;
  /**
   * The run's id: the rows of the bench files of one `deno bench` run merge
   * into one file on it. `null` when it could not be shared (Deno without
   * `--allow-env`).
   */
  runId: string | null;
  /** The process that ran the benchmarks. */
  pid: number | null;
  /** What one timing (two clock reads) costs, ns. */
  clockCostNs: number;
  /** Calls under `clockFactor × clockCostNs` are clock-bound. */
  clockFactor: number;
  /** Durations kept per benchmark. */
  reservoirSize: number;
  /** Warm-up: at least this many calls of each benchmark are set aside… */
  warmupCalls: number;
  /** …and at least this many milliseconds of its calls. */
  warmupMs: number;
  /** Kept calls over this many times the p99 are not scored; `null`: none. */
  outlierFactor: number | null;
  /** The gate, or `null` when none is set. */
  failUnder: number | null;
  /** The names of the benchmarks below the gate. */
  belowGate: string[];
  /** The rows, most unstable first. */
  benchmarks: BenchStabilityRow[];
}

const MS_TO_NS = 1e6;

/** Milliseconds to nanoseconds, to a tenth of a nanosecond. */
function ns(ms: number): number {
  return Math.round(ms * MS_TO_NS * 10) / 10;
}

/** What {@linkcode summarize} needs besides the recording. */
export interface SummaryOptions {
  /** The gate. */
  failUnder: number | undefined;
  /** Kept calls over this many times the p99 are not scored. */
  outlierFactor: number | undefined;
}

/** Fewer kept calls than this have no p99 (it would lie beyond the data). */
const P99_SAMPLES = 100;

/**
 * The kept durations without those over `factor` times their 99th
 * percentile: at most 1 % of them, since the factor is at least 1.
 */
function withoutOutliers(
  kept: Float64Array,
  factor: number | undefined,
): Float64Array {
  if (factor === undefined || kept.length < P99_SAMPLES) return kept;
  const [p99] = exclusiveQuantiles(kept.slice(), [99]);
  const limit = factor * p99;
  return kept.filter((ms) => ms <= limit);
}

/**
 * Scores one recording: `computePss` over one trace per kept call
 * (`duration` in seconds, `error` when it threw), so the number means what
 * it means everywhere else in pss.
 */
export function summarize(
  recorder: BenchRecorder,
  options: SummaryOptions,
): BenchStabilityRow {
  const { failUnder } = options;
  const clockBound = recorder.phase === "clockBound";
  const all = recorder.samples();
  const kept = withoutOutliers(all, options.outlierFactor);
  const errored = recorder.errorDurations;
  const estimate = recorder.warmupMedianMs;
  const row: BenchStabilityRow = {
    name: recorder.name,
    group: recorder.group ?? null,
    file: recorder.origin || null, // "" outside deno bench
    pss: null,
    breakdown: null,
    timingStability: null,
    cv: null,
    p50Ns: null,
    p95Ns: null,
    p99Ns: null,
    tailRatio: null,
    maxNs: null,
    meanNs: null,
    calls: clockBound ? recorder.passCalls : recorder.calls,
    warmupCalls: recorder.warmupCalls,
    samples: clockBound ? 0 : kept.length,
    outliers: all.length - kept.length,
    errors: recorder.errors,
    error: recorder.firstError ?? null,
    clockBound,
    estimateNs: estimate === estimate ? ns(estimate) : null,
    belowGate: false,
  };
  if (recorder.calls > 0) {
    row.maxNs = ns(recorder.maxMs);
    row.meanNs = ns(recorder.totalMs / recorder.calls);
  }
  if (kept.length >= 2) {
    row.cv = cv(kept);
    const [p50, p95, p99] = exclusiveQuantiles(kept.slice(), [50, 95, 99]);
    row.p50Ns = ns(p50);
    row.p95Ns = ns(p95);
    row.p99Ns = kept.length >= P99_SAMPLES ? ns(p99) : null;
    row.tailRatio = p50 > 0 ? p95 / p50 : null;
  }
  // Errors alone (a benchmark that threw before any measured call) are no
  // timing to score: the row says it threw, without a number.
  if (!clockBound && kept.length > 0) {
    const report = computePss(traces(recorder.name, kept, errored));
    row.pss = report.pss;
    row.breakdown = report.breakdown;
    row.timingStability = report.breakdown.timingStability;
    row.belowGate = failUnder !== undefined && report.pss < failUnder;
  }
  return row;
}

function* traces(
  name: string,
  kept: Float64Array,
  errored: readonly number[],
): Generator<Trace> {
  for (let i = 0; i < kept.length; i++) {
    yield { name, duration: kept[i] / 1000 };
  }
  for (const ms of errored) yield { name, duration: ms / 1000, error: true };
}

/**
 * The table's order: the most unstable first (lowest PSS, then lowest timing
 * stability as the table shows it, to two decimals), the slowest first among
 * equals; clock-bound and unscored rows last, slowest first. Differences the
 * table does not show do not decide the order.
 */
export function compareRows(
  a: BenchStabilityRow,
  b: BenchStabilityRow,
): number {
  const scoredA = a.pss !== null;
  const scoredB = b.pss !== null;
  if (scoredA !== scoredB) return scoredA ? -1 : 1;
  if (scoredA && a.pss !== b.pss) return a.pss! - b.pss!;
  const tsA = shownTs(a);
  const tsB = shownTs(b);
  if (tsA !== tsB) return tsA - tsB;
  return slowness(b) - slowness(a);
}

/** Timing stability as the TS column shows it (`toFixed(2)`). */
function shownTs(row: BenchStabilityRow): number {
  return Number((row.timingStability ?? 1).toFixed(2));
}

function slowness(row: BenchStabilityRow): number {
  return row.p50Ns ?? row.meanNs ?? row.estimateNs ?? 0;
}

/** Formats a duration in ns the way `deno bench` does (ns, µs, ms, s). */
export function formatNs(ns: number | null): string {
  if (ns === null || !Number.isFinite(ns)) return "—";
  if (ns < 1e3) return `${ns.toFixed(1)} ns`;
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns < 1e9) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

function fixed(value: number | null, digits: number, suffix = ""): string {
  return value === null || !Number.isFinite(value)
    ? "—"
    : `${value.toFixed(digits)}${suffix}`;
}

/**
 * Up to this many samples, the 95th percentile (Python's exclusive method,
 * which the score uses) lies beyond the largest value.
 */
const FEW_SAMPLES = 18;

function note(row: BenchStabilityRow, json: BenchStabilityJson): string {
  const notes: string[] = [];
  if (row.belowGate) notes.push(`below ${json.failUnder}`);
  if (row.clockBound) {
    notes.push(
      `clock-bound: ~${
        formatNs(row.estimateNs)
      }/call < ${json.clockFactor}× clock`,
    );
  } else if (row.pss === null) notes.push("nothing recorded");
  else if (row.samples <= FEW_SAMPLES) {
    notes.push(`${row.samples} samples: p95 extrapolated`);
  }
  if (row.outliers > 0) {
    notes.push(
      `${row.outliers} outlier${
        row.outliers === 1 ? "" : "s"
      } > ${json.outlierFactor}× p99 not scored`,
    );
  }
  if (row.error !== null) notes.push(`threw: ${oneLine(row.error)}`);
  return notes.join("; ");
}

function oneLine(text: string): string {
  const line = text.split("\n")[0];
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/**
 * Renders the stability table as Markdown-style text (the shape of
 * `deno bench`'s own table), with a header line on the clock and warm-up and
 * a footer line on the gate.
 */
export function formatTable(json: BenchStabilityJson): string {
  const head = [
    "benchmark",
    "PSS",
    "TS",
    "CV",
    "p50",
    "p95",
    "p99",
    "p95/p50",
    "max",
    "calls",
    "samples",
    "errors",
    "note",
  ];
  const right = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const rows = json.benchmarks.map((row) => [
    row.group === null ? row.name : `${row.group} › ${row.name}`,
    row.pss === null ? "—" : String(row.pss),
    fixed(row.timingStability, 2),
    fixed(row.cv, 2),
    formatNs(row.p50Ns),
    formatNs(row.p95Ns),
    formatNs(row.p99Ns),
    fixed(row.tailRatio, 2, "×"),
    formatNs(row.maxNs),
    String(row.calls),
    String(row.samples),
    String(row.errors),
    note(row, json),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (cells: string[]): string =>
    `| ${
      cells.map((c, i) =>
        right.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])
      )
        .join(" | ")
    } |`;
  const out = [
    `pss stability (${json.runtime}; clock ${
      formatNs(json.clockCostNs)
    }/timing, calls under ${json.clockFactor}× are clock-bound; warm-up of ≥ ${json.warmupCalls} calls and ≥ ${json.warmupMs} ms excluded; up to ${json.reservoirSize} calls kept per benchmark${
      json.outlierFactor === null
        ? ""
        : `; kept calls over ${json.outlierFactor}× p99 not scored`
    })`,
    line(head),
    `| ${
      widths.map((w, i) =>
        right.has(i) ? `${"-".repeat(w - 1)}:` : "-".repeat(w)
      ).join(" | ")
    } |`,
    ...rows.map(line),
  ];
  if (json.failUnder !== null) {
    out.push(
      json.belowGate.length === 0
        ? `pss gate: every scored benchmark has PSS ≥ ${json.failUnder}`
        : `pss gate: FAILED, ${json.belowGate.length} benchmark${
          json.belowGate.length === 1 ? "" : "s"
        } below PSS ${json.failUnder}: ${json.belowGate.join(", ")}`,
    );
  }
  return out.join("\n");
}
