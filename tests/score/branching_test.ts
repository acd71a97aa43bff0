import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { branchingEntropy } from "../../src/score/branching.ts";

describe("branchingEntropy()", () => {
  const table: [string, number[], number][] = [
    ["is 1 with no tags", [], 1],
    ["is 1 with one distinct tag", [42], 1],
    ["ignores zero counts", [0, 5, 0], 1],
    ["is 0 for two evenly used tags", [3, 3], 0],
    [
      "is 1 − H/log2(U) for a skewed split",
      [9, 1],
      1 - (-(0.9 * Math.log2(0.9)) - 0.1 * Math.log2(0.1)) / Math.log2(2),
    ],
    [
      // p = 1/2, 1/4, 1/4: H = 1.5 bits
      "is 1 − 1.5/log2(3) for counts 2, 1, 1",
      [2, 1, 1],
      1 - 1.5 / Math.log2(3),
    ],
  ];
  for (const [label, counts, expected] of table) {
    test(label, () => {
      const actual = branchingEntropy(counts);
      assert.ok(
        Math.abs(actual - expected) <= 1e-15,
        `expected ${expected}, got ${actual}`,
      );
    });
  }

  test("is within float noise of 0 for evenly used tags (unclamped)", () => {
    for (const u of [3, 5, 6, 7, 10, 100]) {
      const actual = branchingEntropy(new Array(u).fill(7));
      assert.ok(Math.abs(actual) < 1e-14, `U=${u}: ${actual}`);
    }
  });

  test("accepts the values of a Map in first-seen order", () => {
    const counts = new Map([["hit", 90], ["miss", 9], ["stale", 1]]);
    assert.equal(
      branchingEntropy(counts.values()),
      branchingEntropy([90, 9, 1]),
    );
  });
});
