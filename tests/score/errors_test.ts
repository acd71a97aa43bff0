import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type ErrorSummary,
  errorVolatility,
  summarizeErrors,
} from "../../src/score/errors.ts";
import { resolveConfig } from "../../src/score/config.ts";

/** The spike factor of docs/scoring.md, section 5, for error rate m above 0.1. */
const spike = (m: number) => 1 - ((m - 0.1) / (1 - 0.1)) * 0.5;

describe("errorVolatility()", () => {
  const table: [string, ErrorSummary, object, number][] = [
    ["is 1 with no outcomes", { total: 0, errors: 0, longestRun: 0 }, {}, 1],
    ["is 1 with no errors", { total: 50, errors: 0, longestRun: 0 }, {}, 1],
    [
      // m = 1, vmr = 0 (n = 1), spike impact 1: e⁻¹ · 0.5 ≈ 0.18394
      "gives e⁻¹ · 0.5 for one error alone",
      { total: 1, errors: 1, longestRun: 1 },
      {},
      Math.exp(-1) * 0.5,
    ],
    [
      // m = 0.1 is not above the spike threshold; variance 1·9/(10·9) = 0.1
      "has no spike penalty at exactly the threshold rate",
      { total: 10, errors: 1, longestRun: 1 },
      {},
      Math.exp(-(0.1 + 0.5 * (0.1 / 0.1))),
    ],
    [
      // m = 0.2; variance 2·8/(10·9)
      "applies the spike penalty above the threshold rate",
      { total: 10, errors: 2, longestRun: 1 },
      {},
      Math.exp(-(0.2 + 0.5 * ((2 * 8) / (10 * 9) / 0.2))) * spike(0.2),
    ],
    [
      "has no run penalty for a run of 2",
      { total: 20, errors: 2, longestRun: 2 },
      {},
      Math.exp(-(0.1 + 0.5 * ((2 * 18) / (20 * 19) / 0.1))),
    ],
    [
      // R = 3: exp(−2δ·(3 − 3 + 1))
      "applies the run penalty from a run of 3",
      { total: 20, errors: 3, longestRun: 3 },
      {},
      Math.exp(-(0.15 + 0.5 * ((3 * 17) / (20 * 19) / 0.15))) *
      spike(0.15) * Math.exp(-2 * 1),
    ],
    [
      "grows the run penalty with the run length",
      { total: 20, errors: 7, longestRun: 7 },
      {},
      Math.exp(-(0.35 + 0.5 * ((7 * 13) / (20 * 19) / 0.35))) *
      spike(0.35) * Math.exp(-2 * 5),
    ],
    [
      // variance 0 when every outcome is an error
      "handles all errors",
      { total: 10, errors: 10, longestRun: 10 },
      {},
      Math.exp(-1) * spike(1) * Math.exp(-2 * 8),
    ],
    [
      "takes delta and the thresholds from the configuration",
      { total: 20, errors: 3, longestRun: 2 },
      {
        delta: 2,
        consecutiveErrorThreshold: 2,
        errorSpikeThreshold: 0.2,
        scoreErrorVmrMultiplier: 1,
        scoreConsecutiveErrorDecayMultiplier: 3,
      },
      Math.exp(-2 * (0.15 + 1 * ((3 * 17) / (20 * 19) / 0.15))) *
      Math.exp(-(2 * 3) * 1),
    ],
  ];
  for (const [label, summary, overrides, expected] of table) {
    test(label, () => {
      const actual = errorVolatility(summary, resolveConfig(overrides));
      assert.ok(
        Math.abs(actual - expected) <= 1e-15,
        `expected ${expected}, got ${actual}`,
      );
    });
  }

  test("sees bursts only through the run penalty (vmr depends on the count)", () => {
    const scattered = summarizeErrors([1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    const paired = summarizeErrors([1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(errorVolatility(scattered), errorVolatility(paired));
    const burst = summarizeErrors([1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const spread = summarizeErrors([1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(
      errorVolatility(burst),
      errorVolatility(spread) * Math.exp(-2),
    );
  });
});

describe("summarizeErrors()", () => {
  test("counts outcomes, errors and the longest run in order", () => {
    assert.deepEqual(
      summarizeErrors([false, true, true, false, true, true, true, 0, 1]),
      { total: 9, errors: 6, longestRun: 3 },
    );
    assert.deepEqual(summarizeErrors([]), {
      total: 0,
      errors: 0,
      longestRun: 0,
    });
  });
});
