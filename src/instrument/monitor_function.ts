/**
 * `monitorFunction`: wrap a function so every call records a trace.
 *
 * @module
 */

import {
  checkMonitorOptions,
  cpuNow,
  draw,
  emit,
  emitPlain,
  KEEP_ALL,
  kept,
  type MonitorOptions,
  wantsCpu,
} from "./_core.ts";
import { active, reportError } from "./settings.ts";
import { PssConfigError } from "../score/config.ts";
import { captureStack } from "./_source.ts";
import { asyncBlockEnded, asyncBlockStarted } from "./loop_monitor.ts";

/**
 * Any function; `never[]` parameters accept every parameter list.
 *
 * @example
 * ```ts
 * import { type AnyFunction, MemoryCollector, monitorFunction } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * function billing<F extends AnyFunction>(name: string, fn: F): F {
 *   return monitorFunction(name, { module: "billing", collector })(fn);
 * }
 * const total = billing("billing.total", (a: number, b: number) => a + b);
 * assert.equal(total(2, 3), 5);
 * assert.equal(collector.snapshot()[0].module, "billing");
 * ```
 */
// deno-lint-ignore no-explicit-any
export type AnyFunction = (this: any, ...args: never[]) => unknown;

function isThenable(value: unknown): boolean {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

const nativeThen = Promise.prototype.then;

/** What kind of function `fn` is, decided once at wrap time. */
function kindOf(fn: AnyFunction): "plain" | "generator" | "asyncGenerator" {
  try {
    const tag = Object.prototype.toString.call(fn);
    if (tag === "[object GeneratorFunction]") return "generator";
    if (tag === "[object AsyncGeneratorFunction]") return "asyncGenerator";
  } catch {
    // A proxy or exotic function: treat it as plain.
  }
  return "plain";
}

/** What a generator's trace needs once it is created (internal). */
interface GeneratorCall {
  name: string;
  options: MonitorOptions | undefined;
  branchTag: string | undefined;
  keep: number;
  start: number;
  cpuStart: number;
  stack: string | undefined;
}

/**
 * Times a generator object from its creation to its completion (done,
 * thrown, or closed by the consumer's `return()`), by giving the object
 * itself own `next`, `throw` and `return` methods that call the inherited
 * ones: the caller gets the very object the generator function made.
 */
function followGenerator(
  generator: Generator,
  call: GeneratorCall,
): void {
  let done = false;
  const finish = (failed: boolean, error: unknown): void => {
    if (done) return;
    done = true;
    const end = performance.now();
    if (!kept(call.keep, failed)) return;
    emit(
      call.name,
      call.options,
      call.branchTag,
      call.start,
      end,
      false,
      failed,
      {
        cpuStart: call.cpuStart,
        stack: call.stack,
        error,
        yields: -1,
      },
    );
  };
  for (const method of ["next", "throw", "return"] as const) {
    const inherited = generator[method] as (
      this: Generator,
      value?: unknown,
    ) => IteratorResult<unknown>;
    if (typeof inherited !== "function") continue;
    Object.defineProperty(generator, method, {
      configurable: true,
      writable: true,
      value: function (this: Generator, value?: unknown) {
        let step: IteratorResult<unknown>;
        try {
          step = inherited.call(this, value);
        } catch (error) {
          finish(true, error);
          throw error;
        }
        if (step.done) finish(false, undefined);
        return step;
      },
    });
  }
}

/**
 * {@linkcode followGenerator} for async generators: each step's promise is
 * observed (handlers attached to it, the same promise returned), every
 * value the generator yields counts one `yieldCount`.
 */
function followAsyncGenerator(
  generator: AsyncGenerator,
  call: GeneratorCall,
): void {
  let done = false;
  let yields = 0;
  const finish = (failed: boolean, error: unknown): void => {
    if (done) return;
    done = true;
    const end = performance.now();
    if (!kept(call.keep, failed)) return;
    emit(
      call.name,
      call.options,
      call.branchTag,
      call.start,
      end,
      true,
      failed,
      {
        cpuStart: NaN,
        stack: call.stack,
        error,
        yields,
      },
    );
  };
  const onStep = (step: IteratorResult<unknown>): void => {
    if (step.done) finish(false, undefined);
    else yields++;
  };
  const onError = (error: unknown): void => finish(true, error);
  for (const method of ["next", "throw", "return"] as const) {
    const inherited = generator[method] as (
      this: AsyncGenerator,
      value?: unknown,
    ) => Promise<IteratorResult<unknown>>;
    if (typeof inherited !== "function") continue;
    Object.defineProperty(generator, method, {
      configurable: true,
      writable: true,
      value: function (this: AsyncGenerator, value?: unknown) {
        const step = inherited.call(this, value);
        if (step instanceof Promise) nativeThen.call(step, onStep, onError);
        return step;
      },
    });
  }
}

/**
 * Wraps `fn` (internal; shared with the decorator). `nameOf` gives the trace
 * name from `this` of the call.
 *
 * @param owner Who wraps, for error messages.
 */
export function wrapFunction<F extends AnyFunction>(
  fn: F,
  nameOf: (self: unknown) => string,
  options: MonitorOptions | undefined,
  owner = "monitorFunction",
): F {
  if (typeof fn !== "function") {
    throw new PssConfigError("fn", fn, `${owner} wraps a function`);
  }
  // Checked and copied once, here: a call never throws a configuration
  // error into the host, even if the caller mutates its options later.
  checkMonitorOptions(owner, options);
  if (options !== undefined) options = Object.freeze({ ...options });
  // The definition site, captured once: free on the hot path.
  const stack = active.captureSource ? captureStack() : undefined;
  const branchTag = options?.branchTag;
  const kind = kindOf(fn);
  const wrapped = kind === "plain"
    ? function (this: unknown, ...args: never[]): unknown {
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
      // A native promise is observed; anything else, other thenables
      // included (a lazy query builder runs only when awaited), is returned
      // untouched and recorded as a synchronous call.
      if (
        !isThenable(result) ||
        !(result instanceof Promise &&
          (result as Promise<unknown>).then === nativeThen)
      ) {
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
      // Handlers on the promise itself, and the same promise returned. The
      // rejection handler does not re-throw, so observing adds no
      // unhandled rejection of its own.
      nativeThen.call(
        result,
        () => {
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
        },
      );
      return result;
    }
    : function (this: unknown, ...args: never[]): unknown {
      const keep = options === undefined && !active.sampling
        ? KEEP_ALL
        : draw(options);
      if (keep === 0) return fn.apply(this, args);
      const asyncOp = kind === "asyncGenerator";
      const cpuStart = !asyncOp && wantsCpu(options) ? cpuNow() : NaN;
      const start = performance.now();
      let generator: unknown;
      try {
        generator = fn.apply(this, args);
      } catch (error) {
        const end = performance.now();
        if (kept(keep, true)) {
          emit(nameOf(this), options, branchTag, start, end, asyncOp, true, {
            cpuStart,
            stack,
            error,
            yields: -1,
          });
        }
        throw error;
      }
      if (generator === null || typeof generator !== "object") {
        return generator;
      }
      const call: GeneratorCall = {
        name: nameOf(this),
        options,
        branchTag,
        keep,
        start,
        cpuStart,
        stack,
      };
      try {
        if (asyncOp) followAsyncGenerator(generator as AsyncGenerator, call);
        else followGenerator(generator as Generator, call);
      } catch (error) {
        // A frozen generator object: returned unobserved.
        reportError(error, "probe");
      }
      return generator;
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
 * Whatever `fn` returns comes back untouched, the very same object:
 *
 * - A synchronous function stays synchronous.
 * - A native promise (what an `async` function returns) is observed: the
 *   wrapper attaches its handlers to that promise and returns it; the trace
 *   ends when it settles, with `asyncOp: true`. The handlers never re-throw,
 *   so observing adds no unhandled rejection; like any handler, they do mark
 *   the promise as handled.
 * - Any other thenable (a lazy query builder, a promise subclass with its
 *   own `then`) is never `.then`-ed: it is returned as is and the call is
 *   recorded as synchronous.
 * - A generator function's or async generator function's generator is
 *   timed from the call to its completion (its last value, an error thrown
 *   while iterating, or the consumer's early `return()`, as `break` in a
 *   `for…of` does); for an async generator, each value it yields counts one
 *   `yieldCount`. A generator left unfinished is never recorded.
 * - A thrown error or rejection is recorded (`error: true`, its class name
 *   as `exceptionType`, its message) and passes through unchanged.
 * - `this` and the arguments are passed through.
 *
 * Sampling is drawn once per call; a call drawn out runs `fn` directly.
 *
 * @param name Name of the operation.
 * @param options See {@linkcode MonitorOptions}.
 * @returns A function that wraps `fn`.
 * @throws {PssConfigError} When wrapping (never from a call): for an
 * unknown option (naming the closest known one), an option of the wrong
 * type or range (a rate outside 0 to 1, a `collector` without `add`), or
 * an `fn` that is not a function.
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
  checkMonitorOptions("monitorFunction", options);
  const nameOf = (): string => name;
  return <F extends AnyFunction>(fn: F): F => wrapFunction(fn, nameOf, options);
}
