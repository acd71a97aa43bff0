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
   * The id of this process, or `undefined` where there is none (a browser).
   * Read once; traces record it so that reports can tell processes apart.
   */
  processId(): number | undefined;
  /**
   * The host name of this machine, or `undefined` when the runtime has none
   * or may not read it (Deno without `--allow-sys=hostname`: the permission
   * is queried, never prompted for).
   */
  hostName(): string | undefined;
}
