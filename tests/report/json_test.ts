import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { renderReportJson, reportToJson } from "../../src/report/json.ts";
import { EMPTY, makeReport } from "./_reports.ts";

const PYPSS_KEYS = [
  "timing_stability",
  "memory_stability",
  "error_volatility",
  "branching_entropy",
  "concurrency_chaos",
];

describe("reportToJson()", () => {
  test("puts pypss's pss and breakdown first, then the rest in a fixed order", () => {
    const json = reportToJson(makeReport(88), { byName: {} });
    assert.deepEqual(Object.keys(json), [
      "pss",
      "breakdown",
      "verdict",
      "pillars",
      "counts",
      "diagnosis",
      "by_name",
    ]);
    assert.deepEqual(Object.keys(json.breakdown), PYPSS_KEYS);
    assert.deepEqual(Object.keys(json.pillars), PYPSS_KEYS);
    assert.deepEqual(Object.keys(json.counts), [
      "traces",
      "system_traces",
      "skipped",
      "unused",
    ]);
  });

  test("rounds the breakdown like Python's round(x, 2) and keeps pillars exact", () => {
    const json = reportToJson(makeReport(70, {
      timingStability: 0.125,
      memoryStability: 0.375,
      errorVolatility: 0.18393972058572117,
      branchingEntropy: 0.995,
      concurrencyChaos: 0.6250000000000001,
    }));
    assert.deepEqual(json.breakdown, {
      timing_stability: 0.12,
      memory_stability: 0.38,
      error_volatility: 0.18,
      branching_entropy: 0.99,
      concurrency_chaos: 0.63,
    });
    assert.equal(json.pillars.timing_stability, 0.125);
    assert.equal(json.pillars.error_volatility, 0.18393972058572117);
  });

  test("carries the counts and the verdict", () => {
    const json = reportToJson(
      makeReport(60, {}, {
        traceCount: 7,
        systemTraceCount: 2,
        skippedCount: 1,
      }),
    );
    assert.equal(json.verdict, "fair");
    assert.deepEqual(json.counts, {
      traces: 7,
      system_traces: 2,
      skipped: 1,
      unused: 0,
    });
  });

  test("names weak pillars in the diagnosis by their pypss key", () => {
    const json = reportToJson(makeReport(80, { errorVolatility: 0.4 }));
    assert.deepEqual(
      json.diagnosis.findings.map((f) => [f.pillar, f.severity, f.value]),
      [["error_volatility", "critical", 0.4]],
    );
    assert.deepEqual(
      Object.keys(json.diagnosis.findings[0]),
      ["pillar", "label", "value", "severity", "summary", "causes"],
    );
  });

  test("omits by_name unless per-name reports are given", () => {
    assert.equal("by_name" in reportToJson(makeReport(90)), false);
  });

  test("lists per-name reports worst first with rounded and exact pillars", () => {
    const json = reportToJson(makeReport(80), {
      byName: new Map([
        ["fast", makeReport(99)],
        ["slow", makeReport(30, { timingStability: 0.125 }, { traceCount: 4 })],
        ["idle", EMPTY],
      ]),
    });
    assert.deepEqual(json.by_name?.map((r) => r.name), [
      "slow",
      "fast",
      "idle",
    ]);
    const slow = json.by_name![0];
    assert.deepEqual(Object.keys(slow), [
      "name",
      "pss",
      "breakdown",
      "verdict",
      "pillars",
      "counts",
    ]);
    assert.equal(slow.verdict, "unstable");
    assert.equal(slow.breakdown.timing_stability, 0.12);
    assert.equal(slow.pillars.timing_stability, 0.125);
    assert.equal(slow.counts.traces, 4);
    assert.equal(json.by_name![2].verdict, "no-data");
  });
});

describe("renderReportJson()", () => {
  test("writes indented JSON that parses back to reportToJson()", () => {
    const report = makeReport(75, { memoryStability: 0.5 });
    const text = renderReportJson(report);
    assert.ok(text.startsWith('{\n  "pss": 75,\n  "breakdown": {\n'), text);
    assert.deepEqual(JSON.parse(text), reportToJson(report));
  });

  test("writes a single line with indent 0", () => {
    const text = renderReportJson(makeReport(100), { indent: 0 });
    assert.equal(text.includes("\n"), false);
    assert.ok(
      text.startsWith(
        '{"pss":100,"breakdown":{"timing_stability":1,"memory_stability":1,',
      ),
      text,
    );
  });

  test("throws PssConfigError for an indent outside 0 to 10", () => {
    assert.throws(
      () => renderReportJson(makeReport(90), { indent: 11 }),
      {
        name: "PssConfigError",
        message:
          "Invalid pss configuration as renderReportJson's 'indent' must be an integer from 0 to 10: got 11",
      },
    );
  });
});
