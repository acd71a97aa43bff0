/**
 * The port through which configuration loading reads files and environment
 * variables, with one implementation per runtime (`host_deno.ts`,
 * `host_bun.ts`), chosen once at load.
 *
 * @module
 */

import { createDenoConfigHost } from "./host_deno.ts";
import { createBunConfigHost } from "./host_bun.ts";

/** What reading a file gave. */
export type FileRead =
  /** The file's text. */
  | { readonly kind: "text"; readonly text: string }
  /** No file at this path. */
  | { readonly kind: "missing" }
  /** The runtime's sandbox forbids reading it (Deno without `--allow-read`). */
  | { readonly kind: "denied"; readonly reason: string }
  /** Another failure (a directory, an unreadable file). */
  | { readonly kind: "error"; readonly reason: string };

/** What reading an environment variable gave. */
export type EnvRead =
  | { readonly kind: "value"; readonly value: string }
  | { readonly kind: "unset" }
  /** The runtime's sandbox forbids reading it (Deno without `--allow-env`). */
  | { readonly kind: "denied"; readonly reason: string };

/**
 * File and environment access for configuration loading. Never throws, and
 * never prompts for a permission: a permission not granted reads as
 * `denied`.
 *
 * @example
 * ```ts
 * import { configHost } from "./host.ts";
 * const read = await configHost.readTextFile("pss.json");
 * console.log(read.kind);
 * ```
 */
export interface ConfigHost {
  /** The current working directory, or `undefined` when it cannot be read. */
  cwd(): string | undefined;
  /** Reads a UTF-8 text file. */
  readTextFile(path: string): Promise<FileRead>;
  /** Reads one environment variable. */
  env(name: string): EnvRead;
}

/** A host that reads nothing (runtimes other than Deno and Bun). */
function createNoConfigHost(): ConfigHost {
  const reason = "this runtime has no file or environment access";
  return {
    cwd: () => undefined,
    readTextFile: () => Promise.resolve({ kind: "denied", reason }),
    env: () => ({ kind: "denied", reason }),
  };
}

/**
 * The host of the runtime this process runs on, chosen once at load.
 *
 * @example
 * ```ts
 * import { configHost } from "./host.ts";
 * console.log(configHost.cwd());
 * ```
 */
export const configHost: ConfigHost = "Bun" in globalThis
  ? createBunConfigHost()
  : "Deno" in globalThis
  ? createDenoConfigHost()
  : createNoConfigHost();
