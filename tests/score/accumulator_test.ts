// PssAccumulator against computePss / computePssByName on the scoring
// fixtures and on files pypss wrote: the same report, field for field.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { PssAccumulator } from "../../src/score/accumulator.ts";
import { computePss, computePssByName } from "../../src/score/pss.ts";
import { type Trace, traceFromJson } from "../../src/trace.ts";
import { readTraces } from "../../src/collect/read.ts";
import { scanTraces } from "../../src/collect/scan.ts";
import { exclusiveQuantiles } from "../../src/score/stats.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

interface Case {
  name: string;
  config: Record<string, number>;
  traces?: unknown[];
  set?: string;
}
const fixture = JSON.parse(
  await readFile(`${ROOT}tests/testdata/score/pss_cases.json`, "utf8"),
) as { sets: Record<string, unknown[]>; cases: Case[] };

function tracesOf(c: Case): Trace[] {
  const wire = c.traces ?? fixture.sets[c.set!];
  return wire.map((w) => traceFromJson(w)).filter((t) => t !== undefined);
}

describe("PssAccumulator", () => {
  test("report() equals computePss on every scoring fixture", () => {
    for (const c of fixture.cases) {
      const traces = tracesOf(c);
      const accumulator = new PssAccumulator();
      for (const trace of traces) accumulator.add(trace);
      assert.deepEqual(
        accumulator.report(c.config),
        computePss(traces, c.config),
        c.name,
      );
    }
  });

  test("groupRows() with shared lags equals computePssByName on every fixture", () => {
    for (const c of fixture.cases) {
      const traces = tracesOf(c);
      const accumulator = new PssAccumulator({ groups: "shared" });
      for (const trace of traces) accumulator.add(trace, trace.name);
      const rows = accumulator.groupRows(c.config).map(({ name, report }) => ({
        name,
        report,
      }));
      assert.deepEqual(rows, computePssByName(traces, c.config), c.name);
      // Rows do not disturb the overall report.
      assert.deepEqual(
        accumulator.report(c.config),
        computePss(traces, c.config),
        c.name,
      );
    }
  });

  test("gives the same report across column blocks (200,000 traces)", () => {
    const traces: Trace[] = [];
    for (let i = 0; i < 200_000; i++) {
      traces.push(
        i % 97 === 0
          ? {
            name: "sys",
            systemMetric: true,
            metadata: { lag: (i % 7) * 1e-3 },
          }
          : {
            name: `op${i % 5}`,
            duration: ((i * 7919) % 1000) / 1e5,
            memory: 1e6 + (i % 13),
            waitTime: (i % 3) * 1e-4,
            error: i % 31 === 0,
            branchTag: i % 4 === 0 ? "a" : "b",
          },
      );
    }
    const accumulator = new PssAccumulator({ groups: "shared" });
    for (const trace of traces) accumulator.add(trace, trace.name);
    assert.deepEqual(accumulator.report(), computePss(traces));
    assert.deepEqual(
      accumulator.groupRows().map(({ name, report }) => ({ name, report })),
      computePssByName(traces),
    );
    const details = accumulator.details();
    assert.equal(details.traces, computePss(traces).traceCount);
    assert.equal(
      details.timeline.traces.reduce((a, b) => a + b, 0),
      details.traces,
    );
    assert.equal(
      details.timeline.errors.reduce((a, b) => a + b, 0),
      details.errors,
    );
  });

  test("gives the same values when columns turn from 32-bit integers to floats", () => {
    // Microsecond durations and whole bytes are held as 32-bit integers
    // until a value does not fit: a finer duration, a -0, memory past
    // 2^32. Each column widens at a different point, mid-block and later.
    const traces: Trace[] = [];
    for (let i = 0; i < 150_000; i++) {
      traces.push({
        name: `op${i % 3}`,
        duration: i === 70_000
          ? 0.1234567891
          : i === 1
          ? -0
          : ((i * 7919) % 100_000) / 1e6,
        memory: i >= 140_000 ? 2 ** 33 + i : 5e7 + (i % 4099),
        waitTime: i < 100 ? (i % 7) / 1e6 : i / 3e7,
        error: i % 29 === 0,
      });
    }
    const accumulator = new PssAccumulator({ groups: "shared" });
    for (const trace of traces) accumulator.add(trace, trace.name);
    const expected = computePss(traces);
    assert.deepEqual(accumulator.report(), expected);
    assert.deepEqual(
      accumulator.groupRows().map(({ name, report }) => ({ name, report })),
      computePssByName(traces),
    );
    const durations = Float64Array.from(traces, (t) => t.duration ?? 0);
    const latency = accumulator.details().latency!;
    assert.equal(latency.max, 0.1234567891);
    const [p50, p95] = exclusiveQuantiles(durations, [50, 95]);
    assert.equal(latency.p50, p50);
    assert.equal(latency.p95, p95);
  });

  for (const file of ["fifo.ndjson", "dump.json"]) {
    test(`scanTraces() of pypss's ${file} scores as computePss and as pypss did`, async () => {
      const path = `${ROOT}tests/testdata/pypss/${file}`;
      const expected = JSON.parse(
        await readFile(`${ROOT}tests/testdata/pypss/expected.json`, "utf8"),
      )[file];
      const accumulator = new PssAccumulator({ groups: "shared" });
      const stats = await scanTraces(path, accumulator);
      assert.equal(stats.skipped, 0);
      const traces = await Array.fromAsync(readTraces(path));
      const report = accumulator.report();
      assert.deepEqual(report, computePss(traces));
      assert.equal(report.pss, expected.pypss.pss);
      assert.equal(report.traceCount, expected.traceCount);
      assert.equal(report.systemTraceCount, expected.systemTraceCount);
      assert.equal(report.unusedCount, expected.unusedCount);
      assert.deepEqual(
        accumulator.groupRows().map(({ name, report }) => ({ name, report })),
        computePssByName(traces),
      );
    });
  }
});
