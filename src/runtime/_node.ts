/**
 * Access to Node built-in modules for the Deno and Bun adapters, through
 * `process.getBuiltinModule` (both runtimes have it), so that no module of
 * pss imports `node:` specifiers statically and the web adapter loads
 * anywhere.
 *
 * @module
 */

import type { ContextStorage } from "./types.ts";

interface NodeProcess {
  pid?: number;
  getBuiltinModule?(id: string): unknown;
  cpuUsage?(): { user: number; system: number };
  memoryUsage?: (() => { heapUsed: number; rss: number }) & {
    rss?(): number;
  };
}

interface AsyncHooksModule {
  AsyncLocalStorage: new <T>() => ContextStorage<T>;
}

/** The global `process` object, if the runtime exposes one. */
export const nodeProcess: NodeProcess | undefined =
  (globalThis as { process?: NodeProcess }).process;

let asyncHooks: AsyncHooksModule | null | undefined;

/**
 * A new `AsyncLocalStorage` from `node:async_hooks`, or `undefined` when the
 * runtime cannot provide one.
 */
export function createAsyncLocalStorage<T>(): ContextStorage<T> | undefined {
  if (asyncHooks === undefined) {
    try {
      const mod = nodeProcess?.getBuiltinModule?.("node:async_hooks") as
        | AsyncHooksModule
        | undefined;
      asyncHooks = typeof mod?.AsyncLocalStorage === "function" ? mod : null;
    } catch {
      asyncHooks = null;
    }
  }
  return asyncHooks === null
    ? undefined
    : new asyncHooks.AsyncLocalStorage<T>();
}

/** A finite non-negative number, or `undefined`. */
export function measured(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) && value >= 0
    ? value
    : undefined;
}

/** `process.pid`, when it is a number. */
export function nodeProcessId(): number | undefined {
  try {
    return measured(nodeProcess?.pid);
  } catch {
    return undefined;
  }
}

/** `os.hostname()` from `node:os`, or `undefined`. */
export function nodeHostName(): string | undefined {
  try {
    const os = nodeProcess?.getBuiltinModule?.("node:os") as
      | { hostname?(): unknown }
      | undefined;
    const name = os?.hostname?.();
    return typeof name === "string" && name !== "" ? name : undefined;
  } catch {
    return undefined;
  }
}
