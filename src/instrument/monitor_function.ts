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
import { active } from "./settings.ts";
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

const nativeThen = Promise.prototype.then;

/** `%GeneratorPrototype%`: the prototype of every generator function's `prototype`. */
const GENERATOR_PROTOTYPE: object = Object.getPrototypeOf(function* () {})
  .prototype;
/** `%AsyncGeneratorPrototype%`, the same for async generators. */
const ASYNC_GENERATOR_PROTOTYPE: object = Object.getPrototypeOf(
  async function* () {},
).prototype;

/** A returned value that is recorded when it is returned. */
const SYNC = 0;
/** A native promise, recorded when it settles. */
const PROMISE = 1;
/** A generator, recorded when it completes. */
const GENERATOR = 2;
/** An async generator, recorded when it completes. */
const ASYNC_GENERATOR = 3;

const PROMISE_PROTOTYPE: object = Promise.prototype;
const OBJECT_PROTOTYPE: object = Object.prototype;

/**
 * How a returned object is followed. Decided without calling anything the
 * object defines: its prototype chain (a proxy's traps aside), and, for a
 * `Promise` instance only, its `then`, which must be the native one (a
 * subclass with its own `then` is a thenable like any other). The two
 * common cases, a native promise and an object one or two steps above
 * `Object.prototype`, take two prototype reads at most.
 */
function resultKind(result: object): number {
  try {
    const prototype = Object.getPrototypeOf(result);
    if (prototype === null) return SYNC;
    if (prototype === PROMISE_PROTOTYPE) return nativePromiseKind(result);
    const base = Object.getPrototypeOf(prototype);
    if (base === GENERATOR_PROTOTYPE) return GENERATOR;
    if (base === ASYNC_GENERATOR_PROTOTYPE) return ASYNC_GENERATOR;
    if (base === null || base === OBJECT_PROTOTYPE) return SYNC;
    // Deeper: a promise subclass, or any class hierarchy.
    return result instanceof Promise ? nativePromiseKind(result) : SYNC;
  } catch {
    // A proxy whose trap throws: a plain result.
    return SYNC;
  }
}

/** A `Promise` instance is followed when its `then` is the native one. */
function nativePromiseKind(promise: object): number {
  return (promise as Promise<unknown>).then === nativeThen ? PROMISE : SYNC;
}

/** What the trace of a call still running needs (internal). */
interface Call {
  name: string;
  options: MonitorOptions | undefined;
  branchTag: string | undefined;
  keep: number;
  start: number;
  cpuStart: number;
  stack: string | undefined;
}

/** Records a call that ended now. */
function finishCall(
  call: Call,
  asyncOp: boolean,
  failed: boolean,
  error: unknown,
  yields: number,
): void {
  const end = performance.now();
  if (!kept(call.keep, failed)) return;
  emit(
    call.name,
    call.options,
    call.branchTag,
    call.start,
    end,
    asyncOp,
    failed,
    failed || call.stack !== undefined || call.cpuStart === call.cpuStart ||
      yields >= 0
      ? { cpuStart: call.cpuStart, stack: call.stack, error, yields }
      : undefined,
  );
}

/**
 * Observes a native promise: handlers attached to the promise itself, which
 * is returned as it is. The rejection handler does not re-throw, so
 * observing adds no unhandled rejection of its own, but, as any handler
 * does, it marks the promise as handled (see the README's
 * "Instrumentation").
 *
 * @returns Whether the promise is observed: false for an object that is a
 * `Promise` only by its prototype (a proxy of one), which the native
 * `then` refuses.
 */
function followPromise(promise: Promise<unknown>, call: Call): boolean {
  try {
    nativeThen.call(
      promise,
      () => {
        asyncBlockEnded();
        finishCall(call, true, false, undefined, -1);
      },
      (error: unknown) => {
        asyncBlockEnded();
        finishCall(call, true, true, error, -1);
      },
    );
  } catch {
    return false;
  }
  asyncBlockStarted(); // active_tasks of the loop monitor
  return true;
}

/**
 * Gives `generator` own `next`, `throw` and `return` methods that call the
 * inherited ones through `step`: the caller keeps the very object the
 * generator function made.
 *
 * @returns Whether every method was replaced (not on a frozen object).
 */
function interpose<G extends object>(
  generator: G,
  step: (
    inherited: (value?: unknown) => unknown,
    self: G,
    value: unknown,
  ) => unknown,
): boolean {
  if (!Object.isExtensible(generator)) return false;
  for (const method of ["next", "throw", "return"] as const) {
    const inherited = (generator as Record<string, unknown>)[method];
    if (typeof inherited !== "function") continue;
    Object.defineProperty(generator, method, {
      configurable: true,
      writable: true,
      value: function (this: G, value?: unknown) {
        return step(inherited as (value?: unknown) => unknown, this, value);
      },
    });
  }
  return true;
}

/**
 * Times a generator from its creation to its completion (done, thrown, or
 * closed by the consumer's `return()`).
 *
 * @returns Whether it is followed.
 */
function followGenerator(generator: Generator, call: Call): boolean {
  let done = false;
  const finish = (failed: boolean, error: unknown): void => {
    if (done) return;
    done = true;
    finishCall(call, false, failed, error, -1);
  };
  try {
    return interpose(generator, (inherited, self, value) => {
      let step: IteratorResult<unknown>;
      try {
        step = inherited.call(self, value) as IteratorResult<unknown>;
      } catch (error) {
        finish(true, error);
        throw error;
      }
      if (step.done) finish(false, undefined);
      return step;
    });
  } catch {
    done = true; // half interposed (a proxy): recorded as a plain result
    return false;
  }
}

/**
 * {@linkcode followGenerator} for async generators: each step's promise is
 * observed (handlers attached to it, the same promise returned), every
 * value the generator yields counts one `yieldCount`, and a step in
 * progress counts as an active task for the loop monitor (from `next()`
 * until its promise settles: a generator waiting for its consumer, or
 * abandoned, does not count).
 */
function followAsyncGenerator(generator: AsyncGenerator, call: Call): boolean {
  let done = false;
  let yields = 0;
  const finish = (failed: boolean, error: unknown): void => {
    if (done) return;
    done = true;
    finishCall(call, true, failed, error, yields);
  };
  const onStep = (step: IteratorResult<unknown>): void => {
    asyncBlockEnded();
    if (step.done) finish(false, undefined);
    else yields++;
  };
  const onError = (error: unknown): void => {
    asyncBlockEnded();
    finish(true, error);
  };
  try {
    return interpose(generator, (inherited, self, value) => {
      const step = inherited.call(self, value);
      if (step instanceof Promise) {
        nativeThen.call(step, onStep, onError);
        asyncBlockStarted();
      }
      return step;
    });
  } catch {
    done = true;
    return false;
  }
}

/**
 * Follows what a call returned until it is done: a native promise or a
 * generator, as {@linkcode resultKind} said.
 *
 * @returns Whether `result` is followed; when not, the caller records the
 * call as a synchronous one.
 */
function follow(result: object, kind: number, call: Call): boolean {
  if (kind === GENERATOR) return followGenerator(result as Generator, call);
  call.cpuStart = NaN; // asynchronous: all of it counts as wait
  return kind === PROMISE
    ? followPromise(result as Promise<unknown>, call)
    : followAsyncGenerator(result as AsyncGenerator, call);
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
    // A native promise or a generator is followed until it is done;
    // anything else, other thenables included (a lazy query builder runs
    // only when awaited), is returned untouched and recorded as a
    // synchronous call.
    if (typeof result === "object" && result !== null) {
      const kind = resultKind(result);
      if (
        kind !== SYNC &&
        follow(result, kind, {
          name: nameOf(this),
          options,
          branchTag,
          keep,
          start,
          cpuStart,
          stack,
        })
      ) return result;
    }
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
 *   so observing adds no unhandled rejection; but, like any handler, they
 *   mark the promise as handled, so a rejection the caller never handles
 *   is recorded in the trace and no longer reaches the runtime's
 *   unhandled-rejection handling (Deno and Bun would otherwise exit with an
 *   error). JavaScript cannot watch a promise without that, and re-throwing
 *   would add an unhandled rejection for every caller that does handle it.
 *   A promise subclass that keeps the native `then` is observed the same
 *   way; as when it is awaited, its constructor runs once more for the
 *   derived promise.
 * - Any other thenable (a lazy query builder, a promise subclass with its
 *   own `then`) is never `.then`-ed: it is returned as is and the call is
 *   recorded as synchronous. Which is which is decided from the prototype
 *   chain, without reading `then` of anything but a `Promise`.
 * - A generator or async generator (from a generator function, or returned
 *   by a plain function) is timed from the call to its completion (its last
 *   value, an error thrown while iterating, or the consumer's early
 *   `return()`, as `break` in a `for…of` does); for an async generator,
 *   each value it yields counts one `yieldCount`, and each step in progress
 *   counts in the loop monitor's `active_tasks`. A generator left
 *   unfinished is never recorded.
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
 * import { MemoryCollector, monitorFunction } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * const criticalOperation = monitorFunction("critical_op", { collector })(
 *   (n: number) => {
 *     if (n < 0) throw new RangeError("negative");
 *     return Math.sqrt(n);
 *   },
 * );
 * assert.equal(criticalOperation(4), 2);
 * assert.throws(() => criticalOperation(-1), RangeError);
 *
 * const fetchUser = monitorFunction("fetch_user", { branchTag: "db", collector })(
 *   async (id: string) => ({ id }),
 * );
 * assert.deepEqual(await fetchUser("u1"), { id: "u1" });
 *
 * const [ok, failed, fetched] = collector.snapshot();
 * assert.equal(ok.error, false);
 * assert.equal(failed.exceptionType, "RangeError");
 * assert.equal(fetched.branchTag, "db");
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
