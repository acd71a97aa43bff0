/**
 * The one place that tells which runtime this is: probed once, at load,
 * Bun first (Bun defines no `Deno`, but Deno defines `process`), then Deno,
 * else the web-standard adapter. Only the chosen runtime's adapter file is
 * loaded, so Deno never evaluates Bun code and a browser neither.
 *
 * @module
 */

import type { RuntimeAdapter, RuntimeName } from "./types.ts";

/**
 * Which runtime this process runs on. Pure: reads globals only.
 *
 * @returns `"bun"`, `"deno"` or `"web"`.
 *
 * @example
 * ```ts
 * import { detectRuntime } from "./adapter.ts";
 * if (detectRuntime() !== "deno") throw new Error("doc examples run on Deno");
 * ```
 */
export function detectRuntime(): RuntimeName {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  return "web";
}

/**
 * Loads and creates the adapter for a runtime. Loading the adapter of
 * another runtime than the current one is only safe for `"web"`.
 *
 * @param name Which adapter to create.
 * @returns A new adapter.
 *
 * @example
 * ```ts
 * import { loadRuntime } from "./adapter.ts";
 * const web = await loadRuntime("web");
 * if (web.rssBytes() !== undefined) throw new Error("the web adapter measures nothing");
 * ```
 */
export async function loadRuntime(name: RuntimeName): Promise<RuntimeAdapter> {
  switch (name) {
    case "bun":
      return (await import("./bun.ts")).createRuntime();
    case "deno":
      return (await import("./deno.ts")).createRuntime();
    default:
      return (await import("./web.ts")).createRuntime();
  }
}

/**
 * The adapter of the runtime this process runs on, chosen once at load.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * if (runtime.name !== "deno") throw new Error(runtime.name);
 * ```
 */
export const runtime: RuntimeAdapter = await loadRuntime(detectRuntime());
