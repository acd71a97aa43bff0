/**
 * Shared pieces of the Deno and Bun adapters: Node built-in modules reached
 * through `process.getBuiltinModule` (both runtimes have it), so that no
 * module of pss names a `node:` or `bun:` specifier in an import and the
 * module graph of the core stays web-standard; and small helpers both
 * adapters use.
 *
 * @module
 */

import type { ContextStorage } from "./types.ts";

interface NodeProcess {
  getBuiltinModule?(id: string): unknown;
  on?(event: string, listener: () => void): unknown;
  off?(event: string, listener: () => void): unknown;
  exit?(code: number): void;
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

/**
 * A built-in module (`node:fs`, `bun:ffi`, …) of the running runtime, or
 * `undefined` when it has none by that name. Never throws.
 */
export function builtin<T>(id: string): T | undefined {
  try {
    return (nodeProcess?.getBuiltinModule?.(id) ?? undefined) as
      | T
      | undefined;
  } catch {
    return undefined;
  }
}

let asyncHooks: AsyncHooksModule | null | undefined;

/**
 * A new `AsyncLocalStorage` from `node:async_hooks`, or `undefined` when the
 * runtime cannot provide one.
 */
export function createAsyncLocalStorage<T>(): ContextStorage<T> | undefined {
  if (asyncHooks === undefined) {
    const mod = builtin<AsyncHooksModule>("node:async_hooks");
    asyncHooks = typeof mod?.AsyncLocalStorage === "function" ? mod : null;
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

/** Decodes UTF-8 the same way on every runtime: a leading BOM is dropped. */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

/** The directory part of a path (`"."` when it has none). */
export function parentOf(path: string | URL): string | URL {
  if (path instanceof URL) return new URL(".", path);
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (cut < 0) return ".";
  return cut === 0 ? path.slice(0, 1) : path.slice(0, cut);
}

/** `http(s)://host:port/`, with brackets around an IPv6 address. */
export function baseUrl(tls: boolean, hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `${tls ? "https" : "http"}://${host}:${port}/`;
}

/** Runs `fn` once, however often the returned function is called. */
export function once<T>(fn: () => T): () => T {
  let done = false;
  let result: T;
  return () => {
    if (!done) {
      done = true;
      result = fn();
    }
    return result;
  };
}
