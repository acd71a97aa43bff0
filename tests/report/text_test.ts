import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { renderReportText } from "../../src/report/text.ts";
import { EMPTY, makeReport } from "./_reports.ts";

function pillarLine(text: string, label: string): string {
  const line = text.split("\n").find((l) => l.trimStart().startsWith(label));
  assert.ok(line, `no line for ${label} in:\n${text}`);
  return line;
}

describe("renderReportText()", () => {
  test("shows the score out of 100 and its verdict", () => {
    const text = renderReportText(makeReport(92));
    assert.match(text, /^PSS: 92\/100 \(excellent\)$/m);
  });

  test("lists the five pillars in pypss's order", () => {
    const text = renderReportText(makeReport(92));
    const labels = [
      "Timing Stability",
      "Memory Stability",
      "Error Volatility",
      "Branching Entropy",
      "Concurrency Chaos",
    ];
    const positions = labels.map((label) => text.indexOf(`  ${label}  `));
    assert.ok(positions.every((p) => p > 0), text);
    assert.deepEqual([...positions].sort((a, b) => a - b), positions);
  });

  test("rounds pillars to two decimals like Python, ties to even", () => {
    const text = renderReportText(makeReport(70, {
      timingStability: 0.125,
      memoryStability: 0.375,
      errorVolatility: 0.625,
      branchingEntropy: 0.9999,
      concurrencyChaos: 0.18393972058572117,
    }));
    assert.match(pillarLine(text, "Timing Stability"), / 0\.12 /);
    assert.match(pillarLine(text, "Memory Stability"), / 0\.38 /);
    assert.match(pillarLine(text, "Error Volatility"), / 0\.62 /);
    assert.match(pillarLine(text, "Branching Entropy"), / 1\.00 /);
    assert.match(pillarLine(text, "Concurrency Chaos"), / 0\.18 /);
  });

  test("diagnoses the weak pillar and what it usually means", () => {
    const text = renderReportText(makeReport(83, { errorVolatility: 0.18 }));
    assert.match(pillarLine(text, "Error Volatility"), /critical$/);
    assert.match(
      text,
      /- Error Volatility 0\.18 \(critical\): Errors are frequent/,
    );
    assert.match(text, /flaky dependency/);
    assert.doesNotMatch(
      pillarLine(text, "Timing Stability"),
      /warning|critical/,
    );
  });

  test("says every pillar is healthy when none is weak", () => {
    const text = renderReportText(makeReport(100));
    assert.match(text, /Every pillar is healthy\./);
    assert.doesNotMatch(text, /critical|warning/);
  });

  test("reports an empty input as nothing to score, not as five failures", () => {
    const text = renderReportText(EMPTY);
    assert.match(text, /PSS: 0\/100 \(no-data\)/);
    assert.match(text, /No traces to score\./);
    assert.doesNotMatch(text, /critical|warning/);
  });

  test("shows the trace counts, and skipped traces only when there are some", () => {
    const clean = renderReportText(makeReport(90, {}, { traceCount: 12 }));
    assert.match(clean, /^Traces: 12 scored$/m);
    const dirty = renderReportText(
      makeReport(90, {}, {
        traceCount: 12,
        systemTraceCount: 3,
        skippedCount: 2,
      }),
    );
    assert.match(
      dirty,
      /^Traces: 12 scored, 3 system, 2 skipped as malformed$/m,
    );
  });

  test("lists per-name reports worst first", () => {
    const text = renderReportText(makeReport(80), {
      byName: new Map([
        ["cache.get", makeReport(99)],
        ["db.query", makeReport(41, { timingStability: 0.3 })],
        ["http.call", makeReport(77, { errorVolatility: 0.5 })],
      ]),
    });
    const table = text.slice(text.indexOf("By name"));
    assert.match(table, /^By name \(3, worst first\):$/m);
    const order = ["db.query", "http.call", "cache.get"].map((n) =>
      table.indexOf(n)
    );
    assert.ok(order.every((p) => p > 0), table);
    assert.deepEqual([...order].sort((a, b) => a - b), order);
    assert.match(table, /db\.query\s+41\s+0\.30\s+1\.00/);
  });

  test("caps the per-name table at maxNames rows", () => {
    const byName: Record<string, ReturnType<typeof makeReport>> = {};
    for (let i = 0; i < 5; i++) byName[`op${i}`] = makeReport(90 + i);
    const text = renderReportText(makeReport(90), { byName, maxNames: 2 });
    assert.match(text, /op0/);
    assert.match(text, /op1/);
    assert.doesNotMatch(text, /op2/);
    assert.match(text, /… and 3 more/);
  });

  test("escapes control characters in names", () => {
    const text = renderReportText(makeReport(80), {
      byName: { "evil\x1b[31mname\n": makeReport(50) },
    });
    assert.equal(text.includes("\x1b"), false);
    assert.match(text, /evil\\u001b\[31mname\\u000a/);
  });

  test("uses no ANSI escapes by default and colours when asked", () => {
    const report = makeReport(40, { errorVolatility: 0.1 });
    assert.equal(renderReportText(report).includes("\x1b["), false);
    const coloured = renderReportText(report, { color: true });
    assert.ok(coloured.includes("\x1b[31munstable\x1b[0m"));
    assert.ok(coloured.includes("\x1b[31mcritical\x1b[0m"));
  });

  test("throws PssConfigError for a negative maxNames", () => {
    assert.throws(
      () => renderReportText(makeReport(90), { maxNames: -1 }),
      {
        name: "PssConfigError",
        message:
          "Invalid pss configuration as renderReportText's 'maxNames' must be an integer ≥ 0: got -1",
      },
    );
  });
});
