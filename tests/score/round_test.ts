import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { roundHalfEven, roundPypss } from "../../src/score/round.ts";
import roundCases from "../testdata/score/round_cases.json" with {
  type: "json",
};

describe("roundHalfEven()", () => {
  const table: [number, number][] = [
    [92.5, 92],
    [93.5, 94],
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [2.4999999999999996, 2],
    [2.5000000000000004, 3],
    [99.99999999999999, 100],
    [0, 0],
    [100, 100],
    [-0.5, 0],
    [-1.5, -2],
    [-2.5, -2],
    [-2.6, -3],
  ];
  for (const [x, expected] of table) {
    test(`rounds ${x} to ${expected}`, () => {
      assert.equal(roundHalfEven(x), expected);
    });
  }

  test("rounds 0.9249999999999999 · 100, exactly 92.5, down to 92", () => {
    const product = 0.9249999999999999 * 100;
    assert.equal(product, 92.5);
    assert.equal(roundHalfEven(product), 92);
    assert.equal(Math.round(product), 93); // the trap it avoids
  });

  test("never returns -0", () => {
    assert.ok(Object.is(roundHalfEven(-0), 0));
    assert.ok(Object.is(roundHalfEven(-0.4), 0));
    assert.ok(Object.is(roundHalfEven(-0.5), 0));
  });

  test("returns NaN and infinities unchanged", () => {
    assert.ok(Number.isNaN(roundHalfEven(NaN)));
    assert.equal(roundHalfEven(Infinity), Infinity);
    assert.equal(roundHalfEven(-Infinity), -Infinity);
  });
});

describe("roundPypss()", () => {
  const table: [number, number, number][] = [
    [0.125, 2, 0.12],
    [0.375, 2, 0.38],
    [0.625, 2, 0.62],
    [0.875, 2, 0.88],
    [2.675, 2, 2.67],
    [1.005, 2, 1],
    [0.18393972058572117, 2, 0.18],
    [0.995, 2, 0.99], // 0.995 is stored below the tie
    [0.5, 0, 0],
    [1.5, 0, 2],
    [2.5, 0, 2],
    [-0.125, 2, -0.12],
    [-2.675, 2, -2.67],
    [1e22, 2, 1e22],
    [5e-324, 2, 0],
  ];
  for (const [x, digits, expected] of table) {
    test(`rounds ${x} to ${digits} digits as ${expected}, like Python`, () => {
      assert.equal(roundPypss(x, digits), expected);
    });
  }

  test("keeps the sign of a zero result, like Python", () => {
    assert.ok(Object.is(roundPypss(-0.001, 2), -0));
    assert.ok(Object.is(roundPypss(-0, 2), -0));
    assert.ok(Object.is(roundPypss(0, 2), 0));
  });

  test("returns NaN and infinities unchanged", () => {
    assert.ok(Number.isNaN(roundPypss(NaN, 2)));
    assert.equal(roundPypss(Infinity, 2), Infinity);
    assert.equal(roundPypss(-Infinity, 2), -Infinity);
  });

  test("returns x unchanged beyond 323 digits, like CPython", () => {
    assert.equal(roundPypss(0.1, 400), 0.1);
    assert.equal(roundPypss(5e-324, 323), 0);
    assert.equal(roundPypss(5e-324, 324), 5e-324);
  });

  test("agrees with Number(x.toFixed(2)) away from exact ties", () => {
    for (let k = 0; k < 2000; k++) {
      const x = k / 1999 + 1e-7 * (k % 7);
      if (Number.isInteger(8 * x) && (8 * x) % 2 === 1) continue;
      assert.equal(roundPypss(x, 2), Number(x.toFixed(2)), `x = ${x}`);
    }
  });

  test(`matches CPython 3.11 round(x, digits) on ${roundCases.length} recorded cases`, () => {
    for (const { x, digits, expected } of roundCases) {
      const actual = roundPypss(x, digits);
      assert.ok(
        Object.is(actual, expected),
        `round(${x}, ${digits}): expected ${expected}, got ${actual}`,
      );
    }
  });

  for (const digits of [-1, 1.5, NaN]) {
    test(`throws RangeError for digits ${digits}`, () => {
      assert.throws(() => roundPypss(1.25, digits), {
        name: "RangeError",
        message:
          `Cannot round as 'digits' must be an integer ≥ 0: got ${digits}`,
      });
    });
  }
});
