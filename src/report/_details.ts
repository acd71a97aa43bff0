/**
 * What the text, JSON and HTML reports share about the figures behind a
 * score: how durations print, and which rows drag the score down.
 *
 * @module
 */

import type { PssReport } from "../score/report.ts";
import type { TraceDetails } from "../score/accumulator.ts";
import { PILLARS } from "../score/pss.ts";
import type { NamedPssReport } from "../score/pss.ts";

/** A duration in seconds, printed in a readable unit with 3 significant digits. */
export function formatSeconds(seconds: number): string {
  if (seconds === 0) return "0 ms";
  if (seconds >= 1) return `${Number(seconds.toPrecision(3))} s`;
  if (seconds >= 1e-3) return `${Number((seconds * 1e3).toPrecision(3))} ms`;
  return `${Number((seconds * 1e6).toPrecision(3))} µs`;
}

/** The details a row carries, when it is a `GroupRow`. */
export function detailsOf(row: NamedPssReport): TraceDetails | undefined {
  const details = (row as { details?: TraceDetails }).details;
  return details !== null && typeof details === "object" ? details : undefined;
}

/** One row that pulls the overall score down, with its weakest pillar. */
export interface DragRow {
  name: string;
  pss: number;
  traces: number;
  pillar: string;
  value: number;
}

/**
 * The rows that pull the score down the most: those below 90 (not
 * excellent), ranked by their distance from 100 times their share of the
 * traces, at most `limit`. (A pooled score can sit below every row's, when
 * rows differ from each other: the ranking does not compare with it.)
 */
export function dragRows(
  overall: PssReport,
  rows: readonly NamedPssReport[],
  limit = 3,
): DragRow[] {
  const total = Math.max(1, overall.traceCount);
  return rows
    .filter((r) => r.report.traceCount > 0 && r.report.pss < 90)
    .map((r) => ({
      row: r,
      weight: (100 - r.report.pss) * (r.report.traceCount / total),
    }))
    .sort((a, b) => b.weight - a.weight || a.row.report.pss - b.row.report.pss)
    .slice(0, limit)
    .map(({ row }) => {
      let weakest = PILLARS[0];
      for (const pillar of PILLARS) {
        if (
          row.report.breakdown[pillar.key] < row.report.breakdown[weakest.key]
        ) {
          weakest = pillar;
        }
      }
      return {
        name: row.name,
        pss: row.report.pss,
        traces: row.report.traceCount,
        pillar: weakest.label,
        value: row.report.breakdown[weakest.key],
      };
    });
}

/** The lines of figures under the counts, for text and HTML. */
export function detailLines(details: TraceDetails): string[] {
  const lines: string[] = [];
  if (details.traces > 0) {
    let errors = `Errors: ${details.errors} (${
      ((details.errors / details.traces) * 100).toFixed(1)
    }%)`;
    if (details.exceptions.length > 0) {
      errors += ": " +
        details.exceptions.map((e) => `${e.type} ${e.count}`).join(", ");
    }
    lines.push(errors);
  }
  if (details.latency !== undefined) {
    const l = details.latency;
    lines.push(
      `Latency: p50 ${formatSeconds(l.p50)}, p95 ${formatSeconds(l.p95)}, p99 ${
        formatSeconds(l.p99)
      }, max ${formatSeconds(l.max)}`,
    );
  }
  if (details.lag !== undefined) {
    const l = details.lag;
    lines.push(
      `Event-loop lag: mean ${formatSeconds(l.mean)}, p95 ${
        formatSeconds(l.p95)
      }, max ${formatSeconds(l.max)} (${l.samples} ${
        l.samples === 1 ? "sample" : "samples"
      })`,
    );
  }
  return lines;
}

/** The sentence naming the rows that drag the score down. */
export function dragSentence(drag: readonly DragRow[], label: string): string {
  return `${
    label === "name" ? "Operations" : `Rows by ${label}`
  } pulling the score down: ${
    drag.map((d) =>
      `${d.name} (PSS ${d.pss}, ${d.traces} traces; weakest: ${d.pillar} ${
        d.value.toFixed(2)
      })`
    ).join("; ")
  }.`;
}
