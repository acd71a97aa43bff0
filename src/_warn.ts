/**
 * One warning limiter for the whole library: the first failure of each
 * distinct cause is printed at once, then that cause is rate-limited on its
 * own (one line per interval, with the count it held back), so a new cause is
 * never hidden behind an old one.
 *
 * @module
 */

import { messageOf } from "./_message.ts";

/** Prints a warning for a cause, limited per cause. */
export interface Warner {
  /**
   * Reports `error` under `cause` (a short stable key such as
   * `"redis:NOAUTH"` or `"fifo:ENOSPC"`; the error's class and code are a
   * good one). Never throws.
   */
  warn(cause: string, error: unknown): void;
  /** How many warnings each cause held back since it last printed. */
  suppressed(): ReadonlyMap<string, number>;
}

/** Options of {@link createWarner}. */
export interface WarnerOptions {
  /** Put before every line, such as `"[pss] RedisCollector"`. */
  prefix: string;
  /** Shortest time between two lines of one cause. @default 60000 */
  intervalMs?: number;
  /** Where lines go. @default console.warn */
  print?: (line: string) => void;
  /** The clock, in milliseconds. @default performance.now */
  now?: () => number;
}

/** At most this many causes are remembered; more share one slot. */
const MAX_CAUSES = 64;

/**
 * Creates a warning limiter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createWarner } from "./_warn.ts";
 * const lines: string[] = [];
 * const warner = createWarner({ prefix: "[pss] RedisCollector", print: (line) => lines.push(line) });
 * warner.warn("redis:NOAUTH", new Error("NOAUTH Authentication required."));
 * warner.warn("redis:NOAUTH", new Error("NOAUTH Authentication required.")); // held back
 * assert.deepEqual(lines, ["[pss] RedisCollector: NOAUTH Authentication required."]);
 * assert.equal(warner.suppressed().get("redis:NOAUTH"), 1);
 * ```
 */
export function createWarner(options: WarnerOptions): Warner {
  const intervalMs = options.intervalMs ?? 60_000;
  const print = options.print ?? ((line: string) => console.warn(line));
  const now = options.now ?? (() => performance.now());
  const last = new Map<string, number>();
  const held = new Map<string, number>();
  return {
    warn(cause, error) {
      try {
        const key = last.has(cause) || last.size < MAX_CAUSES
          ? cause
          : "(other causes)";
        const at = now();
        const previous = last.get(key);
        if (previous !== undefined && at - previous < intervalMs) {
          held.set(key, (held.get(key) ?? 0) + 1);
          return;
        }
        const skipped = held.get(key) ?? 0;
        last.set(key, at);
        held.delete(key);
        print(
          `${options.prefix}: ${messageOf(error)}${
            skipped > 0
              ? ` (${skipped} more like it since the last warning)`
              : ""
          }`,
        );
      } catch {
        // A warning must never become a failure of its own.
      }
    },
    suppressed() {
      return held;
    },
  };
}
