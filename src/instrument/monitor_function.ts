/**
 * `monitorFunction`: wrap a function so every call records a trace.
 *
 * @module
 */

import {
  cpuNow,
  draw,
  emit,
  emitPlain,
  KEEP_ALL,
  kept,
  type MonitorOptions,
  wantsCpu,
} from "./_core.ts";
import { active, checkRate } from "./settings.ts";
import { PssConfigError } from "../score/config.ts";
import { captureStack } from "./_source.ts";
import { asyncBlockEnded, asyncBlockStarted } from "./loop_monitor.ts";

/**
 * Any function; `never[]` parameters accept every parameter list.
 *
 * @example
 * ```ts
 * import { type AnyFunction, monitorFunction } from "@pss/pss";
 * function billing<F extends AnyFunction>(name: string, fn: F): F {
 *   return monitorFunction(name, { module: "billing" })(fn);
 * }
 * const total = billing("billing.total", (a: number, b: number) => a + b);
 * console.log(total(2, 3)); // 5
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AnyFunction = (this: any, ...args: never[]) => unknown;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

/**
 * Wraps `fn` (internal; shared with the decorator). `nameOf` gives the trace
 * name from `this` of the first call.
 */
export function wrapFunction<F extends AnyFunction>(
  fn: F,
  nameOf: (self: unknown) => string,
  options: MonitorOptions | undefined,
): F {
  if (typeof fn !== "function") {
    throw new PssConfigError("fn", fn, "monitorFunction wraps a function");
  }
  // Checked and copied once, here: a call never throws a configuration
  // error into the host, even if the caller mutates its options later.
  if (options !== undefined) {
    if (options.sampleRate !== undefined) {
      checkRate("sampleRate", options.sampleRate);
    }
    if (options.errorSampleRate !== undefined) {
      checkRate("errorSampleRate", options.errorSampleRate);
    }
    options = Object.freeze({ ...options });
  }
  // The definition site, captured once: free on the hot path.
  const stack = active.captureSource ? captureStack() : undefined;
  const branchTag = options?.branchTag;
  const wrapped = function (this: unknown, ...args: never[]): unknown {
    const keep = options === undefined && !active.sampling
      ? KEEP_ALL
      : draw(options);
    if (keep === 0) return fn.apply(this, args);
    const cpuStart = wantsCpu(options) ? cpuNow() : NaN;
    const start = performance.now();
    let result: unknown;
    try {
      result = fn.apply(this, args);
    } catch (error) {
      const end = performance.now();
      if (kept(keep, true)) {
        emit(nameOf(this), options, branchTag, start, end, false, true, {
          cpuStart,
          stack,
          error,
          yields: -1,
        });
      }
      throw error;
    }
    if (!isThenable(result)) {
      const end = performance.now();
      if (
        options === undefined && keep === KEEP_ALL &&
        cpuStart !== cpuStart && stack === undefined // no CPU time, no source
      ) {
        emitPlain(nameOf(this), start, end);
      } else if (kept(keep, false)) {
        emit(
          nameOf(this),
          options,
          branchTag,
          start,
          end,
          false,
          false,
          cpuStart === cpuStart || stack !== undefined
            ? { cpuStart, stack, error: undefined, yields: -1 }
            : undefined,
        );
      }
      return result;
    }
    const name = nameOf(this);
    asyncBlockStarted(); // active_tasks of the loop monitor
    // A native promise is followed directly; any other thenable is adopted
    // once by a native promise (its `then` may return nothing).
    const promise = result instanceof Promise
      ? result
      : Promise.resolve(result);
    return promise.then(
      (value: unknown) => {
        const end = performance.now();
        asyncBlockEnded();
        if (kept(keep, false)) {
          emit(
            name,
            options,
            branchTag,
            start,
            end,
            true,
            false,
            stack === undefined ? undefined : {
              cpuStart: NaN,
              stack,
              error: undefined,
              yields: -1,
            },
          );
        }
        return value;
      },
      (error: unknown) => {
        const end = performance.now();
        asyncBlockEnded();
        if (kept(keep, true)) {
          emit(name, options, branchTag, start, end, true, true, {
            cpuStart: NaN,
            stack,
            error,
            yields: -1,
          });
        }
        throw error;
      },
    );
  };
  try {
    Object.defineProperty(wrapped, "name", { value: fn.name });
    Object.defineProperty(wrapped, "length", { value: fn.length });
  } catch {
    // Cosmetic only.
  }
  return wrapped as unknown as F;
}

/**
 * Returns a wrapper that monitors every call of a function.
 *
 * - A synchronous function stays synchronous: the wrapper returns exactly
 *   what it returns.
 * - When it returns a promise (any thenable), the trace ends when that
 *   settles, with `asyncOp: true`, and the wrapper returns a new native
 *   promise that settles with the same value or the same error object
 *   (so an unhandled rejection stays unhandled).
 * - A thrown error or rejection is recorded (`error: true`, its class name
 *   as `exceptionType`, its message) and re-thrown unchanged.
 * - `this` and the arguments are passed through.
 *
 * Sampling is drawn once per call; a call drawn out runs `fn` directly.
 *
 * @param name Name of the operation.
 * @param options See {@linkcode MonitorOptions}.
 * @returns A function that wraps `fn`.
 * @throws {PssConfigError} When wrapping (never from a call), when
 * `options.sampleRate` or `options.errorSampleRate` is not a number from 0
 * to 1, or `fn` is not a function.
 *
 * @example
 * ```ts
 * import { monitorFunction } from "@pss/pss";
 * const criticalOperation = monitorFunction("critical_op")((n: number) => {
 *   if (n < 0) throw new RangeError("negative");
 *   return Math.sqrt(n);
 * });
 * criticalOperation(4); // 2, recorded
 *
 * const fetchUser = monitorFunction("fetch_user", { branchTag: "db" })(
 *   async (id: string) => ({ id }),
 * );
 * await fetchUser("u1");
 * ```
 */
export function monitorFunction(
  name: string,
  options?: MonitorOptions,
): <F extends AnyFunction>(fn: F) => F {
  const nameOf = (): string => name;
  return <F extends AnyFunction>(fn: F): F => wrapFunction(fn, nameOf, options);
}
