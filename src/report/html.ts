/**
 * The HTML report: one self-contained page (inline CSS, no script, no
 * external asset) with the score, pillar bars, the diagnosis and a
 * per-name table.
 *
 * @module
 */

import type { PssReport } from "../score/report.ts";
import { roundPypss } from "../score/round.ts";
import { checkKnownKeys } from "../_options.ts";
import {
  type DiagnoseOptions,
  diagnoseReport,
  formatPillar,
  pillarSeverity,
  rankByName,
  type ReportsByName,
  type Verdict,
} from "./diagnose.ts";
import { type NamedPssReport, PILLARS } from "../score/pss.ts";
import type { TraceDetails } from "../score/accumulator.ts";
import {
  detailLines,
  detailsOf,
  dragRows,
  dragSentence,
  formatSeconds,
} from "./_details.ts";

/**
 * Options of {@linkcode renderReportHtml}.
 *
 * @example
 * ```ts
 * import { computePss, computePssByName, type HtmlReportOptions, renderReportHtml } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const traces = [{ name: "a", duration: 0.1 }, { name: "b", duration: 0.3 }];
 * const options: HtmlReportOptions = { title: "Nightly load test", subtitle: "traces.ndjson", byName: computePssByName(traces) };
 * const html = renderReportHtml(computePss(traces), options);
 * assert.ok(html.includes("<title>Nightly load test</title>"));
 * ```
 */
export interface HtmlReportOptions {
  /**
   * Per-name reports (what `computePssByName` returns) to list in a table,
   * worst first.
   * @default {undefined} (no table)
   */
  byName?: ReportsByName;
  /**
   * The page title and heading.
   * @default {"Program Stability Score (PSS) Report"}
   */
  title?: string;
  /**
   * A line under the heading, such as the input file name.
   * @default {undefined} (none)
   */
  subtitle?: string;
  /**
   * Diagnosis thresholds replacing the defaults for the pillars given.
   * @default {DEFAULT_DIAGNOSIS_THRESHOLDS}
   */
  thresholds?: DiagnoseOptions["thresholds"];
  /**
   * The figures behind the score (from `PssAccumulator.details()`); rows
   * that are `GroupRow`s get a latency histogram, an error timeline and
   * their branch tags, drawn as inline SVG.
   * @default {undefined} (counts only)
   */
  details?: TraceDetails;
  /**
   * What the rows are keyed by, for headings.
   * @default {"name"}
   */
  rowLabel?: string;
}

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @param text Any string.
 * @returns The string with `&`, `<`, `>`, `"` and `'` replaced by entities.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapeHtml } from "./html.ts";
 * assert.equal(escapeHtml(`<script>alert("x")</script>`), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
 * ```
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

const ENTITIES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

const CSS = `
:root{--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--none:#6e7781;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--track:#eef1f4}
*{box-sizing:border-box}
body{margin:0;padding:32px;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:#f6f8fa}
main{max-width:920px;margin:0 auto;background:#fff;border:1px solid var(--line);border-radius:12px;padding:28px 32px}
h1{font-size:22px;margin:0}
h2{font-size:17px;margin:28px 0 10px}
.sub{color:var(--muted);margin:4px 0 0;overflow-wrap:anywhere}
.score{display:flex;align-items:center;gap:20px;margin-top:20px}
.num{font-size:56px;font-weight:700;line-height:1}
.num small{font-size:20px;color:var(--muted);font-weight:400}
.badge{display:inline-block;padding:2px 10px;border-radius:999px;color:#fff;font-weight:600;font-size:13px;text-transform:uppercase;letter-spacing:.04em}
.v-excellent,.v-good,.s-ok{background:var(--ok)}.v-fair,.s-warning{background:var(--warn)}.v-unstable,.s-critical{background:var(--bad)}.v-no-data{background:var(--none)}
.headline{margin:6px 0 0;color:var(--muted)}
.counts{color:var(--muted);margin-top:14px}
.pillar{display:grid;grid-template-columns:200px 48px 1fr 76px;align-items:center;gap:12px;padding:6px 0}
.val{font-variant-numeric:tabular-nums;text-align:right;font-weight:600}
.track{height:12px;background:var(--track);border-radius:6px;overflow:hidden}
.fill{height:100%;border-radius:6px}
.tag{font-size:12px;font-weight:600;text-transform:uppercase}
.t-warning{color:var(--warn)}.t-critical{color:var(--bad)}
.finding{border-left:4px solid var(--line);padding:4px 12px;margin:10px 0}
.finding.f-warning{border-color:var(--warn)}.finding.f-critical{border-color:var(--bad)}
.finding p{margin:2px 0}.finding .causes{color:var(--muted)}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:6px 8px;border-bottom:1px solid var(--line);text-align:right}
th:first-child,td:first-child{text-align:left;overflow-wrap:anywhere}
th{font-size:13px;color:var(--muted)}
td.c-warning{color:var(--warn);font-weight:600}td.c-critical{color:var(--bad);font-weight:600}
footer{margin-top:28px;color:var(--muted);font-size:12px}
.gauge{width:150px;flex:none}
.figures{margin:6px 0 0;padding-left:18px;color:var(--muted)}
.drag{border-left:4px solid var(--bad);padding:4px 12px}
.scroll{overflow-x:auto}
.scroll td:first-child{min-width:8em}
th button{all:unset;cursor:pointer;white-space:nowrap}
th button:focus-visible{outline:2px solid #0969da}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(240px,1fr));gap:16px;margin:8px 0 16px}
.charts figure{margin:0}.charts figcaption{font-size:13px;color:var(--muted)}
.charts svg{width:100%;height:auto;display:block}
details.row{border-bottom:1px solid var(--line);padding:6px 0}
details.row summary{cursor:pointer;overflow-wrap:anywhere}
@media (max-width:640px){body{padding:8px}main{padding:16px;border-radius:8px}.score{flex-direction:column;align-items:flex-start}.pillar{grid-template-columns:1fr 44px;row-gap:2px}.pillar .track{grid-column:1/3}.pillar .tag{grid-column:1/3}th,td{padding:4px 5px;font-size:13px}}
`.trim();

/** Sorts the rows table by the clicked column; numbers by `data-v`. */
const SCRIPT = `
for (const table of document.querySelectorAll("table.sortable")) {
  const heads = [...table.tHead.rows[0].cells];
  heads.forEach((th, column) => {
    th.querySelector("button").addEventListener("click", () => {
      const ascending = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach((h) => h.removeAttribute("aria-sort"));
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const key = (row) => {
        const cell = row.cells[column];
        const v = cell.dataset.v;
        return v === undefined ? cell.textContent : Number(v);
      };
      const rows = [...body.rows].sort((a, b) => {
        const x = key(a), y = key(b);
        const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      body.append(...rows);
    });
  });
}
`.trim();

/** Every key of {@linkcode HtmlReportOptions}. */
const HTML_OPTION_KEYS: readonly (keyof HtmlReportOptions)[] = [
  "byName",
  "title",
  "subtitle",
  "thresholds",
  "details",
  "rowLabel",
];

/**
 * Renders a report as one self-contained HTML page: inline CSS and SVG,
 * no external asset and no network (with rows, one small inline script
 * sorts the table), so it can be attached to a CI run or opened from disk. Every string that comes from traces (names) or the
 * caller (title, subtitle) is escaped.
 *
 * @param report The report to render.
 * @param options Per-name reports, title, subtitle, thresholds.
 * @returns The HTML document, starting with `<!DOCTYPE html>`.
 * @throws {PssConfigError} For an unknown option (naming the closest known
 * one) or an invalid threshold override.
 *
 * @example
 * ```ts
 * import { computePss, renderReportHtml } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const html = renderReportHtml(computePss([{ name: "op", duration: 0.1 }]), {
 *   subtitle: "traces.ndjson",
 * });
 * assert.ok(html.startsWith("<!DOCTYPE html>"));
 * assert.ok(html.includes("traces.ndjson"));
 * ```
 */
export function renderReportHtml(
  report: PssReport,
  options: HtmlReportOptions = {},
): string {
  checkKnownKeys("renderReportHtml", options, HTML_OPTION_KEYS);
  const thresholds = options.thresholds;
  const diagnosis = diagnoseReport(report, { thresholds });
  const severities = new Map(
    diagnosis.findings.map((f) => [f.pillar, f.severity]),
  );
  const title = escapeHtml(
    options.title ?? "Program Stability Score (PSS) Report",
  );
  const out: string[] = [
    "<!DOCTYPE html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<style>${CSS}</style>`,
    "</head>",
    "<body>",
    "<main>",
    `<h1>${title}</h1>`,
  ];
  if (options.subtitle !== undefined) {
    out.push(`<p class="sub">${escapeHtml(options.subtitle)}</p>`);
  }
  out.push(
    '<section class="score">',
    gauge(report.pss, diagnosis.verdict),
    `<div class="num">${report.pss}<small>/100</small></div>`,
    `<div><span class="badge v-${diagnosis.verdict}">${
      verdictLabel(diagnosis.verdict)
    }</span>`,
    `<p class="headline">${escapeHtml(diagnosis.headline)}</p></div>`,
    "</section>",
    `<p class="counts">${escapeHtml(countsText(report))}</p>`,
  );
  if (options.details !== undefined) {
    out.push(
      '<ul class="figures">',
      ...detailLines(options.details).map((line) =>
        `<li>${escapeHtml(line)}</li>`
      ),
      "</ul>",
    );
  }
  out.push("<h2>Pillars</h2>");
  for (const pillar of PILLARS) {
    const value = report.breakdown[pillar.key];
    const severity = severities.get(pillar.key) ?? "ok";
    const percent = Math.max(0, Math.min(100, roundPypss(value, 2) * 100));
    out.push(
      '<div class="pillar">',
      `<span>${pillar.label} (${pillar.abbreviation})</span>`,
      `<span class="val">${formatPillar(value)}</span>`,
      `<div class="track"><div class="fill s-${severity}" style="width:${
        percent.toFixed(0)
      }%"></div></div>`,
      `<span class="tag t-${severity}">${
        severity === "ok" ? "" : severity
      }</span>`,
      "</div>",
    );
  }
  out.push("<h2>Diagnosis</h2>");
  if (diagnosis.verdict !== "no-data" && diagnosis.findings.length === 0) {
    out.push("<p>Every pillar is healthy.</p>");
  } else if (diagnosis.verdict === "no-data") {
    out.push(`<p>${escapeHtml(diagnosis.headline)}</p>`);
  }
  for (const finding of diagnosis.findings) {
    out.push(
      `<div class="finding f-${finding.severity}">`,
      `<p><strong>${escapeHtml(finding.label)} ${
        finding.value.toFixed(2)
      }</strong> <span class="tag t-${finding.severity}">${finding.severity}</span>: ${
        escapeHtml(finding.summary)
      }</p>`,
      `<p class="causes">${escapeHtml(finding.causes)}</p>`,
      "</div>",
    );
  }
  for (const note of diagnosis.notes) {
    out.push(`<p>${escapeHtml(note)}</p>`);
  }
  const rowLabel = options.rowLabel ?? "name";
  const ranked = options.byName === undefined
    ? undefined
    : rankByName(options.byName);
  const drag = ranked === undefined ? [] : dragRows(report, ranked);
  if (drag.length > 0) {
    out.push(`<p class="drag">${escapeHtml(dragSentence(drag, rowLabel))}</p>`);
  }
  if (ranked !== undefined) {
    out.push(...rowsTable(ranked, rowLabel, thresholds));
    const charted = ranked.filter((row) => detailsOf(row) !== undefined)
      .slice(0, MAX_CHARTED_ROWS);
    if (charted.length > 0) {
      out.push(
        `<h2>Per ${escapeHtml(rowLabel)}: latency, errors, branches</h2>`,
      );
      charted.forEach((row, i) => {
        out.push(
          `<details class="row"${i < 3 ? " open" : ""}>`,
          `<summary><strong>${
            escapeHtml(row.name)
          }</strong> · PSS ${row.report.pss} · ${row.report.traceCount} traces</summary>`,
          charts(detailsOf(row)!),
          "</details>",
        );
      });
      if (ranked.length > charted.length) {
        out.push(
          `<p class="counts">Charts for the ${charted.length} worst of ${ranked.length} rows.</p>`,
        );
      }
    }
  } else if (options.details !== undefined) {
    out.push("<h2>Latency, errors, branches</h2>", charts(options.details));
  }
  out.push(
    "<footer>Pillars are rounded to two decimals like Python's round(x, 2); 1.00 is perfectly stable. Generated by pss.</footer>",
    "</main>",
    ranked !== undefined ? `<script>${SCRIPT}</script>` : "",
    "</body>",
    "</html>",
    "",
  );
  return out.join("\n");
}

function verdictLabel(verdict: Verdict): string {
  return verdict === "no-data" ? "no data" : verdict;
}

function countsText(report: PssReport): string {
  let text = `${report.traceCount} ${
    plural(report.traceCount, "trace")
  } scored`;
  if (report.systemTraceCount > 0) {
    text += `, ${report.systemTraceCount} system ${
      plural(report.systemTraceCount, "trace")
    }`;
  }
  if (report.skippedCount > 0) {
    text += `, ${report.skippedCount} skipped as malformed`;
  }
  const unused = report.unusedCount ?? 0;
  if (unused > 0) text += `, ${unused} unused (no pillar reads them)`;
  return text;
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}

/** Rows with charts; the table lists every row. */
const MAX_CHARTED_ROWS = 50;

function rowsTable(
  ranked: NamedPssReport[],
  rowLabel: string,
  thresholds: DiagnoseOptions["thresholds"],
): string[] {
  const withDetails = ranked.some((row) => detailsOf(row) !== undefined);
  const head = (label: string, title = label): string =>
    `<th title="${escapeHtml(title)}"><button type="button">${
      escapeHtml(label)
    }</button></th>`;
  const out = [
    `<h2>By ${escapeHtml(rowLabel)} (${ranked.length}, worst first)</h2>`,
    '<div class="scroll"><table class="sortable">',
    `<thead><tr>${head(rowLabel)}${head("pss", "score")}${
      PILLARS.map((p) => head(p.abbreviation, p.label)).join("")
    }${head("traces")}${
      withDetails
        ? head("errors") + head("p95", "95th percentile duration") +
          head("top exception")
        : ""
    }</tr></thead>`,
    "<tbody>",
  ];
  for (const row of ranked) {
    const { name, report: named } = row;
    const cells = PILLARS.map((p) => {
      const value = named.breakdown[p.key];
      const found = pillarSeverity(p.key, value, { thresholds });
      return `<td data-v="${value}"${found ? ` class="c-${found}"` : ""}>${
        formatPillar(value)
      }</td>`;
    }).join("");
    const details = detailsOf(row);
    let extra = "";
    if (withDetails) {
      const p95 = details?.latency?.p95;
      const top = details?.exceptions[0];
      extra =
        `<td data-v="${details?.errors ?? 0}">${details?.errors ?? ""}</td>` +
        `<td data-v="${p95 ?? 0}">${
          p95 === undefined ? "" : formatSeconds(p95)
        }</td>` +
        `<td>${
          top === undefined ? "" : escapeHtml(`${top.type} ${top.count}`)
        }</td>`;
    }
    out.push(
      `<tr><td>${
        escapeHtml(name)
      }</td><td data-v="${named.pss}">${named.pss}</td>${cells}<td data-v="${named.traceCount}">${named.traceCount}</td>${extra}</tr>`,
    );
  }
  out.push("</tbody>", "</table></div>");
  return out;
}

const VERDICT_STROKE: Readonly<Record<Verdict, string>> = {
  excellent: "#1a7f37",
  good: "#1a7f37",
  fair: "#9a6700",
  unstable: "#cf222e",
  "no-data": "#6e7781",
};

/** The score as a half-circle gauge. */
function gauge(pss: number, verdict: Verdict): string {
  const fraction = Math.max(0, Math.min(1, pss / 100));
  const angle = Math.PI * (1 - fraction);
  const x = (100 + 80 * Math.cos(angle)).toFixed(2);
  const y = (100 - 80 * Math.sin(angle)).toFixed(2);
  const arc = fraction === 0
    ? ""
    : `<path d="M20 100 A80 80 0 0 1 ${x} ${y}" fill="none" stroke="${
      VERDICT_STROKE[verdict]
    }" stroke-width="18" stroke-linecap="round"/>`;
  return `<svg class="gauge" role="img" aria-label="PSS ${pss} of 100" viewBox="0 0 200 112"><path d="M20 100 A80 80 0 0 1 180 100" fill="none" stroke="#eef1f4" stroke-width="18" stroke-linecap="round"/>${arc}</svg>`;
}

/** The three charts of one row (or of everything). */
function charts(details: TraceDetails): string {
  return `<div class="charts">${histogramChart(details)}${
    timelineChart(details)
  }${tagsChart(details)}</div>`;
}

const W = 300;
const H = 120;

function bars(
  values: readonly number[],
  color: string,
  label: (i: number) => string,
): string {
  const top = Math.max(1, ...values);
  const width = W / Math.max(1, values.length);
  return values.map((value, i) => {
    const height = (value / top) * (H - 20);
    return `<rect x="${(i * width + 1).toFixed(1)}" y="${
      (H - 16 - height).toFixed(1)
    }" width="${Math.max(1, width - 2).toFixed(1)}" height="${
      height.toFixed(1)
    }" fill="${color}"><title>${escapeHtml(label(i))}</title></rect>`;
  }).join("");
}

function histogramChart(details: TraceDetails): string {
  const { edges, counts } = details.histogram;
  if (counts.length === 0) {
    return `<figure><figcaption>Latency</figcaption><p class="counts">No durations.</p></figure>`;
  }
  const body = bars(
    counts,
    "#0969da",
    (i) =>
      `${formatSeconds(edges[i])} – ${formatSeconds(edges[i + 1])}: ${
        counts[i]
      }`,
  );
  return `<figure><figcaption>Latency histogram</figcaption><svg class="chart hist" role="img" aria-label="latency histogram" viewBox="0 0 ${W} ${H}">${body}<line x1="0" y1="${
    H - 15
  }" x2="${W}" y2="${H - 15}" stroke="#d1d9e0"/><text x="0" y="${
    H - 2
  }" font-size="11" fill="#59636e">${
    escapeHtml(formatSeconds(edges[0]))
  }</text><text x="${W}" y="${
    H - 2
  }" font-size="11" text-anchor="end" fill="#59636e">${
    escapeHtml(formatSeconds(edges[edges.length - 1]))
  }</text></svg></figure>`;
}

function timelineChart(details: TraceDetails): string {
  const { width, traces, errors } = details.timeline;
  if (traces.length === 0) {
    return `<figure><figcaption>Errors over time</figcaption><p class="counts">No traces.</p></figure>`;
  }
  const rates = traces.map((t, i) => (t === 0 ? 0 : errors[i] / t));
  const slot = W / traces.length;
  const top = Math.max(0.01, ...rates);
  const body = rates.map((rate, i) => {
    const height = (rate / top) * (H - 20);
    return `<rect x="${(i * slot + 0.5).toFixed(1)}" y="${
      (H - 16 - height).toFixed(1)
    }" width="${Math.max(1, slot - 1).toFixed(1)}" height="${
      height.toFixed(1)
    }" fill="#cf222e"><title>traces ${i * width}–${(i + 1) * width - 1}: ${
      errors[i]
    } errors of ${traces[i]}</title></rect>`;
  }).join("");
  return `<figure><figcaption>Error rate over the input (first → last trace; peak ${
    (top * 100).toFixed(1)
  }%)</figcaption><svg class="chart timeline" role="img" aria-label="error timeline" viewBox="0 0 ${W} ${H}">${body}<line x1="0" y1="${
    H - 15
  }" x2="${W}" y2="${H - 15}" stroke="#d1d9e0"/><text x="0" y="${
    H - 2
  }" font-size="11" fill="#59636e">first</text><text x="${W}" y="${
    H - 2
  }" font-size="11" text-anchor="end" fill="#59636e">last</text></svg></figure>`;
}

function tagsChart(details: TraceDetails): string {
  const tags = details.branchTags.slice(0, 6);
  if (tags.length === 0) {
    return `<figure><figcaption>Branch tags</figcaption><p class="counts">No branch tags.</p></figure>`;
  }
  const total = details.branchTags.reduce((sum, t) => sum + t.count, 0);
  const row = 18;
  const height = tags.length * row + 4;
  const body = tags.map((tag, i) => {
    const share = tag.count / total;
    return `<rect x="110" y="${i * row + 2}" width="${
      (share * (W - 160)).toFixed(1)
    }" height="${row - 5}" fill="#8250df"><title>${
      escapeHtml(tag.tag)
    }: ${tag.count}</title></rect><text x="104" y="${
      i * row + 14
    }" font-size="11" text-anchor="end" fill="#1f2328">${
      escapeHtml(tag.tag.length > 16 ? `${tag.tag.slice(0, 15)}…` : tag.tag)
    }</text><text x="${(114 + share * (W - 160)).toFixed(1)}" y="${
      i * row + 14
    }" font-size="11" fill="#59636e">${(share * 100).toFixed(0)}%</text>`;
  }).join("");
  return `<figure><figcaption>Branch tags${
    details.branchTags.length > tags.length
      ? ` (top ${tags.length} of ${details.branchTags.length})`
      : ""
  }</figcaption><svg class="chart tags" role="img" aria-label="branch tags" viewBox="0 0 ${W} ${height}">${body}</svg></figure>`;
}
