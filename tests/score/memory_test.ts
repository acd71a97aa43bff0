import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { memoryStability } from "../../src/score/memory.ts";
import { resolveConfig } from "../../src/score/config.ts";

const EPS = 1e-9;

describe("memoryStability()", () => {
  const table: [string, number[], object, number][] = [
    ["is 1 for no samples", [], {}, 1],
    ["is 1 for one sample", [5e6], {}, 1],
    ["is 1 when every sample is 0 (median 0, peak 0)", [0, 0, 0], {}, 1],
    ["is 0 when the median is 0 but the peak is not", [0, 0, 5e6], {}, 0],
    ["is 0 when the median of an even count is 0", [0, 0, 0, 7], {}, 0],
    [
      // stdev 0; ρ = 100 / (100 + ε) is a hair below 1
      "is a hair above 1 for constant samples (ε in the median)",
      [100, 100, 100],
      {},
      Math.exp(-2 * (0 / (100 + EPS) + (100 / (100 + EPS) - 1))),
    ],
    [
      // median 100, peak 300, stdev √((3·50² + 150²) / 3) = 100
      "adds the spike penalty when peak / median exceeds 1.5",
      [100, 300, 100, 100],
      {},
      Math.exp(-2 * (100 / (100 + EPS) + (300 / (100 + EPS) - 1))) *
      Math.exp(-2 * (300 / (100 + EPS) - 1.5)),
    ],
    [
      // median 100, peak 140: ρ ≈ 1.4 ≤ 1.5, no spike penalty;
      // stdev of [100, 100, 140] = √(2·(40/3)² + (80/3)²) / √2 = 40/√3
      "has no spike penalty below the threshold",
      [100, 140, 100],
      {},
      Math.exp(
        -2 * ((40 / Math.sqrt(3)) / (100 + EPS) + (140 / (100 + EPS) - 1)),
      ),
    ],
    [
      "takes gamma and the spike threshold from the configuration",
      [100, 300, 100, 100],
      { gamma: 1, memSpikeThresholdRatio: 2.5 },
      Math.exp(-1 * (100 / (100 + EPS) + (300 / (100 + EPS) - 1))) *
      Math.exp(-1 * (300 / (100 + EPS) - 2.5)),
    ],
  ];
  for (const [label, samples, overrides, expected] of table) {
    test(label, () => {
      const actual = memoryStability(
        Float64Array.from(samples),
        resolveConfig(overrides),
      );
      assert.ok(
        Math.abs(actual - expected) <= 1e-15,
        `expected ${expected}, got ${actual}`,
      );
    });
  }

  test("uses the mean of the two middle samples as the median of an even count", () => {
    // median (100 + 200) / 2 = 150, peak 400, mean 212.5
    const samples = [400, 100, 200, 150];
    const mean = 212.5;
    const sd = Math.sqrt(
      samples.reduce((s, x) => s + (x - mean) ** 2, 0) / 3,
    );
    const med = (150 + 200) / 2 + EPS; // sorted: 100 150 200 400
    const rho = 400 / med;
    const expected = Math.exp(-2 * (sd / med + (rho - 1))) *
      Math.exp(-2 * (rho - 1.5));
    const actual = memoryStability(Float64Array.from(samples));
    assert.ok(Math.abs(actual - expected) <= 1e-15, `got ${actual}`);
  });
});
