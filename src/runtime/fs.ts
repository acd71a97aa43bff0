/**
 * The file port: what collectors and readers need from the file system
 * (append whole buffers, read chunks, truncate, advisory locks), with one
 * implementation per runtime. The implementation is chosen once, at load,
 * by a dynamic import, so Deno never loads `node:fs`/`bun:ffi` and Bun never
 * touches `Deno.*`.
 *
 * @module
 */

/** What kind of file a path names. */
export type FileKind = "file" | "fifo";

/** How {@linkcode FileSystemPort.open} opens a file. */
export type OpenMode = "append" | "read" | "readWrite";

/** An open file. Methods reject with the runtime's own error on failure. */
export interface FilePort {
  /**
   * Takes an advisory lock on the whole file (`flock(2)` on Unix), waiting
   * without blocking the event loop while another holder has it.
   */
  lock(exclusive: boolean): Promise<void>;
  /** Releases the lock taken by {@linkcode FilePort.lock}. */
  unlock(): Promise<void>;
  /**
   * Writes some of `bytes` (at the end, for a file opened to append) and
   * resolves to how many; callers loop over partial writes.
   */
  write(bytes: Uint8Array): Promise<number>;
  /** Reads into `buffer`; resolves to the byte count, 0 at the end. */
  read(buffer: Uint8Array): Promise<number>;
  /** The file's current size in bytes. */
  size(): Promise<number>;
  /** Cuts the file to `size` bytes (default 0). */
  truncate(size?: number): Promise<void>;
  /** Which file this is (device and inode), to tell whether a path still names it. */
  identity(): Promise<string>;
  /** Closes the file; never throws. */
  close(): void;
}

/** The file operations of one runtime. */
export interface FileSystemPort {
  /**
   * How locks are taken: `"flock"` when {@linkcode FilePort.lock} really
   * locks, `"none"` when the runtime cannot (locks are then no-ops).
   */
  readonly locking: "flock" | "none";
  /**
   * Makes sure `path` can be appended to, synchronously: creates missing
   * directories and the file itself. A named pipe is left alone (opening it
   * would wait for a reader).
   *
   * @throws The runtime's error when the path cannot be created or written.
   */
  prepareAppendSync(path: string | URL): FileKind;
  /** What kind of file `path` names, or `undefined` when it does not exist. */
  kindSync(path: string | URL): FileKind | "other" | undefined;
  /** Which file `path` names now (device and inode), or `undefined` when none. */
  identity(path: string | URL): Promise<string | undefined>;
  /** Opens `path`; `"append"` creates it when missing. */
  open(path: string | URL, mode: OpenMode): Promise<FilePort>;
  /**
   * Opens the named pipe `path` for writing, waiting at most `waitMs` for a
   * reader: opening a pipe blocks until one opens it, and a blocked open
   * would keep the process alive and never end. When none comes, the
   * pending open is released (by opening the pipe for reading, then closing
   * both ends) and the promise rejects with an error whose `code` is
   * `"ENXIO"`, as a non-blocking open would.
   */
  openPipeWriter(path: string | URL, waitMs: number): Promise<FilePort>;
}

const implementation: FileSystemPort = "Deno" in globalThis
  ? (await import("./fs_deno.ts")).denoFileSystem
  : (await import("./fs_bun.ts")).bunFileSystem;

/**
 * The file system of the running runtime.
 *
 * @example
 * ```ts
 * import { fileSystem } from "./fs.ts";
 * console.log(fileSystem.locking); // "flock"
 * ```
 */
export const fileSystem: FileSystemPort = implementation;
