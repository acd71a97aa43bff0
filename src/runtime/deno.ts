/**
 * The Deno adapter: `Deno.memoryUsage()` for memory, `Deno.cpuUsage()` for
 * CPU time, `AsyncLocalStorage` for async context.
 *
 * @module
 */

import type { RuntimeAdapter } from "./types.ts";
import { createAsyncLocalStorage, measured } from "./_node.ts";

interface DenoApi {
  pid?: number;
  hostname?(): string;
  permissions?: {
    querySync?(descriptor: { name: "sys"; kind: "hostname" }): {
      state: string;
    };
  };
  memoryUsage?(): { rss: number; heapUsed: number };
  cpuUsage?(): { user: number; system: number };
}

/**
 * Creates the adapter for Deno. Call only on Deno (`"Deno" in globalThis`).
 *
 * @returns The Deno adapter.
 *
 * @example
 * ```ts
 * import { createAdapter } from "./deno.ts";
 * if ("Deno" in globalThis) console.log(createAdapter().rssBytes());
 * ```
 */
export function createAdapter(): RuntimeAdapter {
  const deno = (globalThis as { Deno?: DenoApi }).Deno;
  const gc = (globalThis as { gc?: () => void }).gc;
  return {
    name: "deno",
    rssBytes(): number | undefined {
      try {
        return measured(deno?.memoryUsage?.().rss);
      } catch {
        return undefined;
      }
    },
    cpuTimeSeconds(): number | undefined {
      try {
        // Deno.cpuUsage() (since 2.4) reports microseconds, like Node's.
        const usage = deno?.cpuUsage?.();
        return usage === undefined
          ? undefined
          : measured((usage.user + usage.system) / 1e6);
      } catch {
        return undefined;
      }
    },
    heapUsedBytes(): number | undefined {
      try {
        return measured(deno?.memoryUsage?.().heapUsed);
      } catch {
        return undefined;
      }
    },
    collectGarbage(): boolean {
      if (typeof gc !== "function") return false;
      try {
        gc();
        return true;
      } catch {
        return false;
      }
    },
    createContextStorage: createAsyncLocalStorage,
    processId(): number | undefined {
      return measured(deno?.pid);
    },
    hostName(): string | undefined {
      try {
        // Queried first: calling Deno.hostname() without the permission
        // would prompt an interactive user.
        const state = deno?.permissions?.querySync?.({
          name: "sys",
          kind: "hostname",
        }).state;
        if (state !== "granted") return undefined;
        const name = deno?.hostname?.();
        return typeof name === "string" && name !== "" ? name : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
