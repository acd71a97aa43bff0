/**
 * One set of option checks for the whole library: every constructor,
 * `configure*` call and wrapper checks its options through these, so a bad
 * value reads the same everywhere and an unknown key names the closest known
 * one.
 *
 * They throw `PssConfigError`; they are meant for the places where a program
 * configures things (constructors, configuration calls, wrap time), never for
 * a hot path, where a bad option must be reported, not thrown.
 *
 * @module
 */

import { PssConfigError } from "./score/config.ts";

export { camelCase, closestName, didYouMean } from "./_names.ts";
import { didYouMean } from "./_names.ts";

/**
 * The subject of a message: `"Owner's 'field'"` (`"readTraces' 'field'"`
 * for an owner ending in s), or just `"'field'"` for an empty owner, where
 * the error's source says where the value came from instead (a file, an
 * environment variable).
 */
export function subject(owner: string, field: string): string {
  if (owner === "") return `'${field}'`;
  return `${owner}${owner.endsWith("s") ? "'" : "'s"} '${field}'`;
}

/**
 * Throws for the first own key of `options` that is not in `known`, naming
 * the closest known key.
 *
 * @param owner Who takes the options, for the message ("RedisCollector").
 * @param options The options object as given (`undefined` is fine).
 * @param known Every key `owner` accepts.
 * @throws {PssConfigError} For an options value that is not an object, or an
 * unknown key.
 */
export function checkKnownKeys(
  owner: string,
  options: unknown,
  known: Iterable<string>,
): void {
  if (options === undefined) return;
  if (options === null || typeof options !== "object") {
    throw new PssConfigError(
      "options",
      options,
      `${owner}${owner.endsWith("s") ? "'" : "'s"} options must be an object`,
    );
  }
  const knownSet = known instanceof Set ? known : new Set(known);
  for (const key of Object.keys(options)) {
    if (!knownSet.has(key)) {
      throw new PssConfigError(
        key,
        (options as Record<string, unknown>)[key],
        `'${key}' is not a known option of ${owner}${
          didYouMean(key, knownSet)
        }`,
      );
    }
  }
}

/**
 * Checks a positive safe integer.
 *
 * @param source Where the value came from, when not from code (see
 * {@linkcode subject}).
 * @throws {PssConfigError} `"X's 'field' must be a positive integer"`.
 */
export function positiveInteger(
  owner: string,
  field: string,
  value: unknown,
  source?: string,
): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw new PssConfigError(
      field,
      value,
      `${subject(owner, field)} must be a positive integer`,
      source,
    );
  }
  return value;
}

/**
 * Checks a finite number greater than 0.
 *
 * @throws {PssConfigError} `"X's 'field' must be a finite number > 0"`.
 */
export function positiveNumber(
  owner: string,
  field: string,
  value: unknown,
): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new PssConfigError(
      field,
      value,
      `${subject(owner, field)} must be a finite number > 0`,
    );
  }
  return value;
}

/**
 * Checks a finite number of at least 0.
 *
 * @throws {PssConfigError} `"X's 'field' must be a finite number ≥ 0"`.
 */
export function nonNegativeNumber(
  owner: string,
  field: string,
  value: unknown,
): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new PssConfigError(
      field,
      value,
      `${subject(owner, field)} must be a finite number ≥ 0`,
    );
  }
  return value;
}

/**
 * Checks a rate: a number from 0 to 1 (NaN is refused).
 *
 * @param source Where the value came from, when not from code.
 * @throws {PssConfigError} `"X's 'field' must be a number from 0 to 1"`.
 */
export function rate(
  owner: string,
  field: string,
  value: unknown,
  source?: string,
): number {
  if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
    throw new PssConfigError(
      field,
      value,
      `${subject(owner, field)} must be a number from 0 to 1`,
      source,
    );
  }
  return value;
}

/**
 * Checks a value that must be one of a few choices; a string close to a
 * string choice is named (`"proc"`: did you mean 'process'?).
 *
 * @throws {PssConfigError} `"X's 'field' must be one of false, "shared", "process""`.
 */
export function oneOf<T>(
  owner: string,
  field: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (choices.includes(value as T)) return value as T;
  const names = choices.filter((c): c is T & string => typeof c === "string");
  let hint = "";
  if (typeof value === "string" && value !== "") {
    // A cut-short or lengthened choice ("proc", "hostname") is too far for
    // the edit distance.
    const wanted = value.toLowerCase();
    const start = names.find((name) =>
      name.startsWith(wanted) || wanted.startsWith(name)
    );
    hint = start === undefined
      ? didYouMean(value, names)
      : ` (did you mean '${start}'?)`;
  }
  throw new PssConfigError(
    field,
    value,
    `${subject(owner, field)} must be one of ${
      choices.map((c) => typeof c === "string" ? JSON.stringify(c) : String(c))
        .join(", ")
    }${hint}`,
  );
}

/**
 * Checks a function.
 *
 * @throws {PssConfigError} `"X's 'field' must be a function"`.
 */
export function functionOption<F>(
  owner: string,
  field: string,
  value: F,
): F {
  if (typeof value !== "function") {
    throw new PssConfigError(
      field,
      value,
      `${subject(owner, field)} must be a function`,
    );
  }
  return value;
}
