/**
 * The statistics the pillars need (SCORING.md §2), matching Python's
 * `statistics` module: sample standard deviation, median, and the exclusive
 * quantiles of `statistics.quantiles(x, n=100)`.
 *
 * Order statistics come from selection (Floyd–Rivest), not from sorting: the
 * functions that take a `Float64Array` reorder it in place and cost O(n).
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
 * import { sum } from "@pss/pss";
 * console.log(sum([0.1, 0.2, 0.3])); // 0.6000000000000001
 * ```
 */
export function sum(data: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < data.length; i++) total += data[i];
  return total;
}

/** Compensated (Neumaier) sum: nearly the exactly rounded sum. */
function accurateSum(data: ArrayLike<number>): number {
  let total = 0;
  let compensation = 0;
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    const t = total + x;
    if (Math.abs(total) >= Math.abs(x)) compensation += (total - t) + x;
    else compensation += (x - t) + total;
    total = t;
  }
  return total + compensation;
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
 * Arithmetic mean, close to Python's exactly rounded `statistics.mean`: a
 * compensated sum, then one correction pass (so the mean of identical values
 * is that value).
 *
 * @param data The values.
 * @returns The mean; NaN when `data` is empty.
 *
 * @example
 * ```ts
 * import { mean } from "@pss/pss";
 * console.log(mean([0.1, 0.2, 0.3])); // 0.2
 * ```
 */
export function mean(data: ArrayLike<number>): number {
  const n = data.length;
  if (n === 0) return NaN;
  const rough = accurateSum(data) / n;
  deviations(data, rough);
  return rough + DEVIATIONS[0] / n;
}

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
 * import { stdev } from "@pss/pss";
 * console.log(stdev([1, 2, 3, 4])); // 1.2909944487358056
 * ```
 */
export function stdev(data: ArrayLike<number>): number {
  const n = data.length;
  if (n < 2) return NaN;
  deviations(data, accurateSum(data) / n);
  return spread(n);
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
 * import { cv } from "@pss/pss";
 * console.log(cv([1, 3])); // 0.7071067811865476
 * console.log(cv([0, 0])); // 0
 * ```
 */
export function cv(data: ArrayLike<number>): number {
  const n = data.length;
  if (n < 2) return 0;
  const rough = accurateSum(data) / n;
  deviations(data, rough);
  const m = rough + DEVIATIONS[0] / n;
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
 * import { max } from "@pss/pss";
 * console.log(max(new Float64Array([3, 9, 1]))); // 9
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
 * import { nthElement } from "@pss/pss";
 * const data = new Float64Array([5, 1, 4, 2, 3]);
 * console.log(nthElement(data, 1)); // 2
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
 * @param data The values, reordered in place (selection, no sort).
 * @returns The median; NaN when empty.
 *
 * @example
 * ```ts
 * import { median } from "@pss/pss";
 * console.log(median(new Float64Array([4, 1, 3, 2]))); // 2.5
 * ```
 */
export function median(data: Float64Array): number {
  const n = data.length;
  if (n === 0) return NaN;
  const half = n >>> 1;
  if (n % 2 === 1) {
    selectRanks(data, [half]);
    return data[half];
  }
  selectRanks(data, [half - 1, half]);
  return (data[half - 1] + data[half]) / 2;
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
 * @param data At least 2 values, reordered in place.
 * @param points The cut points wanted, each an integer in [1, parts − 1].
 * @param parts How many equal parts the quantiles divide the data into.
 * @returns One value per entry of `points`, in the same order.
 * @throws {RangeError} When `data` has fewer than 2 values, or a point or
 * `parts` is out of range.
 *
 * @example
 * ```ts
 * import { exclusiveQuantiles } from "@pss/pss";
 * const [p50, p95] = exclusiveQuantiles(new Float64Array([1, 3]), [50, 95]);
 * console.log(p50, p95); // 2 4.7
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
  const lows: number[] = [];
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
    lows.push(j);
    deltas.push(im - j * parts);
    ranks.push(j - 1, j);
  }
  ranks.sort((a, b) => a - b);
  selectRanks(data, ranks);
  return lows.map((j, index) => {
    const d = deltas[index];
    return (data[j - 1] * (parts - d) + data[j] * d) / parts;
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
 * import { decay } from "@pss/pss";
 * console.log(decay(1, 1)); // 0.36787944117144233
 * ```
 */
export function decay(x: number, rate: number): number {
  return Math.exp(-rate * x);
}
