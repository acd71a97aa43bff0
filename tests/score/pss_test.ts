import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  computePss,
  computePssByName,
  PILLARS,
  toPypssJson,
} from "../../src/score/pss.ts";
import { PssConfigError } from "../../src/score/config.ts";
import type { PssReport } from "../../src/score/report.ts";
import { type Trace, traceFromJson } from "../../src/trace.ts";
import fixture from "../testdata/score/pss_cases.json" with { type: "json" };

/** Pillar values in pypss key order. */
function pillars(report: PssReport): number[] {
  return PILLARS.map((pillar) => report.breakdown[pillar.key]);
}

function fromWire(records: unknown[]): Trace[] {
  return records.map((record) => {
    const trace = traceFromJson(record);
    assert.ok(trace !== undefined, JSON.stringify(record));
    return trace;
  });
}

const clamp = (x: number) => Math.min(1, Math.max(0, x));

const ZERO_BREAKDOWN = {
  timingStability: 0,
  memoryStability: 0,
  errorVolatility: 0,
  branchingEntropy: 0,
  concurrencyChaos: 0,
};

describe("computePss() against the Python reference (tests/testdata/score)", () => {
  const sets = fixture.sets as Record<string, unknown[]>;
  for (const item of fixture.cases) {
    test(`matches on "${item.name}"`, () => {
      const records = "set" in item ? sets[item.set as string] : item.traces;
      const report = computePss(fromWire(records), item.config);
      assert.equal(report.pss, item.expected.pss);
      const actual = pillars(report);
      item.expected.breakdown.forEach((expected: number, k: number) => {
        // pss clamps pillars to [0, 1]; pypss does not (docs/scoring.md, section 6).
        const difference = Math.abs(actual[k] - clamp(expected));
        assert.ok(
          difference <= 1e-12,
          `${PILLARS[k].key}: expected ${expected}, got ${actual[k]}`,
        );
      });
    });
  }
});

describe("computePss()", () => {
  test("gives 0 with every pillar 0 for no traces", () => {
    assert.deepEqual(computePss([]), {
      pss: 0,
      breakdown: ZERO_BREAKDOWN,
      traceCount: 0,
      systemTraceCount: 0,
      skippedCount: 0,
      unusedCount: 0,
    });
  });

  test("gives 0 for system traces without lag (nothing to score), and counts them as unused", () => {
    const report = computePss([
      { name: "loop", systemMetric: true, metadata: { activeTasks: 3 } },
      { name: "loop", systemMetric: true },
    ]);
    assert.equal(report.pss, 0);
    assert.deepEqual(report.breakdown, ZERO_BREAKDOWN);
    assert.equal(report.systemTraceCount, 0);
    assert.equal(report.traceCount, 0);
    assert.equal(report.unusedCount, 2);
  });

  test("counts every entry read: scored, lag samples, skipped and unused add up", () => {
    const traces = [
      { name: "op", duration: 0.1 },
      { name: "op", duration: -1 },
      {
        name: "kafka_lag_report",
        systemMetric: true,
        metadata: { kafka_lag: 7 },
      },
      { name: "loop", systemMetric: true, metadata: { lag: 0.001 } },
      { name: "op", duration: 0.2 },
    ];
    const report = computePss(traces);
    assert.deepEqual(
      [
        report.traceCount,
        report.systemTraceCount,
        report.skippedCount,
        report.unusedCount,
      ],
      [2, 1, 1, 1],
    );
    for (const { report: row } of computePssByName(traces)) {
      assert.equal(row.unusedCount, 1);
    }
  });

  test("scores lag alone: TS, MS, EV, BE are 1 and CC comes from the lag", () => {
    const report = computePss([
      { name: "loop", systemMetric: true, metadata: { lag: 0.05 } },
      { name: "loop", systemMetric: true, metadata: { lag: 0.02 } },
    ]);
    const cc = 1 - Math.min(1, ((0.05 + 0.02) / 2) * 5);
    assert.deepEqual(pillars(report), [1, 1, 1, 1, cc]);
    assert.equal(report.systemTraceCount, 2);
    assert.equal(report.traceCount, 0);
  });

  test("rounds 0.9249999999999999 · 100 = 92.5 half to even: 92", () => {
    // CC = 0.5: raw = (0.3 + 0.2 + 0.2 + 0.15 + 0.15·0.5) / 1 = 0.9249999999999999
    const report = computePss([
      { name: "loop", systemMetric: true, metadata: { lag: 0.1 } },
    ]);
    assert.equal(report.breakdown.concurrencyChaos, 0.5);
    assert.equal(report.pss, 92);
  });

  test("gives e⁻¹ · 0.5 error volatility for one error alone", () => {
    const report = computePss([{ name: "op", duration: 0.1, error: true }]);
    assert.equal(report.breakdown.errorVolatility, Math.exp(-1) * 0.5);
    assert.ok(Math.abs(report.breakdown.errorVolatility - 0.18394) < 1e-5);
  });

  test("clamps uniform-tag branching entropy to exactly 0", () => {
    const tags = ["a", "b", "c", "d", "e", "f", "g"];
    const report = computePss(
      Array.from({ length: 700 }, (_, i) => ({
        name: "op",
        duration: 0.01,
        branchTag: tags[i % 7],
      })),
    );
    assert.ok(Object.is(report.breakdown.branchingEntropy, 0));
  });

  test("clamps memory stability above 1 to exactly 1", () => {
    const report = computePss(
      [1, 1, 1].map((memory) => ({ name: "op", duration: 0.1, memory })),
    );
    assert.equal(report.breakdown.memoryStability, 1);
  });

  test("scores a million identical traces as 100 without NaN", () => {
    const traces = new Array<Trace>(1_000_000).fill({
      name: "op",
      duration: 0.01,
      memory: 5e7,
      waitTime: 0.002,
    });
    const report = computePss(traces);
    assert.equal(report.pss, 100);
    assert.deepEqual(pillars(report), [1, 1, 1, 1, 1]);
    assert.equal(report.traceCount, 1_000_000);
  });

  test("scores all-zero and missing numbers without NaN", () => {
    const report = computePss([
      { name: "op", duration: 0, memory: 0, waitTime: 0 },
      { name: "op" },
      { name: "op", duration: -0 },
    ]);
    assert.equal(report.pss, 100);
    assert.deepEqual(pillars(report), [1, 1, 1, 1, 1]);
  });

  test("skips and counts malformed traces instead of throwing", () => {
    const bad = [
      { name: "op", duration: -1 },
      { name: "op", duration: NaN },
      { name: "op", memory: Infinity },
      { name: "op", waitTime: -0.5 },
      { name: "op", duration: "0.5" },
      { name: "op", duration: null },
      { name: "loop", systemMetric: true, metadata: { lag: -1 } },
      { name: "loop", systemMetric: true, metadata: { lag: "slow" } },
      { name: "loop", systemMetric: true, metadata: { lag: NaN } },
      null,
      undefined,
      42,
    ] as unknown as Trace[];
    const good: Trace[] = [
      { name: "op", duration: 0.1 },
      { name: "op", duration: 0.1 },
      { name: "loop", systemMetric: true, metadata: { lag: 0.001 } },
    ];
    const report = computePss([...bad, ...good]);
    assert.equal(report.skippedCount, bad.length);
    assert.equal(report.traceCount, 2);
    assert.equal(report.systemTraceCount, 1);
    assert.deepEqual(report, { ...computePss(good), skippedCount: 12 });
  });

  test("scores only malformed traces as nothing to score", () => {
    const report = computePss([{ name: "op", duration: -1 }]);
    assert.equal(report.pss, 0);
    assert.equal(report.skippedCount, 1);
  });

  test("reads errors with the truthiness of docs/scoring.md, section 2", () => {
    const errorOf = (error: unknown) =>
      computePss([{ name: "op", duration: 0.1, error } as unknown as Trace])
        .breakdown.errorVolatility < 1;
    assert.equal(errorOf(true), true);
    assert.equal(errorOf(1), true);
    assert.equal(errorOf("TimeoutError"), true);
    assert.equal(errorOf(false), false);
    assert.equal(errorOf(0), false);
    assert.equal(errorOf(""), false);
    assert.equal(errorOf("false"), false);
    assert.equal(errorOf("0"), false);
    assert.equal(errorOf([]), false); // falsy in Python
    assert.equal(errorOf({}), false);
    assert.equal(errorOf(undefined), false);
  });

  test("counts only non-empty string branch tags", () => {
    const traces = [
      { name: "op", duration: 0.1, branchTag: "hit" },
      { name: "op", duration: 0.1, branchTag: "" },
      { name: "op", duration: 0.1, branchTag: 7 },
      { name: "op", duration: 0.1, branchTag: "hit" },
    ] as unknown as Trace[];
    assert.equal(computePss(traces).breakdown.branchingEntropy, 1);
  });

  test("finds the longest error run across interleaved system traces", () => {
    const traces: Trace[] = [];
    for (let i = 0; i < 3; i++) {
      traces.push({ name: "op", duration: 0.1, error: true });
      traces.push({ name: "loop", systemMetric: true, metadata: { lag: 0 } });
    }
    for (let i = 0; i < 17; i++) traces.push({ name: "op", duration: 0.1 });
    const m = 3 / 20;
    const expected = Math.exp(-(m + 0.5 * ((3 * 17) / (20 * 19) / m))) *
      (1 - ((m - 0.1) / 0.9) * 0.5) * Math.exp(-2);
    assert.equal(computePss(traces).breakdown.errorVolatility, expected);
  });

  test("gives the same report for a generator as for an array", () => {
    // Over 1024 traces, so the columns of an input of unknown length grow.
    const mixed = fromWire(fixture.sets.mixed);
    const traces = [...mixed, ...mixed, ...mixed, ...mixed];
    function* stream(): Generator<Trace> {
      yield* traces;
    }
    assert.deepEqual(computePss(stream()), computePss(traces));
  });

  test("gives the same report when called again from inside its input", () => {
    const mixed = fromWire(fixture.sets.mixed);
    const other = mixed.map((t) => ({ ...t, duration: 1 }));
    const expected = computePss(mixed);
    const expectedOther = computePss(other);
    let inner: unknown;
    function* stream(): Generator<Trace> {
      for (const [i, trace] of mixed.entries()) {
        if (i === 500) inner = computePss(other);
        yield trace;
      }
    }
    computePss([...mixed, ...mixed]); // leaves columns to reuse
    assert.deepEqual(computePss(stream()), expected);
    assert.deepEqual(inner, expectedOther);
  });

  test("does not modify the traces it reads", () => {
    const traces = fromWire(fixture.sets.mixed);
    const before = JSON.stringify(traces);
    computePss(traces);
    assert.equal(JSON.stringify(traces), before);
  });

  const configErrors: [string, object, string][] = [
    [
      "a negative weight",
      { wTs: -1 },
      "Invalid pss configuration as 'wTs' must be a weight ≥ 0: got -1",
    ],
    [
      "a NaN weight",
      { wCc: NaN },
      "Invalid pss configuration as 'wCc' must be a finite number: got NaN",
    ],
    [
      "all weights zero",
      { wTs: 0, wMs: 0, wEv: 0, wBe: 0, wCc: 0 },
      "Invalid pss configuration as at least one weight must be > 0: got 0",
    ],
    [
      "weights whose sum overflows",
      { wTs: 1e308, wMs: 1e308 },
      "Invalid pss configuration as the weights must add up to a finite number: got Infinity",
    ],
    [
      "tail percentile 0",
      { scoreLatencyTailPercentile: 0 },
      "Invalid pss configuration as 'scoreLatencyTailPercentile' must be an integer from 1 to 98: got 0",
    ],
    [
      "tail percentile 100",
      { scoreLatencyTailPercentile: 100 },
      "Invalid pss configuration as 'scoreLatencyTailPercentile' must be an integer from 1 to 98: got 100",
    ],
    [
      "an unknown key",
      { wXx: 1 },
      "Invalid pss configuration as 'wXx' is not a known setting (did you mean 'wTs'?): got 1",
    ],
  ];
  for (const [label, config, message] of configErrors) {
    test(`throws PssConfigError for ${label}, before reading traces`, () => {
      const untouchable = (): Iterable<Trace> => ({
        [Symbol.iterator]() {
          throw new Error("traces were read");
        },
      });
      assert.throws(() => computePss(untouchable(), config), (error) => {
        assert.ok(error instanceof PssConfigError);
        assert.equal(error.message, message);
        return true;
      });
      assert.throws(
        () => computePssByName(untouchable(), config),
        PssConfigError,
      );
    });
  }
});

describe("computePssByName()", () => {
  const traces: Trace[] = [
    { name: "db.query", duration: 0.012, error: true },
    { name: "cache.get", duration: 0.001, branchTag: "hit" },
    { name: "loop", systemMetric: true, metadata: { lag: 0.1 } },
    { name: "db.query", duration: 0.015 },
    { name: "cache.get", duration: 0.002, branchTag: "miss" },
    { name: "db.query", duration: -1 },
    { name: "loop", systemMetric: true, metadata: { lag: -1 } },
    { name: "api", duration: 0.2 },
    { name: "db.query", duration: 0.013 },
  ];

  test("gives one row per name, sorted by name", () => {
    const rows = computePssByName(traces);
    assert.deepEqual(rows.map((row) => row.name), [
      "api",
      "cache.get",
      "db.query",
    ]);
  });

  test("scores each name as computePss scores its traces plus all lag samples", () => {
    const lags = traces.filter((t) => t.systemMetric);
    for (const { name, report } of computePssByName(traces)) {
      const own = traces.filter((t) => !t.systemMetric && t.name === name);
      assert.deepEqual(report, computePss([...own, ...lags]), name);
    }
  });

  test("counts a skipped trace in its own name and a skipped system trace in every name", () => {
    const rows = computePssByName(traces);
    const skipped = Object.fromEntries(
      rows.map((row) => [row.name, row.report.skippedCount]),
    );
    assert.deepEqual(skipped, { api: 1, "cache.get": 1, "db.query": 2 });
    for (const row of rows) assert.equal(row.report.systemTraceCount, 1);
  });

  test("keeps a row for a name whose traces were all rejected", () => {
    const rows = computePssByName([{ name: "broken", duration: NaN }]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].report.pss, 0);
    assert.equal(rows[0].report.skippedCount, 1);
  });

  test("gives no rows for system traces alone or no traces", () => {
    assert.deepEqual(
      computePssByName([{
        name: "loop",
        systemMetric: true,
        metadata: { lag: 1 },
      }]),
      [],
    );
    assert.deepEqual(computePssByName([]), []);
  });

  test("agrees with computePss on many interleaved names", () => {
    const all = fromWire(fixture.sets.mixed).map((trace, i) =>
      trace.systemMetric ? trace : { ...trace, name: `op${(i * 7) % 13}` }
    );
    const rows = computePssByName(all);
    assert.equal(rows.length, 13);
    const lags = all.filter((t) => t.systemMetric);
    for (const { name, report } of rows) {
      const own = all.filter((t) => !t.systemMetric && t.name === name);
      assert.deepEqual(report, computePss([...own, ...lags]), name);
    }
  });
});

describe("toPypssJson()", () => {
  test("gives pypss's shape, key order and round(x, 2) values", () => {
    const json = toPypssJson({
      pss: 61,
      breakdown: {
        timingStability: 0.125,
        memoryStability: 0.375,
        errorVolatility: 0.18393972058572117,
        branchingEntropy: 1,
        concurrencyChaos: 0.995,
      },
      traceCount: 10,
      systemTraceCount: 0,
      skippedCount: 0,
    });
    assert.equal(
      JSON.stringify(json),
      '{"pss":61,"breakdown":{"timing_stability":0.12,"memory_stability":0.38,' +
        '"error_volatility":0.18,"branching_entropy":1,"concurrency_chaos":0.99}}',
    );
  });

  test("gives pypss's zero report for nothing to score", () => {
    assert.deepEqual(toPypssJson(computePss([])), {
      pss: 0,
      breakdown: {
        timing_stability: 0,
        memory_stability: 0,
        error_volatility: 0,
        branching_entropy: 0,
        concurrency_chaos: 0,
      },
    });
  });
});

describe("PILLARS", () => {
  test("lists the pillars in pypss's key order", () => {
    assert.deepEqual(PILLARS.map((p) => p.pypssKey), [
      "timing_stability",
      "memory_stability",
      "error_volatility",
      "branching_entropy",
      "concurrency_chaos",
    ]);
    assert.deepEqual(PILLARS.map((p) => p.abbreviation), [
      "TS",
      "MS",
      "EV",
      "BE",
      "CC",
    ]);
    assert.ok(Object.isFrozen(PILLARS) && Object.isFrozen(PILLARS[0]));
  });
});
