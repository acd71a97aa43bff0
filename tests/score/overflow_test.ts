import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { computePss } from "../../mod.ts";
import {
  cv,
  exclusiveQuantiles,
  mean,
  median,
  stdev,
} from "../../src/score/stats.ts";

const HUGE = 1e308;

describe("statistics near the top of binary64", () => {
  test("a steady workload of huge durations, memory and waits scores 100, not 0", () => {
    const steady = Array.from({ length: 200 }, () => ({
      name: "op",
      duration: HUGE,
      memory: 1.7e308,
      waitTime: 9e307,
    }));
    const report = computePss(steady);
    assert.equal(report.pss, 100);
    assert.deepEqual(Object.values(report.breakdown), [1, 1, 1, 1, 1]);
  });

  test("pillars are scale-invariant: values × 2^1000 score as the values themselves", () => {
    const base = Array.from({ length: 101 }, (_, i) => ({
      name: "op",
      duration: 0.01 + (i % 7) * 0.003,
      memory: 50_000_000 + (i % 5) * 1_000_000,
      waitTime: 0.002 + (i % 3) * 0.001,
    }));
    const factor = 2 ** 1000;
    const scaled = base.map((t) => ({
      ...t,
      duration: t.duration * factor,
      memory: t.memory * 2 ** 970,
      waitTime: t.waitTime * factor,
    }));
    const a = computePss(base).breakdown;
    const b = computePss(scaled).breakdown;
    for (const key of Object.keys(a) as (keyof typeof a)[]) {
      assert.ok(
        Math.abs(a[key] - b[key]) < 1e-12,
        `${key}: ${a[key]} vs ${b[key]}`,
      );
    }
  });

  test("mean, stdev, cv, median and quantiles stay finite where the plain sums overflow", () => {
    const data = [HUGE, 1.5e308, HUGE, 1.5e308];
    assert.equal(mean(data), 1.25e308);
    assert.ok(Math.abs(stdev(data) - 0.2886751345948129e308) < 1e294);
    assert.ok(Math.abs(cv(data) - 0.2309401076758503) < 1e-15);
    assert.equal(median(new Float64Array(data)), 1.25e308);
    const [p50, p95] = exclusiveQuantiles(new Float64Array(data), [50, 95]);
    assert.equal(p50, 1.25e308);
    assert.ok(Number.isFinite(p95) && p95 >= 1.5e308 * 0.999, `p95 ${p95}`);
  });

  test("ordinary values take the plain formulas, bit for bit", () => {
    // The pypss parity fixtures (pss_test.ts) check whole reports; these
    // are the documented examples of each function.
    assert.equal(mean([0.1, 0.2, 0.3]), 0.2);
    assert.equal(cv([1, 3]), 0.7071067811865476);
    assert.equal(stdev([1, 2, 3, 4]), 1.2909944487358056);
    assert.equal(median(new Float64Array([4, 1, 3, 2])), 2.5);
  });
});
