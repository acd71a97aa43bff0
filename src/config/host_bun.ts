/**
 * The configuration host for Bun: `Bun.file` and `process.env` (Bun has no
 * permission sandbox).
 *
 * @module
 */

import type { ConfigHost, EnvRead, FileRead } from "./host.ts";
import { messageOf } from "../_message.ts";

/** The part of Bun's API this host uses. */
interface BunFiles {
  file(path: string): { exists(): Promise<boolean>; text(): Promise<string> };
}

/** The part of Node's `process` Bun provides that this host uses. */
interface BunProcess {
  cwd(): string;
  env: Record<string, string | undefined>;
}

/**
 * Creates the Bun host.
 *
 * @returns The host.
 *
 * @example
 * ```ts
 * import { createBunConfigHost } from "./host_bun.ts";
 * if ("Bun" in globalThis) console.log(createBunConfigHost().cwd());
 * ```
 */
export function createBunConfigHost(): ConfigHost {
  const bun = (globalThis as unknown as { Bun: BunFiles }).Bun;
  const process = (globalThis as unknown as { process: BunProcess }).process;
  return {
    cwd(): string | undefined {
      try {
        return process.cwd();
      } catch {
        return undefined;
      }
    },
    async readTextFile(path: string): Promise<FileRead> {
      try {
        const file = bun.file(path);
        if (!(await file.exists())) return { kind: "missing" };
        return { kind: "text", text: await file.text() };
      } catch (error) {
        if ((error as { code?: unknown })?.code === "ENOENT") {
          return { kind: "missing" };
        }
        return { kind: "error", reason: messageOf(error) };
      }
    },
    env(name: string): EnvRead {
      const value = process.env[name];
      return value === undefined ? { kind: "unset" } : { kind: "value", value };
    },
  };
}
