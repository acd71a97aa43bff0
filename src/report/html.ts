/**
 * The HTML report: one self-contained page (inline CSS, no script, no
 * external asset) with the score, pillar bars, the diagnosis and a
 * per-name table.
 *
 * @module
 */

import type { PssReport } from "../score/report.ts";
import { roundPypss } from "../score/round.ts";
import {
  type DiagnoseOptions,
  diagnoseReport,
  formatPillar,
  pillarSeverity,
  rankByName,
  type ReportsByName,
  type Verdict,
} from "./diagnose.ts";
import { PILLARS } from "../score/pss.ts";

/**
 * Options of {@linkcode renderReportHtml}.
 *
 * @example
 * ```ts
 * import { computePss, computePssByName, type HtmlReportOptions, renderReportHtml } from "@pss/pss";
 * const traces = [{ name: "a", duration: 0.1 }, { name: "b", duration: 0.3 }];
 * const options: HtmlReportOptions = { title: "Nightly load test", subtitle: "traces.ndjson", byName: computePssByName(traces) };
 * const html = renderReportHtml(computePss(traces), options);
 * console.log(html.includes("<title>Nightly load test</title>")); // true
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
}

/**
 * Escapes text for HTML element content and quoted attribute values.
 *
 * @param text Any string.
 * @returns The string with `&`, `<`, `>`, `"` and `'` replaced by entities.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./html.ts";
 * console.log(escapeHtml(`<script>alert("x")</script>`));
 * // &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;
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
`.trim();

/**
 * Renders a report as one self-contained HTML page: inline CSS, no
 * script and no external asset, so it can be attached to a CI run or
 * opened from disk. Every string that comes from traces (names) or the
 * caller (title, subtitle) is escaped.
 *
 * @param report The report to render.
 * @param options Per-name reports, title, subtitle, thresholds.
 * @returns The HTML document, starting with `<!DOCTYPE html>`.
 * @throws {PssConfigError} When a threshold override is invalid.
 *
 * @example
 * ```ts
 * import { computePss, renderReportHtml } from "@pss/pss";
 * const html = renderReportHtml(computePss([{ name: "op", duration: 0.1 }]), {
 *   subtitle: "traces.ndjson",
 * });
 * console.log(html.startsWith("<!DOCTYPE html>")); // true
 * ```
 */
export function renderReportHtml(
  report: PssReport,
  options: HtmlReportOptions = {},
): string {
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
    `<div class="num">${report.pss}<small>/100</small></div>`,
    `<div><span class="badge v-${diagnosis.verdict}">${
      verdictLabel(diagnosis.verdict)
    }</span>`,
    `<p class="headline">${escapeHtml(diagnosis.headline)}</p></div>`,
    "</section>",
    `<p class="counts">${escapeHtml(countsText(report))}</p>`,
    "<h2>Pillars</h2>",
  );
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
  if (options.byName !== undefined) {
    const ranked = rankByName(options.byName);
    out.push(
      `<h2>By name (${ranked.length}, worst first)</h2>`,
      "<table>",
      `<thead><tr><th>name</th><th>pss</th>${
        PILLARS.map((p) => `<th title="${p.label}">${p.abbreviation}</th>`)
          .join("")
      }<th>traces</th></tr></thead>`,
      "<tbody>",
    );
    for (const { name, report: named } of ranked) {
      const cells = PILLARS.map((p) => {
        const found = pillarSeverity(p.key, named.breakdown[p.key], {
          thresholds,
        });
        return `<td${found ? ` class="c-${found}"` : ""}>${
          formatPillar(named.breakdown[p.key])
        }</td>`;
      }).join("");
      out.push(
        `<tr><td>${
          escapeHtml(name)
        }</td><td>${named.pss}</td>${cells}<td>${named.traceCount}</td></tr>`,
      );
    }
    out.push("</tbody>", "</table>");
  }
  out.push(
    "<footer>Pillars are rounded to two decimals like Python's round(x, 2); 1.00 is perfectly stable. Generated by pss.</footer>",
    "</main>",
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
  return text;
}

function plural(count: number, word: string): string {
  return count === 1 ? word : `${word}s`;
}
