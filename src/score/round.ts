/**
 * Rounding exactly as Python rounds floats: half to even, decided on the
 * exact binary value, never on a decimal approximation of it.
 *
 * @module
 */

/**
 * Rounds to the nearest integer, ties to even, like Python's `round(x)`.
 *
 * The tie is decided on the exact binary64 value of `x`, so
 * `0.9249999999999999 * 100` (which is exactly 92.5) gives 92, where
 * `Math.round` gives 93. Never returns `-0`; NaN and ±Infinity are returned
 * unchanged (Python would raise).
 *
 * @param x The value to round.
 * @returns The nearest integer, the even one on an exact tie.
 *
 * @example
 * ```ts
 * import { roundHalfEven } from "./round.ts";
 * import assert from "node:assert/strict";
 * assert.equal(roundHalfEven(92.5), 92);
 * assert.equal(roundHalfEven(93.5), 94);
 * assert.equal(roundHalfEven(2.4999), 2);
 * ```
 */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const floor = Math.floor(x);
  // Exact: the difference is a multiple of ulp(x) below 1, hence representable.
  const fraction = x - floor;
  let result: number;
  if (fraction > 0.5) result = floor + 1;
  else if (fraction < 0.5) result = floor;
  else result = floor % 2 === 0 ? floor : floor + 1;
  return result + 0; // turns -0 into 0
}

const VIEW = new DataView(new ArrayBuffer(8));

/**
 * Above this many digits Python returns `x` unchanged (CPython's
 * `NDIGITS_MAX`, (53 + 1074) · log10(2) rounded down).
 */
const MAX_DIGITS = 323;

/**
 * Rounds to `digits` decimal places like Python's `round(x, digits)`: the
 * exact binary value of `x` is rounded to the nearest multiple of
 * 10^−digits, ties to even, and the decimal result is read back as the
 * nearest double.
 *
 * Exact ties are rare (for two digits they need 8·x to be an odd integer):
 * `roundPypss(0.125, 2)` is 0.12 and `roundPypss(0.375, 2)` is 0.38, while
 * `roundPypss(2.675, 2)` is 2.67 because the double nearest to 2.675 lies
 * below it. NaN, ±Infinity and ±0 are returned unchanged, as Python does.
 *
 * @param x The value to round.
 * @param digits How many decimal places to keep, an integer ≥ 0.
 * @returns The rounded value.
 * @throws {RangeError} When `digits` is not an integer ≥ 0.
 *
 * @example
 * ```ts
 * import { roundPypss } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.equal(roundPypss(0.125, 2), 0.12);
 * assert.equal(roundPypss(0.375, 2), 0.38);
 * assert.equal(roundPypss(2.675, 2), 2.67);
 * ```
 */
export function roundPypss(x: number, digits: number): number {
  if (!Number.isInteger(digits) || digits < 0) {
    throw new RangeError(
      `Cannot round as 'digits' must be an integer ≥ 0: got ${digits}`,
    );
  }
  if (!Number.isFinite(x) || x === 0 || digits > MAX_DIGITS) return x;

  VIEW.setFloat64(0, x);
  const high = VIEW.getUint32(0);
  const low = VIEW.getUint32(4);
  const negative = high >>> 31 === 1;
  const biasedExponent = (high >>> 20) & 0x7ff;
  let mantissa = (BigInt(high & 0xfffff) << 32n) | BigInt(low);
  let exponent: number;
  if (biasedExponent === 0) {
    exponent = -1074; // subnormal
  } else {
    mantissa |= 1n << 52n;
    exponent = biasedExponent - 1075;
  }
  // |x| = mantissa · 2^exponent; an integer already has no decimals to drop.
  if (exponent >= 0) return x;

  // scaled = |x| · 10^digits = numerator / denominator, exactly.
  const numerator = mantissa * 10n ** BigInt(digits);
  const denominator = 1n << BigInt(-exponent);
  let quotient = numerator / denominator;
  const twiceRemainder = (numerator % denominator) * 2n;
  if (
    twiceRemainder > denominator ||
    (twiceRemainder === denominator && (quotient & 1n) === 1n)
  ) {
    quotient += 1n;
  }
  return Number(`${negative ? "-" : ""}${quotient}e-${digits}`);
}
