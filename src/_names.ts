/**
 * Names close to a mistyped one, for "did you mean" hints. A leaf module, so
 * that both the option checks and the scoring configuration can use it
 * without importing each other.
 *
 * @module
 */

/** camelCase from pypss's snake_case (`w_ts` → `wTs`); camelCase stays. */
export function camelCase(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Levenshtein distance between two strings. */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/**
 * The known name closest to `key` (ignoring case and snake_case), when it is
 * within two edits; `undefined` when none is that close.
 */
export function closestName(
  key: string,
  known: Iterable<string>,
): string | undefined {
  const wanted = camelCase(key).toLowerCase();
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of known) {
    const d = distance(wanted, name.toLowerCase());
    if (d < bestDistance) {
      best = name;
      bestDistance = d;
    }
  }
  return best;
}

/** `" (did you mean 'x'?)"` for the closest known name, or `""`. */
export function didYouMean(key: string, known: Iterable<string>): string {
  const best = closestName(key, known);
  return best === undefined ? "" : ` (did you mean '${best}'?)`;
}
