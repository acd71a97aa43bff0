/**
 * The statistics the pillars need (docs/scoring.md, "Statistics"), matching
 * Python's `statistics` module: sample standard deviation, median, and the
 * exclusive quantiles of `statistics.quantiles(x, n=100)`.
 *
 * Overflow-safe: where binary64 arithmetic on the values themselves would
 * overflow (a sum, a square, a weighted cut point of values near 1e308),
 * the computation is redone on the values scaled by a power of two, which
 * is exact, and scaled back. Ordinary values never take that path, so their
 * results are bit for bit those of the plain formulas.
 *
 * Order statistics come from selection, not from sorting, in O(n): large
 * arrays are read once against a bracket estimated from a sample, otherwise
 * (or when the bracket misses) Floyd–Rivest selection reorders the
 * `Float64Array` in place. Either way the values are exactly those a sort
 * would give.
 *
 * @module
 */

/**
 * Plain left-to-right sum, as Python 3.11's built-in `sum` over floats (pypss
 * compares such means with its thresholds).
 *
 * @param data The values.
 * @returns Their sum; 0 when empty.
 *
 * @example
 * ```ts
 * import { sum } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * assert.equal(sum([0.1, 0.2, 0.3]), 0.6000000000000001);
 * ```
 */
export function sum(data: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < data.length; i++) total += data[i];
  return total;
}

/**
 * Σ(x − m) and Σ(x − m)² in one pass, for the corrected two-pass mean and
 * variance (Chan, Golub and LeVeque): with m within an ulp or so of the
 * mean, Σ(x − m) / n is the residual that makes the mean nearly exact, and
 * Σ(x − m)² − (Σ(x − m))² / n the sum of squares about it. Identical values
 * then have a mean equal to the value and a spread of 0, as with Python's
 * exact `statistics` functions.
 */
function deviations(data: ArrayLike<number>, m: number): void {
  let first = 0;
  let second = 0;
  for (let i = 0; i < data.length; i++) {
    const d = data[i] - m;
    first += d;
    second += d * d;
  }
  DEVIATIONS[0] = first;
  DEVIATIONS[1] = second;
}

/** Results of {@linkcode deviations}; a module scratch spares an allocation. */
const DEVIATIONS = new Float64Array(2);

/**
 * Arithmetic mean, close to Python's exactly rounded `statistics.mean`: the
 * plain mean, then one correction pass (so the mean of identical values is
 * that value).
 *
 * @param data The values.
 * @returns The mean; NaN when `data` is empty.
 *
 * @example
 * ```ts
 * import { mean } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * assert.equal(mean([0.1, 0.2, 0.3]), 0.2);
 * ```
 */
export function mean(data: ArrayLike<number>): number {
  const n = data.length;
  if (n === 0) return NaN;
  const rough = sum(data) / n;
  if (rough - rough === 0) { // finite
    deviations(data, rough);
    const m = rough + DEVIATIONS[0] / n;
    if (m - m === 0) return m;
  }
  const scale = scaleOf(data);
  if (scale === 1) return rough; // NaN or infinite values: no scaling helps
  const inverse = 1 / scale;
  const scaledRough = scaledSum(data, inverse) / n;
  scaledDeviations(data, scaledRough, inverse);
  return (scaledRough + DEVIATIONS[0] / n) * scale;
}

/**
 * Values below this magnitude are never scaled: sums of up to 2^53 of them
 * and the squares of their differences stay finite.
 */
const SCALE_LIMIT = 2 ** 400;

/**
 * A power of two that brings the largest finite magnitude in `data` to
 * about {@linkcode SCALE_LIMIT}, or 1 when no value is that large (or the
 * data hold non-finite values, which no scaling can help). Dividing by a
 * power of two is exact for every value that does not fall below 2^-1022.
 */
function scaleOf(data: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < data.length; i++) {
    const x = Math.abs(data[i]);
    if (!(x - x === 0)) return 1;
    if (x > largest) largest = x;
  }
  if (largest <= SCALE_LIMIT) return 1;
  return 2 ** (Math.ceil(Math.log2(largest)) - 400);
}

function scaledSum(data: ArrayLike<number>, inverse: number): number {
  let total = 0;
  for (let i = 0; i < data.length; i++) total += data[i] * inverse;
  return total;
}

/** {@linkcode deviations} of the values times `inverse`. */
function scaledDeviations(
  data: ArrayLike<number>,
  m: number,
  inverse: number,
): void {
  let first = 0;
  let second = 0;
  for (let i = 0; i < data.length; i++) {
    const d = data[i] * inverse - m;
    first += d;
    second += d * d;
  }
  DEVIATIONS[0] = first;
  DEVIATIONS[1] = second;
}

/**
 * Leaves the corrected two-pass sums of `data` in {@linkcode DEVIATIONS}
 * and returns the scale they are in (1, or a power of two when the plain
 * sums overflow) and, in `MEAN[0]`, the rough mean in that scale.
 */
function twoPass(data: ArrayLike<number>): number {
  const n = data.length;
  const rough = sum(data) / n;
  if (rough - rough === 0) {
    deviations(data, rough);
    if (DEVIATIONS[1] - DEVIATIONS[1] === 0) {
      MEAN[0] = rough;
      return 1;
    }
  }
  const scale = scaleOf(data);
  if (scale === 1) { // non-finite input: the plain sums, as they are
    deviations(data, rough);
    MEAN[0] = rough;
    return 1;
  }
  const inverse = 1 / scale;
  const scaledRough = scaledSum(data, inverse) / n;
  scaledDeviations(data, scaledRough, inverse);
  MEAN[0] = scaledRough;
  return scale;
}

/** The rough mean of the last {@linkcode twoPass}, in its scale. */
const MEAN = new Float64Array(1);

/**
 * Sample standard deviation, sqrt(Σ(x − x̄)² / (n − 1)), by the corrected
 * two-pass algorithm (close to Python's exact `statistics.stdev`; 0 for
 * identical values).
 *
 * @param data The values.
 * @returns The sample standard deviation; NaN when fewer than 2 values.
 *
 * @example
 * ```ts
 * import { stdev } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * assert.equal(stdev([1, 2, 3, 4]), 1.2909944487358056);
 * ```
 */
export function stdev(data: ArrayLike<number>): number {
  const n = data.length;
  if (n < 2) return NaN;
  const scale = twoPass(data);
  return spread(n) * scale;
}

/** The sample standard deviation from the last {@linkcode deviations}. */
function spread(n: number): number {
  const first = DEVIATIONS[0];
  const squares = DEVIATIONS[1] - (first * first) / n;
  return squares > 0 ? Math.sqrt(squares / (n - 1)) : 0;
}

/**
 * Coefficient of variation as pypss computes it: 0 when there are fewer
 * than 2 values or the mean is 0, else stdev / mean.
 *
 * @param data The values.
 * @returns The coefficient of variation.
 *
 * @example
 * ```ts
 * import { cv } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * assert.equal(cv([1, 3]), 0.7071067811865476);
 * assert.equal(cv([0, 0]), 0);
 * ```
 */
export function cv(data: ArrayLike<number>): number {
  const n = data.length;
  if (n < 2) return 0;
  twoPass(data); // the ratio is the same in any scale
  const m = MEAN[0] + DEVIATIONS[0] / n;
  if (m === 0) return 0;
  return spread(n) / m;
}

/**
 * Largest value, by a loop (spreading a million values into `Math.max`
 * throws).
 *
 * @param data The values.
 * @returns The maximum; -Infinity when empty.
 *
 * @example
 * ```ts
 * import { max } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * assert.equal(max(new Float64Array([3, 9, 1])), 9);
 * ```
 */
export function max(data: ArrayLike<number>): number {
  let peak = -Infinity;
  for (let i = 0; i < data.length; i++) {
    if (data[i] > peak) peak = data[i];
  }
  return peak;
}

/**
 * Puts the `k`-th smallest value (0-based) at index `k`, every smaller or
 * equal value before it and every larger or equal value after it, in O(n)
 * expected time (Floyd–Rivest selection, with a sorting fallback that
 * bounds the worst case). `data` must not contain NaN.
 *
 * @param data The values, reordered in place.
 * @param k The rank to select, 0 ≤ k < data.length.
 * @returns The `k`-th smallest value.
 * @throws {RangeError} When `k` is not an index of `data`.
 *
 * @example
 * ```ts
 * import { nthElement } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * const data = new Float64Array([5, 1, 4, 2, 3]);
 * assert.equal(nthElement(data, 1), 2);
 * ```
 */
export function nthElement(data: Float64Array, k: number): number {
  if (!Number.isInteger(k) || k < 0 || k >= data.length) {
    throw new RangeError(
      `Cannot select as 'k' must be an index of the data: got ${k}`,
    );
  }
  selectRange(data, k, 0, data.length - 1);
  return data[k];
}

/**
 * Selects each rank of `ranks` (ascending) in turn, each search starting
 * after the previous rank, so that afterwards data[r] is the r-th smallest
 * value for every r in `ranks`. A rank right after the previous one is a
 * minimum scan rather than a new selection.
 */
function selectRanks(data: Float64Array, ranks: readonly number[]): void {
  const last = data.length - 1;
  let left = 0;
  for (const k of ranks) {
    if (k < left) continue; // already in place
    if (k === left) {
      let minIndex = k;
      for (let i = k + 1; i <= last; i++) {
        if (data[i] < data[minIndex]) minIndex = i;
      }
      swap(data, k, minIndex);
    } else {
      selectRange(data, k, left, last);
    }
    left = k + 1;
  }
}

/** From this many values, order statistics come from a sampled bracket. */
const BRACKET_MIN = 20_000;

/** How many values the bracket is estimated from. */
const BRACKET_SAMPLE = 4096;

/** Values read between two checks of the bracket's fill. */
const BRACKET_BLOCK = 4096;

/**
 * The values of `ranks` (ascending, 0-based) in the sorted order of `data`.
 * Large arrays first try {@linkcode bracketSelect} for each cluster of
 * adjacent ranks, which leaves `data` as it is; otherwise, or when a
 * bracket misses, Floyd–Rivest selection reorders `data` in place.
 */
function orderStatistics(
  data: Float64Array,
  ranks: readonly number[],
): number[] {
  const values = new Array<number>(ranks.length);
  if (data.length >= BRACKET_MIN) {
    let from = 0;
    while (from < ranks.length) {
      let to = from;
      while (to + 1 < ranks.length && ranks[to + 1] - ranks[from] <= 1) to++;
      if (!bracketSelect(data, ranks, from, to, values)) break;
      from = to + 1;
    }
    if (from === ranks.length) return values;
  }
  selectRanks(data, ranks);
  for (let i = 0; i < ranks.length; i++) values[i] = data[ranks[i]];
  return values;
}

/**
 * Finds ranks[from..to] (at most a couple of values apart) without touching
 * `data`: estimates from a fixed pseudo-random sample a value interval
 * [lo, hi] that very likely holds those ranks, counts the values below lo
 * and copies those inside in one pass, then selects within the copy, a few
 * percent of the data. Exact whenever it returns true; it returns false
 * (and the caller selects in place) when the interval missed or held too
 * many values, as with heavily repeated values.
 */
function bracketSelect(
  data: Float64Array,
  ranks: readonly number[],
  from: number,
  to: number,
  values: number[],
): boolean {
  const n = data.length;
  const sample = new Float64Array(BRACKET_SAMPLE);
  let seed = 0x9e3779b9;
  for (let i = 0; i < BRACKET_SAMPLE; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    sample[i] = data[Math.floor(((seed >>> 0) / 4294967296) * n)];
  }
  sample.sort();
  const low = ranks[from];
  const high = ranks[to];
  const q = (low + 0.5) / n;
  // Four standard deviations of the sample rank, plus slack.
  const margin = 4 * Math.sqrt(BRACKET_SAMPLE * q * (1 - q)) + 4;
  const loIndex = Math.floor(q * BRACKET_SAMPLE - margin);
  const hiIndex = Math.ceil(((high + 0.5) / n) * BRACKET_SAMPLE + margin);
  const lo = loIndex < 0 ? -Infinity : sample[loIndex];
  const hi = hiIndex >= BRACKET_SAMPLE ? Infinity : sample[hiIndex];
  const expected = (Math.min(hiIndex, BRACKET_SAMPLE) - Math.max(loIndex, 0)) /
    BRACKET_SAMPLE * n;
  const capacity = Math.ceil(expected * 1.25) + 1024;
  if (capacity > n / 2) return false;

  // Branch-free: on unordered data, branches on x would be mispredicted
  // half the time and cost as much as selecting in place. Every value is
  // written at the bucket's end, which only advances for values inside;
  // the fill is checked once per block, the block being spare room.
  const bucket = new Float64Array(capacity + BRACKET_BLOCK);
  let below = 0;
  let size = 0;
  for (let start = 0; start < n; start += BRACKET_BLOCK) {
    if (size > capacity) return false;
    const end = Math.min(n, start + BRACKET_BLOCK);
    for (let i = start; i < end; i++) {
      const x = data[i];
      below += +(x < lo);
      bucket[size] = x;
      size += +(x >= lo) & +(x <= hi);
    }
  }
  if (size > capacity || low < below || high >= below + size) return false;
  const inside = bucket.subarray(0, size);
  const relative: number[] = [];
  for (let i = from; i <= to; i++) relative.push(ranks[i] - below);
  selectRanks(inside, relative);
  for (let i = from; i <= to; i++) values[i] = inside[ranks[i] - below];
  return true;
}

/** Rounds of partitioning after which the range is sorted instead. */
const MAX_ROUNDS = 64;

/**
 * Floyd–Rivest SELECT on data[left..right] (inclusive): samples a window
 * around the expected position of the k-th value, recursively selects in it
 * to get a pivot that is very likely close to rank k, then partitions.
 */
function selectRange(
  data: Float64Array,
  k: number,
  left: number,
  right: number,
): void {
  let rounds = 0;
  while (right > left) {
    if (++rounds > MAX_ROUNDS) {
      data.subarray(left, right + 1).sort();
      return;
    }
    if (right - left > 600) {
      const n = right - left + 1;
      const m = k - left + 1;
      const z = Math.log(n);
      const s = 0.5 * Math.exp((2 * z) / 3);
      const sd = 0.5 * Math.sqrt((z * s * (n - s)) / n) *
        (m - n / 2 < 0 ? -1 : 1);
      const newLeft = Math.max(left, Math.floor(k - (m * s) / n + sd));
      const newRight = Math.min(right, Math.floor(k + ((n - m) * s) / n + sd));
      selectRange(data, k, newLeft, newRight);
    }
    const pivot = data[k];
    let i = left;
    let j = right;
    swap(data, left, k);
    if (data[right] > pivot) swap(data, left, right);
    while (i < j) {
      swap(data, i, j);
      i++;
      j--;
      while (data[i] < pivot) i++;
      while (data[j] > pivot) j--;
    }
    if (data[left] === pivot) {
      swap(data, left, j);
    } else {
      j++;
      swap(data, j, right);
    }
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

function swap(data: Float64Array, i: number, j: number): void {
  const t = data[i];
  data[i] = data[j];
  data[j] = t;
}

/**
 * Median as Python's `statistics.median`: the middle value for odd n, the
 * mean of the two middle values, `(a + b) / 2`, for even n.
 *
 * @param data The values; may be reordered in place (selection, no sort).
 * @returns The median; NaN when empty.
 *
 * @example
 * ```ts
 * import { median } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * assert.equal(median(new Float64Array([4, 1, 3, 2])), 2.5);
 * ```
 */
export function median(data: Float64Array): number {
  const n = data.length;
  if (n === 0) return NaN;
  const half = n >>> 1;
  if (n % 2 === 1) return orderStatistics(data, [half])[0];
  const [a, b] = orderStatistics(data, [half - 1, half]);
  const middle = (a + b) / 2;
  // Two values near the top of binary64 overflow their sum, not their mean.
  return middle - middle === 0 ? middle : a / 2 + b / 2;
}

/**
 * Cut points of Python's `statistics.quantiles(data, n=parts)` with the
 * default exclusive method, computed by selection of the order statistics
 * they need rather than by sorting.
 *
 * For cut point i (1 ≤ i < parts) and N values, m = N + 1,
 * j = ⌊i·m / parts⌋ clamped to [1, N − 1], d = i·m − parts·j, and the cut is
 * (x[j−1]·(parts − d) + x[j]·d) / parts over the sorted values. Because of
 * the clamp, high cut points of small samples lie beyond the maximum:
 * `[1, 3]` has its 95th percentile at 4.7, exactly as Python computes it.
 *
 * @param data At least 2 values; may be reordered in place.
 * @param points The cut points wanted, each an integer in [1, parts − 1].
 * @param parts How many equal parts the quantiles divide the data into.
 * @returns One value per entry of `points`, in the same order.
 * @throws {RangeError} When `data` has fewer than 2 values, or a point or
 * `parts` is out of range.
 *
 * @example
 * ```ts
 * import { exclusiveQuantiles } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * const [p50, p95] = exclusiveQuantiles(new Float64Array([1, 3]), [50, 95]);
 * assert.equal(p50, 2);
 * assert.equal(p95, 4.7);
 * ```
 */
export function exclusiveQuantiles(
  data: Float64Array,
  points: readonly number[],
  parts = 100,
): number[] {
  const n = data.length;
  if (n < 2) {
    throw new RangeError(
      `Cannot compute quantiles as at least 2 values are needed: got ${n}`,
    );
  }
  if (!Number.isSafeInteger(parts) || parts < 1) {
    throw new RangeError(
      `Cannot compute quantiles as 'parts' must be a positive integer: got ${parts}`,
    );
  }
  const m = n + 1;
  const deltas: number[] = [];
  const ranks: number[] = [];
  for (const i of points) {
    if (!Number.isInteger(i) || i < 1 || i >= parts) {
      throw new RangeError(
        `Cannot compute quantiles as a cut point must be an integer from 1 to ${
          parts - 1
        }: got ${i}`,
      );
    }
    const im = i * m; // exact: both are safe integers
    let j = (im - (im % parts)) / parts;
    j = j < 1 ? 1 : j > n - 1 ? n - 1 : j;
    deltas.push(im - j * parts);
    ranks.push(j - 1, j);
  }
  const order = ranks.map((_, i) => i).sort((a, b) => ranks[a] - ranks[b]);
  const sorted = order.map((i) => ranks[i]);
  const found = orderStatistics(data, sorted);
  const valueOf: number[] = new Array(ranks.length);
  order.forEach((i, position) => valueOf[i] = found[position]);
  return deltas.map((d, index) => {
    const below = valueOf[2 * index];
    const above = valueOf[2 * index + 1];
    const cut = (below * (parts - d) + above * d) / parts;
    if (cut - cut === 0) return cut;
    // Overflowed products: the same formula on scaled values.
    const scale = scaleOf([below, above]);
    if (scale === 1) return cut;
    const inverse = 1 / scale;
    return ((below * inverse * (parts - d) + above * inverse * d) / parts) *
      scale;
  });
}

/**
 * Exponential decay score, `exp(−rate · x)`, mapping a metric where 0 is
 * best onto (0, 1] (pypss's `exponential_decay_score`).
 *
 * @param x The metric, 0 when perfect.
 * @param rate The decay rate (pypss's alpha, gamma or delta).
 * @returns `Math.exp(-rate * x)`.
 *
 * @example
 * ```ts
 * import { decay } from "@pss/pss/stats";
 * import assert from "node:assert/strict";
 * assert.equal(decay(1, 1), 0.36787944117144233);
 * ```
 */
export function decay(x: number, rate: number): number {
  return Math.exp(-rate * x);
}
