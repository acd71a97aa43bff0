import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { escapeHtml, renderReportHtml } from "../../src/report/html.ts";
import { EMPTY, makeReport } from "./_reports.ts";

const EVIL = `<script>alert("x")</script>'&`;

describe("renderReportHtml()", () => {
  test("renders a complete page with the score and the five pillars", () => {
    const html = renderReportHtml(makeReport(87, { timingStability: 0.125 }));
    assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">'));
    assert.ok(html.trimEnd().endsWith("</html>"));
    assert.match(html, /<div class="num">87<small>\/100<\/small><\/div>/);
    assert.match(html, /badge v-good">good</);
    for (
      const label of [
        "Timing Stability (TS)",
        "Memory Stability (MS)",
        "Error Volatility (EV)",
        "Branching Entropy (BE)",
        "Concurrency Chaos (CC)",
      ]
    ) assert.ok(html.includes(`<span>${label}</span>`), label);
    assert.match(html, /<span class="val">0\.12<\/span>/);
    assert.match(html, /style="width:12%"/);
  });

  test("is self-contained: no external asset, one inline script for sorting", () => {
    const html = renderReportHtml(makeReport(50), {
      byName: { op: makeReport(50) },
    });
    assert.doesNotMatch(html, /<link|<img|src=|href=|@import|url\(|fetch\(/i);
    assert.equal(html.match(/<script>/g)?.length, 1);
    assert.doesNotMatch(renderReportHtml(makeReport(50)), /<script/);
  });

  test("escapes names, title and subtitle", () => {
    const html = renderReportHtml(makeReport(60), {
      title: EVIL,
      subtitle: EVIL,
      byName: new Map([[EVIL, makeReport(10)]]),
    });
    assert.equal(html.includes("<script>alert"), false);
    assert.equal(html.includes(`"x"`), false);
    const escaped =
      "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#39;&amp;";
    assert.ok(html.includes(`<title>${escaped}</title>`));
    assert.ok(html.includes(`<h1>${escaped}</h1>`));
    assert.ok(html.includes(`<p class="sub">${escaped}</p>`));
    assert.ok(html.includes(`<tr><td>${escaped}</td><td data-v="10">10</td>`));
  });

  test("shows the diagnosis of a weak pillar", () => {
    const html = renderReportHtml(makeReport(80, { errorVolatility: 0.18 }));
    assert.match(
      html,
      /<div class="finding f-critical">\n<p><strong>Error Volatility 0\.18<\/strong>/,
    );
    assert.match(html, /fill s-critical" style="width:18%"/);
    assert.doesNotMatch(html, /Every pillar is healthy/);
  });

  test("says every pillar is healthy when none is weak", () => {
    const html = renderReportHtml(makeReport(100));
    assert.match(html, /<p>Every pillar is healthy\.<\/p>/);
    assert.doesNotMatch(html, /class="finding/);
  });

  test("shows an empty report as no data", () => {
    const html = renderReportHtml(EMPTY);
    assert.match(html, /badge v-no-data">no data</);
    assert.match(html, /No traces to score\./);
    assert.doesNotMatch(html, /class="finding/);
  });

  test("lists per-name reports worst first and marks weak cells", () => {
    const html = renderReportHtml(makeReport(70), {
      byName: {
        "fast": makeReport(99),
        "slow": makeReport(35, { timingStability: 0.4 }),
      },
    });
    assert.match(html, /By name \(2, worst first\)/);
    assert.ok(html.indexOf("<td>slow</td>") < html.indexOf("<td>fast</td>"));
    assert.match(
      html,
      /<td>slow<\/td><td data-v="35">35<\/td><td data-v="0\.4" class="c-critical">0\.40<\/td>/,
    );
  });
});

describe("escapeHtml()", () => {
  test("replaces the five HTML-significant characters", () => {
    assert.equal(escapeHtml(`a&b<c>d"e'f`), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
  });
});
