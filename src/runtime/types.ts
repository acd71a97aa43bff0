/**
 * The runtime ports: what instrumentation needs from the runtime it runs on,
 * implemented once per runtime (`deno.ts`, `bun.ts`, `web.ts`) and chosen
 * once at load by `adapter.ts`.
 *
 * @module
 */

/**
 * Async-context storage: a value that follows an async call chain (across
 * `await`, timers and promise callbacks) and is isolated between concurrent
 * chains. The shape of `AsyncLocalStorage`, reduced to what pss uses.
 *
 * @typeParam T The stored value.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * const storage = runtime.createContextStorage<string>();
 * storage?.run("request-1", () => storage.getStore()); // "request-1"
 * ```
 */
export interface ContextStorage<T> {
  /** The value of the innermost `run` this call chain is inside, if any. */
  getStore(): T | undefined;
  /** Calls `fn` with `store` as the value for everything it starts. */
  run<R>(store: T, fn: () => R): R;
}

/**
 * Measurements and services of one runtime. Every probe returns `undefined`
 * when the runtime cannot measure (never a made-up number), and never throws.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * const rss = runtime.rssBytes();
 * console.log(runtime.name, rss === undefined ? "unknown" : `${rss} B`);
 * ```
 */
export interface RuntimeAdapter {
  /** Which runtime this adapter serves. */
  readonly name: "deno" | "bun" | "web";
  /** Resident set size of the process in bytes (a system call: microseconds). */
  rssBytes(): number | undefined;
  /**
   * CPU time of the whole process (user + system, every thread, including
   * the garbage collector's and compiler's) in seconds since it started.
   */
  cpuTimeSeconds(): number | undefined;
  /** Bytes of JavaScript heap in use. */
  heapUsedBytes(): number | undefined;
  /**
   * Runs a full garbage collection if the runtime lets this process ask for
   * one (Deno: only with `--v8-flags=--expose-gc`; Bun: always).
   *
   * @returns Whether a collection ran.
   */
  collectGarbage(): boolean;
  /**
   * A new async-context storage (`AsyncLocalStorage`), or `undefined` when
   * the runtime has none.
   */
  createContextStorage<T>(): ContextStorage<T> | undefined;
  /**
   * Calls `listener` whenever the process has run out of work and is about
   * to exit on its own; when the listener returns `true` it has scheduled
   * work and the process keeps running (Deno: `beforeunload`, cancelled;
   * Bun: `process` `beforeExit`). Neither fires on an explicit exit, a
   * signal or an uncaught error.
   *
   * @returns The detach function, or `undefined` where the runtime has no
   * such event.
   */
  onIdle(listener: () => boolean): (() => void) | undefined;
  /**
   * Calls `fn` when the process receives `signal`, instead of the signal's
   * default action (ending the process). The listener does not keep the
   * process alive.
   *
   * @returns The function that removes the listener (the default action
   * returns once no listener is left), or `undefined` where the runtime
   * cannot listen for signals.
   */
  addSignalListener(
    signal: ProcessSignal,
    fn: () => void,
  ): (() => void) | undefined;
  /** Ends the process with `code` at once (no exit hooks run). */
  exit(code: number): void;
}

/**
 * The signals pss can listen for, with their numbers on Linux and macOS
 * (an exit caused by one reports `128 + number`).
 *
 * @example
 * ```ts
 * import { SIGNAL_NUMBERS } from "./types.ts";
 * console.log(128 + SIGNAL_NUMBERS.SIGTERM); // 143
 * ```
 */
export const SIGNAL_NUMBERS = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGTERM: 15,
} as const;

/** A signal pss can listen for: a key of {@linkcode SIGNAL_NUMBERS}. */
export type ProcessSignal = keyof typeof SIGNAL_NUMBERS;
