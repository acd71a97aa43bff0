import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  cv,
  decay,
  exclusiveQuantiles,
  max,
  mean,
  median,
  nthElement,
  stdev,
  sum,
} from "../../src/score/stats.ts";

/** Python's statistics.quantiles(data, n=parts) (exclusive), by sorting. */
function sortedQuantiles(values: ArrayLike<number>, parts = 100): number[] {
  const x = Float64Array.from(values).sort();
  const n = x.length;
  const m = n + 1;
  const out: number[] = [];
  for (let i = 1; i < parts; i++) {
    let j = Math.floor((i * m) / parts);
    j = Math.min(Math.max(j, 1), n - 1);
    const d = i * m - j * parts;
    out.push((x[j - 1] * (parts - d) + x[j] * d) / parts);
  }
  return out;
}

/** Deterministic xorshift32 in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Value generators covering spread, ties, order and zeros. */
const SHAPES: Record<string, (n: number, next: () => number) => Float64Array> =
  {
    uniform: (n, next) => Float64Array.from({ length: n }, next),
    "few distinct": (n, next) =>
      Float64Array.from({ length: n }, () => Math.floor(next() * 4)),
    "all equal": (n) => new Float64Array(n).fill(0.25),
    sorted: (n, next) => Float64Array.from({ length: n }, next).sort(),
    reversed: (n, next) =>
      Float64Array.from({ length: n }, next).sort().reverse(),
    "heavy tail": (n, next) =>
      Float64Array.from({ length: n }, () => (-Math.log(1 - next())) ** 3),
    "mostly zero": (n, next) =>
      Float64Array.from({ length: n }, () => next() < 0.9 ? 0 : next()),
    "organ pipe": (n) =>
      Float64Array.from({ length: n }, (_, i) => Math.min(i, n - 1 - i)),
  };

describe("exclusiveQuantiles()", () => {
  test("puts the 95th percentile of [1, 3] beyond the maximum, at 4.7", () => {
    const [p50, p95] = exclusiveQuantiles(new Float64Array([1, 3]), [50, 95]);
    assert.equal(p50, 2);
    // j = 1 after clamping, d = 95·3 − 100 = 185: (1·(100 − 185) + 3·185) / 100
    assert.equal(p95, (1 * (100 - 185) + 3 * 185) / 100);
    assert.equal(p95, 4.7);
  });

  const table: [string, number[], number[], number[]][] = [
    // Literals from CPython 3.11 statistics.quantiles(x, n=100).
    ["[1, 2, 3]", [1, 2, 3], [50, 95, 1, 99], [2, 3.8, 0.04, 3.96]],
    ["[5, 1, 4, 2, 3]", [5, 1, 4, 2, 3], [50, 95], [3, 5.7]],
    ["[0.1, 0.2, 0.3, 0.4]", [0.1, 0.2, 0.3, 0.4], [50, 95], [
      0.25,
      0.475,
    ]],
  ];
  for (const [label, values, points, expected] of table) {
    test(`gives Python's cut points ${points} of ${label}`, () => {
      const actual = exclusiveQuantiles(new Float64Array(values), points);
      for (let k = 0; k < points.length; k++) {
        assert.ok(
          Math.abs(actual[k] - expected[k]) < 1e-12,
          `cut ${points[k]}: expected ${expected[k]}, got ${actual[k]}`,
        );
      }
    });
  }

  test("equals the sort-based quantiles bit for bit on sizes 2 to 50", () => {
    const next = random(1);
    for (const [shape, make] of Object.entries(SHAPES)) {
      for (let n = 2; n <= 50; n++) {
        for (let trial = 0; trial < 20; trial++) {
          const values = make(n, next);
          const expected = sortedQuantiles(values);
          const points = [50, 95, 1 + Math.floor(next() * 99)];
          const actual = exclusiveQuantiles(values.slice(), points);
          for (let k = 0; k < points.length; k++) {
            assert.ok(
              Object.is(actual[k], expected[points[k] - 1]),
              `${shape}, n=${n}, cut ${points[k]}: expected ${
                expected[points[k] - 1]
              }, got ${actual[k]}`,
            );
          }
        }
      }
    }
  });

  test("equals the sort-based quantiles on large inputs of every shape", () => {
    const next = random(2);
    for (const [shape, make] of Object.entries(SHAPES)) {
      for (const n of [601, 1000, 4096, 65_537, 200_000]) {
        const values = make(n, next);
        const expected = sortedQuantiles(values);
        const points = [50, 95, 1, 99, 25, 75];
        const actual = exclusiveQuantiles(values.slice(), points);
        for (let k = 0; k < points.length; k++) {
          assert.ok(
            Object.is(actual[k], expected[points[k] - 1]),
            `${shape}, n=${n}, cut ${points[k]}`,
          );
        }
      }
    }
  });

  test("accepts other numbers of parts, like quantiles(x, n=4)", () => {
    const values = Float64Array.from([7, 1, 3, 9, 4, 4, 2]);
    assert.deepEqual(
      exclusiveQuantiles(values.slice(), [1, 2, 3], 4),
      sortedQuantiles(values, 4),
    );
    assert.deepEqual(sortedQuantiles(values, 4), [2, 4, 7]); // CPython 3.11
  });

  test("throws RangeError for fewer than 2 values", () => {
    assert.throws(() => exclusiveQuantiles(new Float64Array([1]), [50]), {
      name: "RangeError",
      message:
        "Cannot compute quantiles as at least 2 values are needed: got 1",
    });
  });

  for (const point of [0, 100, 2.5]) {
    test(`throws RangeError for cut point ${point}`, () => {
      assert.throws(
        () => exclusiveQuantiles(new Float64Array([1, 2]), [point]),
        {
          name: "RangeError",
          message:
            `Cannot compute quantiles as a cut point must be an integer from 1 to 99: got ${point}`,
        },
      );
    });
  }
});

describe("nthElement()", () => {
  test("selects every rank of random arrays like a sort does", () => {
    const next = random(3);
    for (const [shape, make] of Object.entries(SHAPES)) {
      for (const n of [1, 2, 3, 10, 100, 1000, 5000]) {
        const values = make(n, next);
        const sorted = values.slice().sort();
        for (const k of [0, n - 1, n >>> 1, Math.floor(next() * n)]) {
          const data = values.slice();
          assert.equal(nthElement(data, k), sorted[k], `${shape}, n=${n}`);
          for (let i = 0; i < k; i++) assert.ok(data[i] <= data[k]);
          for (let i = k + 1; i < n; i++) assert.ok(data[i] >= data[k]);
        }
      }
    }
  });

  test("throws RangeError for a rank outside the array", () => {
    assert.throws(() => nthElement(new Float64Array(3), 3), {
      name: "RangeError",
      message: "Cannot select as 'k' must be an index of the data: got 3",
    });
  });
});

describe("median()", () => {
  const table: [number[], number][] = [
    [[5], 5],
    [[4, 1, 3, 2], 2.5],
    [[3, 1, 2], 2],
    [[0, 0, 0, 5e6], 0],
    [[1, 1e308, 1e308, 1], (1 + 1e308) / 2],
  ];
  for (const [values, expected] of table) {
    test(`of [${values}] is ${expected}`, () => {
      assert.equal(median(Float64Array.from(values)), expected);
    });
  }

  test("equals the sort-based median on random arrays", () => {
    const next = random(4);
    for (const [shape, make] of Object.entries(SHAPES)) {
      for (const n of [1, 2, 7, 8, 999, 1000, 100_001]) {
        const values = make(n, next);
        const sorted = values.slice().sort();
        const half = n >>> 1;
        const expected = n % 2
          ? sorted[half]
          : (sorted[half - 1] + sorted[half]) / 2;
        assert.equal(median(values), expected, `${shape}, n=${n}`);
      }
    }
  });

  test("is NaN when empty", () => {
    assert.ok(Number.isNaN(median(new Float64Array(0))));
  });
});

describe("mean(), stdev(), cv(), sum(), max(), decay()", () => {
  test("stdev is the sample standard deviation", () => {
    // CPython 3.11: statistics.stdev([1, 2, 3, 4])
    assert.equal(stdev([1, 2, 3, 4]), 1.2909944487358056);
    assert.equal(stdev([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
    assert.ok(Number.isNaN(stdev([1])));
  });

  test("mean is within an ulp of Python's exactly rounded mean", () => {
    // CPython 3.11: statistics.mean gives 0.2 and 0.1; sum()/n does not.
    assert.equal(mean([0.1, 0.2, 0.3]), 0.2);
    assert.equal(sum([0.1, 0.2, 0.3]) / 3, 0.20000000000000004);
    assert.equal(mean([0.1, 0.1, 0.1]), 0.1);
    assert.equal(mean(new Float64Array(1000).fill(0.001)), 0.001);
    // Not always exactly rounded: within an ulp of 0.39999999999999997.
    assert.ok(Math.abs(mean([0.1, 0.7]) - 0.39999999999999997) <= 5.6e-17);
    assert.ok(Number.isNaN(mean([])));
  });

  test("stdev and cv are exactly 0 for identical values", () => {
    for (const x of [0.1, 0.3, 1e-7, 12345.678, 5e7]) {
      for (const n of [2, 3, 7, 1000]) {
        const values = new Float64Array(n).fill(x);
        assert.equal(stdev(values), 0, `${n} × ${x}`);
        assert.equal(cv(values), 0, `${n} × ${x}`);
      }
    }
  });

  test("cv is 0 for fewer than 2 values or a zero mean", () => {
    assert.equal(cv([5]), 0);
    assert.equal(cv([0, 0, 0]), 0);
    assert.equal(cv([1, 3]), Math.SQRT2 / 2);
  });

  test("max loops over a million values where Math.max(...x) throws", () => {
    const values = new Float64Array(1_000_000);
    values[765_432] = 3;
    assert.equal(max(values), 3);
    assert.equal(max([]), -Infinity);
  });

  test("decay is exp(−rate · x)", () => {
    assert.equal(decay(0, 2), 1);
    assert.equal(decay(1, 1), Math.exp(-1));
    assert.equal(decay(0.5, 2), Math.exp(-1));
  });
});
