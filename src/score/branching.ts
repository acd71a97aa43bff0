/**
 * Branching Entropy (BE): how predictable the code paths taken are.
 *
 * @module
 */

/**
 * Branching Entropy of tag counts (docs/scoring.md, section 5): 1 with fewer than 2
 * distinct tags; otherwise 1 − H / log2(U), with H the Shannon entropy (in
 * bits) of the tag distribution, summed in the order given, and U the number
 * of distinct tags. Evenly spread tags give 0.
 *
 * Returns the value exactly as pypss computes it (uniform tags can give
 * −2.2e−16); {@linkcode computePss} clamps its breakdown.
 *
 * @param counts How often each distinct tag was seen, in first-seen order
 * (zero counts are ignored).
 * @returns The Branching Entropy score.
 *
 * @example
 * ```ts
 * import { branchingEntropy } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.equal(branchingEntropy([10]), 1);
 * assert.equal(branchingEntropy(new Map([["hit", 9], ["miss", 1]]).values()), 0.5310044064107188);
 * ```
 */
export function branchingEntropy(counts: Iterable<number>): number {
  const list = Array.isArray(counts) ? counts : [...counts];
  let total = 0;
  let distinct = 0;
  for (const count of list) {
    if (count > 0) {
      total += count;
      distinct++;
    }
  }
  if (distinct < 2) return 1;
  let entropy = 0;
  for (const count of list) {
    if (count > 0) {
      const p = count / total;
      entropy -= p * Math.log2(p);
    }
  }
  return 1 - entropy / Math.log2(distinct);
}
