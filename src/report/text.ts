/**
 * The plain-text report, the counterpart of pypss's `render_report_text`.
 *
 * @module
 */

import type { PssReport } from "../score/report.ts";
import {
  type DiagnoseOptions,
  diagnoseReport,
  formatPillar,
  rankByName,
  type ReportsByName,
  type Severity,
  type Verdict,
} from "./diagnose.ts";
import { PILLARS } from "../score/pss.ts";
import { checkKnownKeys } from "../_options.ts";
import { roundPypss } from "../score/round.ts";
import { PssConfigError } from "../score/config.ts";
import type { TraceDetails } from "../score/accumulator.ts";
import {
  detailLines,
  detailsOf,
  dragRows,
  dragSentence,
  formatSeconds,
} from "./_details.ts";

/**
 * Options of {@linkcode renderReportText}.
 *
 * @example
 * ```ts
 * import { computePss, computePssByName, renderReportText, type TextReportOptions } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const traces = [{ name: "a", duration: 0.1 }, { name: "b", duration: 0.3 }];
 * const options: TextReportOptions = { title: "Nightly load test", byName: computePssByName(traces), maxNames: 10 };
 * const text = renderReportText(computePss(traces), options);
 * assert.equal(text.split("\n")[0], "Nightly load test");
 * ```
 */
export interface TextReportOptions {
  /**
   * Per-name reports (what `computePssByName` returns) to list in a table,
   * worst first.
   * @default {undefined} (no table)
   */
  byName?: ReportsByName;
  /**
   * At most this many rows in the per-name table; the rest are counted in
   * a closing line.
   * @default {25}
   */
  maxNames?: number;
  /**
   * Colour the verdict, the weak pillars and headings with ANSI escapes.
   * @default {false}
   */
  color?: boolean;
  /**
   * The first line.
   * @default {"Program Stability Score (PSS) Report"}
   */
  title?: string;
  /**
   * Diagnosis thresholds replacing the defaults for the pillars given.
   * @default {DEFAULT_DIAGNOSIS_THRESHOLDS}
   */
  thresholds?: DiagnoseOptions["thresholds"];
  /**
   * The figures behind the score (from `PssAccumulator.details()`): error
   * counts and types, latency percentiles, event-loop lag. Rows that are
   * `GroupRow`s show theirs in the table.
   * @default {undefined} (counts only)
   */
  details?: TraceDetails;
  /**
   * What the rows are keyed by, for headings: `name`, `module`, `host`,
   * `pid`.
   * @default {"name"}
   */
  rowLabel?: string;
}

const BAR_CELLS = 20;
const WRAP = 78;
const MAX_NAME_WIDTH = 40;

const ANSI = {
  bold: "1",
  red: "31",
  green: "32",
  yellow: "33",
  dim: "2",
} as const;

const VERDICT_COLOR: Readonly<Record<Verdict, keyof typeof ANSI>> = {
  excellent: "green",
  good: "green",
  fair: "yellow",
  unstable: "red",
  "no-data": "dim",
};

const SEVERITY_COLOR: Readonly<Record<Severity, keyof typeof ANSI>> = {
  warning: "yellow",
  critical: "red",
};

/** Every key of {@linkcode TextReportOptions}. */
const TEXT_OPTION_KEYS: readonly (keyof TextReportOptions)[] = [
  "byName",
  "maxNames",
  "color",
  "title",
  "thresholds",
  "details",
  "rowLabel",
];

/**
 * Renders a report as plain text for a terminal or a log: the score out of
 * 100 with its verdict, the five pillars to two decimals (rounded like
 * Python's `round(x, 2)`, in pypss's order) with bars, the trace counts,
 * a diagnosis of the weak pillars, and optionally a per-name table sorted
 * worst first. No colours unless `color` is set; control characters in
 * names are escaped so a trace name cannot drive the terminal.
 *
 * @param report The report to render.
 * @param options Per-name reports, colours, title, thresholds.
 * @returns The text, lines separated by `\n`, ending with a newline.
 * @throws {PssConfigError} For an unknown option (naming the closest known
 * one), a `maxNames` that is not an integer ≥ 0, or an invalid threshold
 * override.
 *
 * @example
 * ```ts
 * import { computePss, renderReportText } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const report = computePss([
 *   { name: "op", duration: 0.10 },
 *   { name: "op", duration: 0.12, error: true },
 * ]);
 * assert.match(renderReportText(report), /Error Volatility/);
 * ```
 */
export function renderReportText(
  report: PssReport,
  options: TextReportOptions = {},
): string {
  checkKnownKeys("renderReportText", options, TEXT_OPTION_KEYS);
  const maxNames = options.maxNames ?? 25;
  if (!Number.isSafeInteger(maxNames) || maxNames < 0) {
    throw new PssConfigError(
      "maxNames",
      maxNames,
      "renderReportText's 'maxNames' must be an integer ≥ 0",
    );
  }
  const color = options.color ?? false;
  const paint = (code: keyof typeof ANSI, text: string): string =>
    color ? `\x1b[${ANSI[code]}m${text}\x1b[0m` : text;
  const diagnosis = diagnoseReport(report, { thresholds: options.thresholds });
  const severities = new Map(
    diagnosis.findings.map((f) => [f.pillar, f.severity]),
  );
  const title = sanitize(
    options.title ?? "Program Stability Score (PSS) Report",
  );
  const lines: string[] = [
    paint("bold", title),
    "=".repeat(Math.min(title.length, WRAP)),
    `PSS: ${report.pss}/100 (${
      paint(VERDICT_COLOR[diagnosis.verdict], diagnosis.verdict)
    })`,
    "",
    paint("bold", "Breakdown:"),
  ];
  const labelWidth = Math.max(...PILLARS.map((p) => p.label.length));
  for (const pillar of PILLARS) {
    const value = report.breakdown[pillar.key];
    const severity = severities.get(pillar.key);
    let line = `  ${pillar.label.padEnd(labelWidth)}  ${formatPillar(value)}  ${
      bar(value)
    }`;
    if (severity !== undefined) {
      line += `  ${paint(SEVERITY_COLOR[severity], severity)}`;
    }
    lines.push(line);
  }
  lines.push("", countsLine(report));
  if (options.details !== undefined) {
    lines.push(...detailLines(options.details).map(sanitize));
  }
  lines.push("");
  const rowLabel = options.rowLabel ?? "name";
  const ranked = options.byName === undefined
    ? undefined
    : rankByName(options.byName);

  lines.push(`${paint("bold", "Diagnosis:")} ${diagnosis.headline}`);
  if (diagnosis.verdict !== "no-data" && diagnosis.findings.length === 0) {
    lines.push("  Every pillar is healthy.");
  }
  for (const finding of diagnosis.findings) {
    const head = `${finding.label} ${finding.value.toFixed(2)} (${
      paint(SEVERITY_COLOR[finding.severity], finding.severity)
    }): `;
    lines.push(...wrap(`${head}${finding.summary}`, "  - ", "    "));
    lines.push(...wrap(finding.causes, "    ", "    "));
  }
  for (const note of diagnosis.notes) lines.push(...wrap(note, "  * ", "    "));
  const drag = ranked === undefined ? [] : dragRows(report, ranked);
  if (drag.length > 0) {
    lines.push(...wrap(sanitize(dragSentence(drag, rowLabel)), "  > ", "    "));
  }

  if (ranked !== undefined) {
    lines.push("", ...byNameTable(ranked, maxNames, rowLabel));
  }
  return lines.join("\n") + "\n";
}

function countsLine(report: PssReport): string {
  let line = `Traces: ${report.traceCount} scored`;
  if (report.systemTraceCount > 0) {
    line += `, ${report.systemTraceCount} system`;
  }
  if (report.skippedCount > 0) {
    line += `, ${report.skippedCount} skipped as malformed`;
  }
  // Every trace read appears in a count, those no pillar uses too.
  const unused = report.unusedCount ?? 0;
  if (unused > 0) line += `, ${unused} unused (no pillar reads them)`;
  return line;
}

function bar(value: number): string {
  const cells = Math.max(
    0,
    Math.min(BAR_CELLS, Math.round(roundPypss(value, 2) * BAR_CELLS)),
  );
  return "█".repeat(cells) + "░".repeat(BAR_CELLS - cells);
}

function byNameTable(
  ranked: ReturnType<typeof rankByName>,
  maxNames: number,
  rowLabel: string,
): string[] {
  const lines = [`By ${rowLabel} (${ranked.length}, worst first):`];
  if (ranked.length === 0) {
    lines.push(`  (no ${rowLabel === "name" ? "names" : "rows"})`);
    return lines;
  }
  const withDetails = ranked.some((r) => detailsOf(r) !== undefined);
  const shown = ranked.slice(0, Math.max(0, maxNames));
  const names = shown.map((r) => truncate(sanitize(r.name), MAX_NAME_WIDTH));
  const width = Math.max(4, ...names.map((n) => n.length));
  const header = [
    "  " + rowLabel.padEnd(width),
    "pss".padStart(3),
    ...PILLARS.map((p) => p.abbreviation.padStart(4)),
    "traces",
    ...(withDetails ? ["errors", "p95".padStart(8), "top exception"] : []),
  ];
  lines.push(header.join("  "));
  shown.forEach((row, i) => {
    const { report } = row;
    const details = detailsOf(row);
    const extra = !withDetails ? [] : details === undefined ? ["", "", ""] : [
      String(details.errors).padStart(6),
      (details.latency === undefined ? "-" : formatSeconds(details.latency.p95))
        .padStart(8),
      sanitize(truncate(
        details.exceptions[0] === undefined
          ? ""
          : `${details.exceptions[0].type} ${details.exceptions[0].count}`,
        30,
      )),
    ];
    lines.push(
      [
        "  " + names[i].padEnd(width),
        String(report.pss).padStart(3),
        ...PILLARS.map((p) => formatPillar(report.breakdown[p.key])),
        String(report.traceCount).padStart(6),
        ...extra,
      ].join("  ").trimEnd(),
    );
  });
  if (ranked.length > shown.length) {
    lines.push(`  … and ${ranked.length - shown.length} more`);
  }
  return lines;
}

/** Escapes C0 and C1 control characters so names cannot move the cursor or recolour the terminal. */
function sanitize(text: string): string {
  return text.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function truncate(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** Greedy word wrap to {@linkcode WRAP} columns; escape sequences are counted as text (close enough). */
function wrap(text: string, first: string, rest: string): string[] {
  const lines: string[] = [];
  let line = first;
  let empty = true;
  for (const word of text.split(" ")) {
    if (!empty && line.length + 1 + word.length > WRAP) {
      lines.push(line);
      line = rest + word;
    } else {
      line += (empty ? "" : " ") + word;
    }
    empty = false;
  }
  lines.push(line);
  return lines;
}
