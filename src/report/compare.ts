/**
 * Compares two scores (a baseline and a head), overall and per row: the
 * change of the score and of every pillar, rows that appeared or vanished,
 * and a regression gate (`maxDrop`) for CI.
 *
 * @module
 */

import type { PssBreakdown, PssReport } from "../score/report.ts";
import { PILLARS } from "../score/pss.ts";
import { roundPypss } from "../score/round.ts";
import { PssConfigError } from "../score/config.ts";
import { checkKnownKeys, positiveInteger } from "../_options.ts";

/**
 * One row (name, module, host or process) on both sides.
 *
 * @example
 * ```ts
 * import { compareReports, type RowChange } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const base = { pss: 90, breakdown: { timingStability: 1, memoryStability: 1, errorVolatility: 1, branchingEntropy: 1, concurrencyChaos: 1 }, traceCount: 50, systemTraceCount: 0, skippedCount: 0 };
 * const head = { ...base, pss: 80 };
 * const change: RowChange = compareReports(
 *   { report: base, rows: [{ name: "op", report: base }] },
 *   { report: head, rows: [{ name: "op", report: head }] },
 * ).rows[0];
 * assert.equal(change.name, "op");
 * assert.equal(change.delta?.pss, -10);
 * ```
 */
export interface RowChange {
  /** The row's key. */
  name: string;
  /** Its report in the baseline; `undefined` when it appeared in the head. */
  base: PssReport | undefined;
  /** Its report in the head; `undefined` when it vanished. */
  head: PssReport | undefined;
  /** Head minus base, when the row is on both sides. */
  delta: ScoreDelta | undefined;
  /** Whether this row failed the gate. */
  failed: boolean;
}

/**
 * Head minus base of a score and its pillars.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { compareReports, type ScoreDelta } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const base = computePss([{ name: "op", duration: 0.1 }]);
 * const head = computePss([{ name: "op", duration: 0.1 }, { name: "op", duration: 0.1, error: true }]);
 * const delta: ScoreDelta = compareReports({ report: base, rows: [] }, { report: head, rows: [] }).delta;
 * assert.ok(delta.pss < 0);
 * assert.ok(delta.breakdown.errorVolatility < 0);
 * assert.equal(delta.breakdown.timingStability, 0);
 * ```
 */
export interface ScoreDelta {
  /** The change of the integer score, in points. */
  pss: number;
  /** The change of each pillar. */
  breakdown: PssBreakdown;
}

/**
 * A score with its rows, one side of a comparison.
 *
 * @example
 * ```ts
 * import { computePss, computePssByName, type Trace } from "@pss/pss";
 * import type { ComparedSide } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const traces: Trace[] = [{ name: "op", duration: 0.1 }];
 * const side: ComparedSide = { report: computePss(traces), rows: computePssByName(traces) };
 * assert.equal(side.rows.length, 1);
 * ```
 */
export interface ComparedSide {
  /** The overall report. */
  report: PssReport;
  /** The per-row reports. */
  rows: readonly { name: string; report: PssReport }[];
}

/**
 * Options of {@linkcode compareReports}.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { compareReports, type CompareOptions } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const options: CompareOptions = { maxDrop: 5, minTraces: 30 };
 * const report = computePss([{ name: "op", duration: 0.1 }]);
 * const result = compareReports({ report, rows: [] }, { report, rows: [] }, options);
 * assert.equal(result.failed, false);
 * ```
 */
export interface CompareOptions {
  /**
   * The gate: the comparison fails when the overall score, or a row with
   * at least `minTraces` traces on both sides, dropped by more than this
   * many points.
   * @default {undefined (no gate)}
   */
  maxDrop?: number;
  /**
   * The smallest row (in traces, on each side) that the gate judges.
   * @default {30}
   */
  minTraces?: number;
}

/**
 * The result of {@linkcode compareReports}.
 *
 * @example
 * ```ts
 * import { type Comparison, compareReports } from "@pss/pss/report";
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const base = computePss([{ name: "op", duration: 0.1 }, { name: "op", duration: 0.1 }]);
 * const head = computePss([{ name: "op", duration: 0.1 }, { name: "op", duration: 0.3, error: true }]);
 * const result: Comparison = compareReports({ report: base, rows: [] }, { report: head, rows: [] }, { maxDrop: 5 });
 * assert.ok(result.delta.pss < 0);
 * assert.equal(result.failed, true);
 * ```
 */
export interface Comparison {
  /** The baseline's overall report. */
  base: PssReport;
  /** The head's overall report. */
  head: PssReport;
  /** Head minus base, overall. */
  delta: ScoreDelta;
  /** Every row of either side, worst change first; vanished and appeared rows last. */
  rows: RowChange[];
  /** Keys of rows only in the head. */
  appeared: string[];
  /** Keys of rows only in the baseline. */
  vanished: string[];
  /** The gate's settings. */
  maxDrop: number | undefined;
  /** The smallest row the gate judges. */
  minTraces: number;
  /** Whether the overall score failed the gate. */
  overallFailed: boolean;
  /** Whether anything failed the gate. */
  failed: boolean;
}

function deltaOf(base: PssReport, head: PssReport): ScoreDelta {
  const breakdown = {} as PssBreakdown;
  for (const { key } of PILLARS) {
    breakdown[key] = head.breakdown[key] - base.breakdown[key];
  }
  return { pss: head.pss - base.pss, breakdown };
}

/**
 * Compares a baseline with a head: the change of the score and of every
 * pillar, overall and per row, and the gate's verdict.
 *
 * @param base The baseline.
 * @param head The side compared with it.
 * @param options See {@linkcode CompareOptions}.
 * @returns The comparison.
 * @throws {PssConfigError} When `maxDrop` is not a number from 0 to 100 or
 * `minTraces` not a positive integer.
 *
 * @example Gate a pull request on a drop of more than 5 points
 * ```ts
 * import { compareReports } from "@pss/pss/report";
 * import { computePss, computePssByName, type Trace } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const before: Trace[] = [{ name: "db", duration: 0.01 }, { name: "db", duration: 0.01 }];
 * const after: Trace[] = [{ name: "db", duration: 0.01 }, { name: "db", duration: 0.09, error: true }];
 * const side = (traces: Trace[]) => ({ report: computePss(traces), rows: computePssByName(traces) });
 * const result = compareReports(side(before), side(after), { maxDrop: 5, minTraces: 1 });
 * assert.equal(result.failed, true);
 * assert.equal(result.rows[0].name, "db");
 * ```
 */
export function compareReports(
  base: ComparedSide,
  head: ComparedSide,
  options: CompareOptions = {},
): Comparison {
  checkKnownKeys("compareReports", options, ["maxDrop", "minTraces"]);
  const { maxDrop } = options;
  const minTraces = options.minTraces ?? 30;
  if (
    maxDrop !== undefined &&
    !(typeof maxDrop === "number" && maxDrop >= 0 && maxDrop <= 100)
  ) {
    throw new PssConfigError(
      "maxDrop",
      maxDrop,
      "compareReports' 'maxDrop' must be a number from 0 to 100",
    );
  }
  positiveInteger("compareReports", "minTraces", minTraces);
  const delta = deltaOf(base.report, head.report);
  const overallFailed = maxDrop !== undefined && -delta.pss > maxDrop;
  const baseRows = new Map(base.rows.map((r) => [r.name, r.report]));
  const headRows = new Map(head.rows.map((r) => [r.name, r.report]));
  const names = new Set([...baseRows.keys(), ...headRows.keys()]);
  const rows: RowChange[] = [];
  const appeared: string[] = [];
  const vanished: string[] = [];
  for (const name of names) {
    const before = baseRows.get(name);
    const after = headRows.get(name);
    if (before === undefined) appeared.push(name);
    if (after === undefined) vanished.push(name);
    const change = before !== undefined && after !== undefined
      ? deltaOf(before, after)
      : undefined;
    const failed = change !== undefined && maxDrop !== undefined &&
      -change.pss > maxDrop && before!.traceCount >= minTraces &&
      after!.traceCount >= minTraces;
    rows.push({ name, base: before, head: after, delta: change, failed });
  }
  rows.sort((a, b) =>
    Number(a.delta === undefined) - Number(b.delta === undefined) ||
    (a.delta?.pss ?? 0) - (b.delta?.pss ?? 0) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
  const byName = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0;
  return {
    base: base.report,
    head: head.report,
    delta,
    rows,
    appeared: appeared.sort(byName),
    vanished: vanished.sort(byName),
    maxDrop,
    minTraces,
    overallFailed,
    failed: overallFailed || rows.some((r) => r.failed),
  };
}

/** The widest row name shown in the text comparison. */
const NAME_WIDTH = 40;

function signed(value: number, digits: number): string {
  const text = roundPypss(value, digits).toFixed(digits);
  return value > 0 && Number(text) !== 0
    ? `+${text}`
    : text === "-0.00"
    ? "0.00"
    : text;
}

/**
 * Renders a comparison as a plain-text table, worst change first.
 *
 * @param comparison From {@linkcode compareReports}.
 * @param options `maxRows`: rows shown (default 25); `color`: ANSI colours.
 * @returns The text, ending with a newline.
 *
 * @example
 * ```ts
 * import { compareReports, renderComparisonText } from "@pss/pss/report";
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1 }]);
 * const text = renderComparisonText(compareReports({ report, rows: [] }, { report, rows: [] }));
 * assert.match(text, /PSS/);
 * ```
 */
export function renderComparisonText(
  comparison: Comparison,
  options: { maxRows?: number; color?: boolean } = {},
): string {
  checkKnownKeys("renderComparisonText", options, ["maxRows", "color"]);
  const maxRows = positiveInteger(
    "renderComparisonText",
    "maxRows",
    options.maxRows ?? 25,
  );
  const paint = (code: string, text: string): string =>
    options.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  const { base, head, delta } = comparison;
  const lines = [
    paint("1", "PSS comparison (base → head)"),
    "============================",
    `PSS: ${base.pss} → ${head.pss} (${
      paint(
        delta.pss < 0 ? "31" : delta.pss > 0 ? "32" : "0",
        signed(delta.pss, 0),
      )
    })${
      comparison.overallFailed ? "  " + paint("31", "FAILED --max-drop") : ""
    }`,
    "",
  ];
  const width = Math.max(...PILLARS.map((p) => p.label.length));
  for (const pillar of PILLARS) {
    lines.push(
      `  ${pillar.label.padEnd(width)}  ${
        base.breakdown[pillar.key].toFixed(2)
      } → ${head.breakdown[pillar.key].toFixed(2)}  (${
        signed(delta.breakdown[pillar.key], 2)
      })`,
    );
  }
  lines.push(
    "",
    `Traces: ${base.traceCount} → ${head.traceCount}`,
  );
  const compared = comparison.rows.filter((r) => r.delta !== undefined);
  if (compared.length > 0) {
    const shown = compared.slice(0, maxRows);
    const nameWidth = Math.max(
      4,
      ...shown.map((r) => Math.min(NAME_WIDTH, r.name.length)),
    );
    lines.push(
      "",
      `Rows (${compared.length}, worst change first):`,
      [
        "  " + "name".padEnd(nameWidth),
        "base",
        "head",
        "  Δ",
        ...PILLARS.map((p) => `Δ${p.abbreviation}`.padStart(5)),
        "traces",
      ].join("  "),
    );
    for (const row of shown) {
      // The end of a long name tells rows apart (a benchmark's name after
      // its file, a function after its module): cut from the left.
      const name = row.name.length > NAME_WIDTH
        ? `…${row.name.slice(-(NAME_WIDTH - 1))}`
        : row.name;
      lines.push(
        [
          "  " + name.padEnd(nameWidth),
          String(row.base!.pss).padStart(4),
          String(row.head!.pss).padStart(4),
          signed(row.delta!.pss, 0).padStart(3),
          ...PILLARS.map((p) =>
            signed(row.delta!.breakdown[p.key], 2).padStart(5)
          ),
          `${row.base!.traceCount}→${row.head!.traceCount}` +
          (row.failed ? "  " + paint("31", "FAILED") : ""),
        ].join("  "),
      );
    }
    if (compared.length > shown.length) {
      lines.push(`  … and ${compared.length - shown.length} more`);
    }
  }
  if (comparison.appeared.length > 0) {
    lines.push(
      "",
      `Appeared (${comparison.appeared.length}): ${
        comparison.appeared.join(", ")
      }`,
    );
  }
  if (comparison.vanished.length > 0) {
    lines.push(
      "",
      `Vanished (${comparison.vanished.length}): ${
        comparison.vanished.join(", ")
      }`,
    );
  }
  if (comparison.maxDrop !== undefined) {
    lines.push(
      "",
      comparison.failed
        ? paint(
          "31",
          `Gate failed: a drop of more than ${comparison.maxDrop} points.`,
        )
        : `Gate passed: no drop of more than ${comparison.maxDrop} points (rows with at least ${comparison.minTraces} traces).`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * The JSON form of a comparison (snake_case keys, like the JSON report).
 *
 * @param comparison From {@linkcode compareReports}.
 * @returns A plain object for `JSON.stringify`.
 *
 * @example
 * ```ts
 * import { comparisonToJson, compareReports } from "@pss/pss/report";
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1 }]);
 * const json = comparisonToJson(compareReports({ report, rows: [] }, { report, rows: [] }));
 * assert.equal(json.delta.pss, 0);
 * ```
 */
export function comparisonToJson(comparison: Comparison): ComparisonJson {
  return {
    base: sideJson(comparison.base),
    head: sideJson(comparison.head),
    delta: deltaJson(comparison.delta),
    rows: comparison.rows.map((row) => ({
      name: row.name,
      base: row.base === undefined ? null : sideJson(row.base),
      head: row.head === undefined ? null : sideJson(row.head),
      delta: row.delta === undefined ? null : deltaJson(row.delta),
      failed: row.failed,
    })),
    appeared: comparison.appeared,
    vanished: comparison.vanished,
    gate: {
      max_drop: comparison.maxDrop ?? null,
      min_traces: comparison.minTraces,
      failed: comparison.failed,
    },
  };
}

/**
 * The JSON form of a comparison, as `pss compare --format json` writes it.
 *
 * @example
 * ```ts
 * import { type ComparisonJson, comparisonToJson, compareReports } from "@pss/pss/report";
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1 }]);
 * const json: ComparisonJson = comparisonToJson(compareReports({ report, rows: [] }, { report, rows: [] }));
 * assert.equal(json.gate.failed, false);
 * ```
 */
export interface ComparisonJson {
  /** The baseline, overall. */
  base: ComparisonSideJson;
  /** The head, overall. */
  head: ComparisonSideJson;
  /** Head minus base, overall. */
  delta: ComparisonDeltaJson;
  /** Every row, worst change first; `null` for a side the row is missing from. */
  rows: {
    name: string;
    base: ComparisonSideJson | null;
    head: ComparisonSideJson | null;
    delta: ComparisonDeltaJson | null;
    failed: boolean;
  }[];
  /** Rows only in the head. */
  appeared: string[];
  /** Rows only in the baseline. */
  vanished: string[];
  /** The gate's settings and verdict. */
  gate: { max_drop: number | null; min_traces: number; failed: boolean };
}

/**
 * One side of a row or of the whole, in the JSON comparison: pillars under
 * pypss's snake_case keys, unrounded.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { compareReports, comparisonToJson, type ComparisonSideJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1 }]);
 * const head: ComparisonSideJson = comparisonToJson(compareReports({ report, rows: [] }, { report, rows: [] })).head;
 * assert.equal(head.pss, 100);
 * assert.equal(head.breakdown.timing_stability, 1);
 * ```
 */
export interface ComparisonSideJson {
  /** The score. */
  pss: number;
  /** The pillars. */
  breakdown: Record<string, number>;
  /** Regular traces scored. */
  traces: number;
}

/**
 * A change (head minus base), in the JSON comparison.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { compareReports, comparisonToJson, type ComparisonDeltaJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const base = computePss([{ name: "op", duration: 0.1 }]);
 * const head = computePss([{ name: "op", duration: 0.1 }, { name: "op", duration: 0.1, error: true }]);
 * const delta: ComparisonDeltaJson = comparisonToJson(compareReports({ report: base, rows: [] }, { report: head, rows: [] })).delta;
 * assert.ok(delta.pss < 0);
 * assert.ok(delta.breakdown.error_volatility < 0);
 * ```
 */
export interface ComparisonDeltaJson {
  /** Points. */
  pss: number;
  /** Per pillar. */
  breakdown: Record<string, number>;
}

type SideJson = ComparisonSideJson;
type DeltaJson = ComparisonDeltaJson;

function sideJson(report: PssReport): SideJson {
  return {
    pss: report.pss,
    breakdown: Object.fromEntries(
      PILLARS.map((p) => [p.pypssKey, report.breakdown[p.key]]),
    ),
    traces: report.traceCount,
  };
}

function deltaJson(delta: ScoreDelta): DeltaJson {
  return {
    pss: delta.pss,
    breakdown: Object.fromEntries(
      PILLARS.map((p) => [p.pypssKey, delta.breakdown[p.key]]),
    ),
  };
}
