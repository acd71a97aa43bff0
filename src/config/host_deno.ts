/**
 * The configuration host for Deno: reads only what the permissions already
 * granted allow, so loading settings never prompts.
 *
 * @module
 */

import type { ConfigHost, EnvRead, FileRead } from "./host.ts";
import { messageOf } from "../_message.ts";

/**
 * Creates the Deno host: `Deno.readTextFile` and `Deno.env.get`, each only
 * after `Deno.permissions.querySync` says the access is granted (a
 * permission in the "prompt" state reads as denied rather than asking).
 *
 * @returns The host.
 *
 * @example
 * ```ts
 * import { createDenoConfigHost } from "./host_deno.ts";
 * const host = createDenoConfigHost();
 * console.log(host.env("PSS_SAMPLE_RATE").kind);
 * ```
 */
export function createDenoConfigHost(): ConfigHost {
  const granted = (descriptor: Deno.PermissionDescriptor): boolean => {
    try {
      return Deno.permissions.querySync(descriptor).state === "granted";
    } catch {
      return false;
    }
  };
  return {
    cwd(): string | undefined {
      try {
        return Deno.cwd();
      } catch {
        return undefined;
      }
    },
    async readTextFile(path: string): Promise<FileRead> {
      const denied: FileRead = {
        kind: "denied",
        reason:
          `Deno has no read permission for ${path} (run with --allow-read)`,
      };
      if (!granted({ name: "read", path })) return denied;
      try {
        return { kind: "text", text: await Deno.readTextFile(path) };
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return { kind: "missing" };
        if (error instanceof Deno.errors.NotCapable) return denied;
        return { kind: "error", reason: messageOf(error) };
      }
    },
    env(name: string): EnvRead {
      const denied: EnvRead = {
        kind: "denied",
        reason: `Deno has no permission to read ${name} (run with --allow-env)`,
      };
      if (!granted({ name: "env", variable: name })) return denied;
      try {
        const value = Deno.env.get(name);
        return value === undefined
          ? { kind: "unset" }
          : { kind: "value", value };
      } catch {
        return denied;
      }
    },
  };
}
