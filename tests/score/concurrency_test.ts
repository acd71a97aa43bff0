import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { concurrencyChaos } from "../../src/score/concurrency.ts";
import { resolveConfig } from "../../src/score/config.ts";

describe("concurrencyChaos()", () => {
  const table: [string, number[], number[], object, number][] = [
    ["is 1 with nothing to judge", [], [], {}, 1],
    ["ignores a single wait time", [0.5], [], {}, 1],
    [
      "ignores wait times whose mean is below the threshold",
      [0, 0.0019],
      [],
      {},
      1,
    ],
    [
      // 0.0005 + 0.0015 = 0.002 exactly; mean 0.001 is not > 0.001
      "ignores wait times whose mean equals the threshold (strictly greater)",
      [0.0005, 0.0015],
      [],
      {},
      1,
    ],
    [
      // mean 0.002 > 0.001; cv = (√2 · 0.001) / 0.002 = √2/2
      "decays with the CV of wait times above the threshold",
      [0.001, 0.003],
      [],
      {},
      Math.exp(-2 * (Math.SQRT2 / 2)),
    ],
    ["ignores a mean lag of exactly 0.01", [], [0.01], {}, 1],
    ["halves for a mean lag of 0.1", [], [0.1], {}, 1 - Math.min(1, 0.1 * 5)],
    [
      "uses the mean of the lags",
      [],
      [0.05, 0.02],
      {},
      1 - Math.min(1, ((0.05 + 0.02) / 2) * 5),
    ],
    [
      "reaches 0 at a mean lag of 0.2 and beyond, never below",
      [],
      [0.3],
      {},
      0,
    ],
    [
      "multiplies the wait and lag factors",
      [0.001, 0.003],
      [0.1],
      {},
      Math.exp(-2 * (Math.SQRT2 / 2)) * 0.5,
    ],
    [
      "takes its thresholds and factors from the configuration",
      [0.001, 0.003],
      [0.02],
      {
        alpha: 1,
        concurrencyWaitThreshold: 0.0025,
        loopLagThreshold: 0.015,
        loopLagFactor: 10,
      },
      1 - Math.min(1, 0.02 * 10),
    ],
  ];
  for (const [label, waits, lags, overrides, expected] of table) {
    test(label, () => {
      const actual = concurrencyChaos(
        Float64Array.from(waits),
        lags,
        resolveConfig(overrides),
      );
      assert.ok(
        Math.abs(actual - expected) <= 1e-15,
        `expected ${expected}, got ${actual}`,
      );
    });
  }

  test("leaves the wait times in input order", () => {
    const waits = Float64Array.from([0.005, 0.001, 0.003]);
    concurrencyChaos(waits, []);
    assert.deepEqual([...waits], [0.005, 0.001, 0.003]);
  });
});
