import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { timingStability } from "../../src/score/timing.ts";
import { DEFAULT_CONFIG, resolveConfig } from "../../src/score/config.ts";

const SQRT3 = Math.sqrt(3);

describe("timingStability()", () => {
  // [label, durations, config overrides, expected written out from docs/scoring.md, section 5]
  const table: [string, number[], object, number][] = [
    ["is 1 for no durations", [], {}, 1],
    ["is 1 for one duration", [0.25], {}, 1],
    ["is 1 for identical durations", [0.1, 0.1, 0.1, 0.1], {}, 1],
    [
      "is 1 for all-zero durations (p50 = 0 keeps the ratio at 1)",
      [0, 0],
      {},
      1,
    ],
    [
      // cv = √2/2; p50 = 2; p95 = 4.7 (beyond the max); r = 2.35
      "penalises [1, 3] with its p95 beyond the maximum",
      [1, 3],
      {},
      Math.exp(-2 * (Math.SQRT2 / 2)) * (1 / (1 + 1 * (4.7 / 2 - 1))),
    ],
    [
      // mean 1/3, stdev √(1/3): cv = √3; p50 = x[1] = 0, so r stays 1
      "uses only the CV when p50 is 0",
      [0, 1, 0],
      {},
      Math.exp(-2 * SQRT3),
    ],
    [
      "takes alpha and beta from the configuration",
      [1, 3],
      { alpha: 1, beta: 0.5 },
      Math.exp(-1 * (Math.SQRT2 / 2)) * (1 / (1 + 0.5 * (4.7 / 2 - 1))),
    ],
    [
      // index 49 is cut point 50, the median itself: r = 1
      "reads the tail cut point at index scoreLatencyTailPercentile",
      [1, 3],
      { scoreLatencyTailPercentile: 49 },
      Math.exp(-2 * (Math.SQRT2 / 2)),
    ],
  ];
  for (const [label, durations, overrides, expected] of table) {
    test(label, () => {
      const actual = timingStability(
        Float64Array.from(durations),
        resolveConfig(overrides),
      );
      assert.ok(
        Math.abs(actual - expected) <= 1e-15,
        `expected ${expected}, got ${actual}`,
      );
    });
  }

  test("interpolates p50 and p95 of 1..100 as Python does", () => {
    const durations = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    // m = 101. p50: j = 50, d = 50 → (50·50 + 51·50) / 100 = 50.5.
    // p95: j = 95, d = 95 → (95·5 + 96·95) / 100 = 95.95.
    // stdev of 1..100 = √(100·101/12).
    const cv = Math.sqrt((100 * 101) / 12) / 50.5;
    const expected = Math.exp(-2 * cv) * (1 / (1 + (95.95 / 50.5 - 1)));
    const actual = timingStability(durations, DEFAULT_CONFIG);
    assert.ok(Math.abs(actual - expected) <= 1e-15, `got ${actual}`);
  });

  test("gives Python's exact value for identical durations", () => {
    // The CV is exactly 0; what remains is the rounding of the quantile
    // interpolation, which Python shares (CPython 3.11 values).
    const table: [number, number, number][] = [
      [0.1, 3, 1],
      [0.3, 999, 1],
      [12.5, 10, 1],
      [0.007, 10, 0.9999999999999998],
      [1e-9, 3, 0.9999999999999998],
    ];
    for (const [x, n, expected] of table) {
      const actual = timingStability(new Float64Array(n).fill(x));
      assert.equal(actual, expected, `${n} × ${x}`);
    }
  });

  test("keeps the durations (as a multiset) while reordering them", () => {
    const durations = Float64Array.from([5, 3, 9, 1, 7, 2]);
    timingStability(durations);
    assert.deepEqual([...durations].sort((a, b) => a - b), [1, 2, 3, 5, 7, 9]);
  });
});
