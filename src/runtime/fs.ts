/**
 * The file port of the running runtime (files and advisory locks), as used
 * by the FIFO collector and the trace reader. The port is declared in
 * `types.ts` and implemented by each runtime's adapter.
 *
 * @module
 */

import { runtime } from "./adapter.ts";
import type { FileSystemPort } from "./types.ts";

export type {
  FileKind,
  FilePort,
  FileSystemPort,
  OpenMode,
  PipeOpenOptions,
} from "./types.ts";

/**
 * The file system of the running runtime.
 *
 * @example
 * ```ts
 * import { fileSystem } from "./fs.ts";
 * if (fileSystem.locking !== "flock") throw new Error("Deno locks with flock");
 * ```
 */
export const fileSystem: FileSystemPort = runtime.files;
