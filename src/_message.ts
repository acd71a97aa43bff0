/**
 * The message of a thrown value, for reports and error notes. Internal.
 *
 * @module
 */

/**
 * The message of `error`: its `message` when it is an `Error`, else its
 * string form. Never throws (a value whose `toString` throws gives
 * `"unknown error"`).
 *
 * @param error Anything that was thrown.
 * @returns A message.
 *
 * @example
 * ```ts
 * import { messageOf } from "./_message.ts";
 * import assert from "node:assert/strict";
 * assert.equal(messageOf(new RangeError("too big")), "too big");
 * ```
 */
export function messageOf(error: unknown): string {
  try {
    return error instanceof Error ? error.message : String(error);
  } catch {
    return "unknown error";
  }
}
