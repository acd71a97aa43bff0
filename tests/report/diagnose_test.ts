import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type DiagnoseOptions,
  diagnoseReport,
  formatPillar,
  pillarSeverity,
  rankByName,
  verdictOf,
} from "../../src/report/diagnose.ts";
import { computePssByName } from "../../src/score/pss.ts";
import { PssConfigError } from "../../src/score/config.ts";
import { EMPTY, makeReport } from "./_reports.ts";

describe("verdictOf()", () => {
  const cases: [number, string][] = [
    [100, "excellent"],
    [90, "excellent"],
    [89, "good"],
    [75, "good"],
    [74, "fair"],
    [50, "fair"],
    [49, "unstable"],
    [0, "unstable"],
  ];
  for (const [pss, verdict] of cases) {
    test(`gives "${verdict}" for a score of ${pss}`, () => {
      assert.equal(verdictOf(makeReport(pss)), verdict);
    });
  }

  test('gives "no-data" when nothing was scored', () => {
    assert.equal(verdictOf(EMPTY), "no-data");
  });

  test("scores a report with only loop-lag system traces", () => {
    const report = makeReport(80, { concurrencyChaos: 0.5 }, {
      traceCount: 0,
      systemTraceCount: 4,
    });
    assert.equal(verdictOf(report), "good");
  });
});

describe("diagnoseReport()", () => {
  test("names error volatility as critical when errors are bad", () => {
    const diagnosis = diagnoseReport(
      makeReport(83, { errorVolatility: 0.18394 }),
    );
    assert.deepEqual(
      diagnosis.findings.map((f) => [f.pillar, f.severity, f.value]),
      [["errorVolatility", "critical", 0.18]],
    );
    assert.match(diagnosis.findings[0].causes, /flaky dependency/);
  });

  test("has no findings when every pillar is healthy", () => {
    const diagnosis = diagnoseReport(
      makeReport(97, { timingStability: 0.9, errorVolatility: 0.95 }),
    );
    assert.equal(diagnosis.verdict, "excellent");
    assert.deepEqual(diagnosis.findings, []);
    assert.deepEqual(diagnosis.notes, []);
  });

  test("has no findings for an empty report although its pillars are 0", () => {
    const diagnosis = diagnoseReport(EMPTY);
    assert.equal(diagnosis.verdict, "no-data");
    assert.deepEqual(diagnosis.findings, []);
    assert.equal(diagnosis.headline, "No traces to score.");
  });

  test("judges the value rounded to two decimals, as displayed", () => {
    // 0.849 displays as 0.85, which is not below the 0.85 warning bound.
    const diagnosis = diagnoseReport(
      makeReport(95, { timingStability: 0.849 }),
    );
    assert.deepEqual(diagnosis.findings, []);
    assert.equal(pillarSeverity("timingStability", 0.8449), "warning");
  });

  test("lists critical findings before warnings, then in pillar order", () => {
    const diagnosis = diagnoseReport(makeReport(60, {
      timingStability: 0.8,
      branchingEntropy: 0.7,
      concurrencyChaos: 0.2,
      errorVolatility: 0.5,
    }));
    assert.deepEqual(
      diagnosis.findings.map((f) => [f.pillar, f.severity]),
      [
        ["errorVolatility", "critical"],
        ["concurrencyChaos", "critical"],
        ["timingStability", "warning"],
        ["branchingEntropy", "warning"],
      ],
    );
  });

  test("notes weak timing and memory together as a likely GC effect", () => {
    const diagnosis = diagnoseReport(
      makeReport(55, { timingStability: 0.5, memoryStability: 0.7 }),
    );
    assert.equal(diagnosis.notes.length, 1);
    assert.match(diagnosis.notes[0], /GC pauses/);
  });

  test("uses threshold overrides for the pillars given", () => {
    const report = makeReport(95, { timingStability: 0.9 });
    const thresholds = { timingStability: { warning: 0.95, critical: 0.5 } };
    assert.deepEqual(
      diagnoseReport(report, { thresholds }).findings.map((f) => f.pillar),
      ["timingStability"],
    );
  });
});

describe("diagnoseReport() threshold checks", () => {
  const cases: [string, unknown, RegExp][] = [
    [
      "an unknown pillar",
      { timing: { warning: 0.9, critical: 0.5 } },
      /'timing' is not a pillar: got \{"warning":0\.9,"critical":0\.5\}$/,
    ],
    [
      "critical above warning",
      { errorVolatility: { warning: 0.5, critical: 0.9 } },
      /'thresholds\.errorVolatility' must be \{ warning, critical \} with 0 ≤ critical ≤ warning ≤ 1/,
    ],
    [
      "a value that is not a number",
      { errorVolatility: { warning: "0.9", critical: 0.5 } },
      /'thresholds\.errorVolatility' must be/,
    ],
  ];
  for (const [what, thresholds, message] of cases) {
    test(`throws PssConfigError for ${what}`, () => {
      assert.throws(
        () =>
          diagnoseReport(makeReport(90), {
            thresholds: thresholds as DiagnoseOptions["thresholds"],
          }),
        (error: unknown) => {
          assert.ok(error instanceof PssConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

describe("rankByName()", () => {
  test("sorts a Map worst first, ties by name, empty reports last", () => {
    const ranked = rankByName(
      new Map([
        ["fast", makeReport(98)],
        ["nothing", EMPTY],
        ["b-slow", makeReport(40)],
        ["a-slow", makeReport(40)],
        ["flaky", makeReport(71)],
      ]),
    );
    assert.deepEqual(ranked.map((r) => r.name), [
      "a-slow",
      "b-slow",
      "flaky",
      "fast",
      "nothing",
    ]);
  });

  test("sorts computePssByName() rows worst first", () => {
    const rows = computePssByName([
      { name: "steady", duration: 0.1 },
      { name: "steady", duration: 0.1 },
      { name: "flaky", duration: 0.1, error: true },
      { name: "flaky", duration: 0.3, error: true },
    ]);
    assert.deepEqual(rows.map((r) => r.name), ["flaky", "steady"].sort());
    const ranked = rankByName(rows);
    assert.deepEqual(ranked.map((r) => r.name), ["flaky", "steady"]);
    assert.ok(ranked[0].report.pss < ranked[1].report.pss);
  });

  test("breaks equal scores by the lower pillar sum", () => {
    const ranked = rankByName({
      a: makeReport(80, { errorVolatility: 0.9 }),
      b: makeReport(80, { errorVolatility: 0.5 }),
    });
    assert.deepEqual(ranked.map((r) => r.name), ["b", "a"]);
  });
});

describe("formatPillar()", () => {
  const cases: [number, string][] = [
    [0.125, "0.12"],
    [0.375, "0.38"],
    [0.625, "0.62"],
    [0.875, "0.88"],
    [0.18393972058572117, "0.18"],
    [0.995, "0.99"], // the double nearest 0.995 lies below it
    [1, "1.00"],
    [0, "0.00"],
  ];
  for (const [value, text] of cases) {
    test(`formats ${value} as ${text} like Python's round(x, 2)`, () => {
      assert.equal(formatPillar(value), text);
    });
  }
});
