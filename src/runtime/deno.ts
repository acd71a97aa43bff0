/**
 * The Deno adapter: `Deno.memoryUsage()` for memory, `Deno.cpuUsage()` for
 * CPU time, `AsyncLocalStorage` for async context.
 *
 * @module
 */

import type { ProcessSignal, RuntimeAdapter } from "./types.ts";
import { createAsyncLocalStorage, measured } from "./_node.ts";

interface DenoApi {
  memoryUsage?(): { rss: number; heapUsed: number };
  cpuUsage?(): { user: number; system: number };
  addSignalListener?(signal: string, fn: () => void): void;
  removeSignalListener?(signal: string, fn: () => void): void;
  exit?(code: number): never;
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
    onIdle(listener: () => boolean): (() => void) | undefined {
      if (typeof globalThis.addEventListener !== "function") return undefined;
      // beforeunload continues only when cancelled, and fires again at once
      // when nothing was scheduled.
      const onBeforeUnload = (event: Event): void => {
        if (listener()) event.preventDefault();
      };
      globalThis.addEventListener("beforeunload", onBeforeUnload);
      return () =>
        globalThis.removeEventListener("beforeunload", onBeforeUnload);
    },
    addSignalListener(
      signal: ProcessSignal,
      fn: () => void,
    ): (() => void) | undefined {
      try {
        deno?.addSignalListener?.(signal, fn);
      } catch {
        return undefined; // Windows: only SIGINT and SIGBREAK.
      }
      return () => {
        try {
          deno?.removeSignalListener?.(signal, fn);
        } catch {
          // Already removed.
        }
      };
    },
    exit(code: number): void {
      deno?.exit?.(code);
    },
  };
}
