/**
 * The adapter for the runtime this process runs on, probed once at load:
 * Bun first (Bun defines no `Deno`), then Deno, else the portable one.
 *
 * @module
 */

import type { RuntimeAdapter } from "./types.ts";
import { createAdapter as createBunAdapter } from "./bun.ts";
import { createAdapter as createDenoAdapter } from "./deno.ts";
import { createAdapter as createWebAdapter } from "./web.ts";

/**
 * Picks the adapter for a runtime name (used at load; exported for tests).
 *
 * @param name Which adapter to create.
 * @returns A new adapter.
 *
 * @example
 * ```ts
 * import { adapterFor } from "./adapter.ts";
 * console.log(adapterFor("web").rssBytes()); // undefined
 * ```
 */
export function adapterFor(name: RuntimeAdapter["name"]): RuntimeAdapter {
  switch (name) {
    case "bun":
      return createBunAdapter();
    case "deno":
      return createDenoAdapter();
    default:
      return createWebAdapter();
  }
}

/** The name of the runtime this process runs on. */
function detect(): RuntimeAdapter["name"] {
  if ("Bun" in globalThis) return "bun";
  if ("Deno" in globalThis) return "deno";
  return "web";
}

/**
 * The adapter of the runtime this process runs on, chosen once at load.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * console.log(runtime.name); // "deno" or "bun"
 * ```
 */
export const runtime: RuntimeAdapter = adapterFor(detect());
