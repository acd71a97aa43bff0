/**
 * The Bun adapter: `process.memoryUsage.rss()` for memory,
 * `process.cpuUsage()` for CPU time, `Bun.gc(true)` for collections,
 * `AsyncLocalStorage` for async context.
 *
 * @module
 */

import type { RuntimeAdapter } from "./types.ts";
import {
  createAsyncLocalStorage,
  measured,
  nodeHostName,
  nodeProcess,
  nodeProcessId,
} from "./_node.ts";

/**
 * Creates the adapter for Bun. Call only on Bun (`"Bun" in globalThis`).
 *
 * @returns The Bun adapter.
 *
 * @example
 * ```ts
 * import { createAdapter } from "./bun.ts";
 * if ("Bun" in globalThis) console.log(createAdapter().rssBytes());
 * ```
 */
export function createAdapter(): RuntimeAdapter {
  const bun = (globalThis as { Bun?: { gc?(force: boolean): void } }).Bun;
  const memoryUsage = nodeProcess?.memoryUsage;
  return {
    name: "bun",
    rssBytes(): number | undefined {
      try {
        return measured(memoryUsage?.rss?.());
      } catch {
        return undefined;
      }
    },
    cpuTimeSeconds(): number | undefined {
      try {
        const usage = nodeProcess?.cpuUsage?.();
        return usage === undefined
          ? undefined
          : measured((usage.user + usage.system) / 1e6);
      } catch {
        return undefined;
      }
    },
    heapUsedBytes(): number | undefined {
      try {
        return measured(memoryUsage?.().heapUsed);
      } catch {
        return undefined;
      }
    },
    collectGarbage(): boolean {
      if (typeof bun?.gc !== "function") return false;
      try {
        bun.gc(true);
        return true;
      } catch {
        return false;
      }
    },
    createContextStorage: createAsyncLocalStorage,
    processId: nodeProcessId,
    hostName: nodeHostName,
  };
}
