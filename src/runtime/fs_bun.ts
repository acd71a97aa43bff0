/**
 * The file port on Bun (and Node): `node:fs` for I/O, and libc's `flock(2)`
 * through `bun:ffi` for locks, since `node:fs` has none. The lock is taken
 * with `LOCK_NB` and retried with a short backoff, so waiting for it never
 * blocks the event loop. Without `bun:ffi` (Node) or a libc to load, locks
 * are no-ops and `locking` says `"none"`.
 *
 * @module
 */

import * as fs from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { FileKind, FilePort, FileSystemPort, OpenMode } from "./fs.ts";
import { openPipeWithin } from "./_pipe.ts";

const LOCK_SH = 1;
const LOCK_EX = 2;
const LOCK_NB = 4;
const LOCK_UN = 8;
const EINTR = 4;
const MAX_BACKOFF_MS = 16;

interface Flock {
  /** `flock(fd, operation)`: 0 on success, else the errno. */
  call(fd: number, operation: number): number;
  /** The errno that means "held by someone else". */
  wouldBlock: number;
}

/** Loads `flock` from libc through `bun:ffi`, or `undefined` when impossible. */
function loadFlock(): Flock | undefined {
  const require = (import.meta as { require?: (id: string) => unknown })
    .require;
  if (!("Bun" in globalThis) || typeof require !== "function") {
    return undefined;
  }
  try {
    const ffi = require("bun:ffi") as BunFfi;
    const darwin = process.platform === "darwin";
    const errnoSymbol = darwin ? "__error" : "__errno_location";
    const names = darwin
      ? ["libc.dylib", "/usr/lib/libSystem.B.dylib"]
      : ["libc.so.6", "libc.so", "libc.musl-x86_64.so.1"];
    for (const name of names) {
      try {
        const lib = ffi.dlopen(name, {
          flock: { args: ["i32", "i32"], returns: "i32" },
          [errnoSymbol]: { args: [], returns: "ptr" },
        });
        const flock = lib.symbols.flock as (fd: number, op: number) => number;
        const errnoAt = lib.symbols[errnoSymbol] as () => number;
        return {
          call(fd: number, operation: number): number {
            if (flock(fd, operation) === 0) return 0;
            return ffi.read.i32(errnoAt(), 0);
          },
          wouldBlock: darwin ? 35 : 11,
        };
      } catch {
        // Try the next name.
      }
    }
  } catch {
    // No bun:ffi.
  }
  return undefined;
}

interface BunFfi {
  dlopen(
    name: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, unknown> };
  read: { i32(pointer: number, offset: number): number };
}

let loaded: Flock | undefined | null = null;

/** `flock` from libc, loaded on first use (so importing this is cheap). */
function libcFlock(): Flock | undefined {
  if (loaded === null) loaded = loadFlock();
  return loaded;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class NodeFile implements FilePort {
  readonly #handle: fs.promises.FileHandle;

  constructor(handle: fs.promises.FileHandle) {
    this.#handle = handle;
  }

  async lock(exclusive: boolean): Promise<void> {
    const flock = libcFlock();
    if (flock === undefined) return;
    const operation = (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB;
    let backoffMs = 0;
    for (;;) {
      const errno = flock.call(this.#handle.fd, operation);
      if (errno === 0) return;
      if (errno !== flock.wouldBlock && errno !== EINTR) {
        throw new Error(
          `flock failed on fd ${this.#handle.fd}: errno ${errno}`,
        );
      }
      await sleep(backoffMs);
      backoffMs = Math.min(MAX_BACKOFF_MS, backoffMs * 2 || 1);
    }
  }

  unlock(): Promise<void> {
    const flock = libcFlock();
    if (flock !== undefined) {
      const errno = flock.call(this.#handle.fd, LOCK_UN);
      if (errno !== 0) {
        return Promise.reject(
          new Error(
            `flock(LOCK_UN) failed on fd ${this.#handle.fd}: errno ${errno}`,
          ),
        );
      }
    }
    return Promise.resolve();
  }

  async write(bytes: Uint8Array): Promise<number> {
    return (await this.#handle.write(bytes, 0, bytes.length)).bytesWritten;
  }

  async read(buffer: Uint8Array): Promise<number> {
    const { bytesRead } = await this.#handle.read(
      buffer,
      0,
      buffer.length,
      null,
    );
    return bytesRead;
  }

  async size(): Promise<number> {
    return (await this.#handle.stat()).size;
  }

  truncate(size = 0): Promise<void> {
    return this.#handle.truncate(size);
  }

  async identity(): Promise<string> {
    const info = await this.#handle.stat();
    return `${info.dev}:${info.ino}`;
  }

  close(): void {
    this.#handle.close().catch(() => {});
  }
}

function kindSync(path: string | URL): FileKind | "other" | undefined {
  let info: fs.Stats;
  try {
    info = fs.statSync(path);
  } catch (error) {
    if ((error as { code?: string }).code === "ENOENT") return undefined;
    throw error;
  }
  if (info.isFile()) return "file";
  if (info.isFIFO()) return "fifo";
  return "other";
}

/** The file port implemented with `node:fs` and `bun:ffi`. */
export const bunFileSystem: FileSystemPort = {
  get locking(): "flock" | "none" {
    return libcFlock() === undefined ? "none" : "flock";
  },
  kindSync,
  prepareAppendSync(path: string | URL): FileKind {
    const kind = kindSync(path);
    if (kind === "fifo") return "fifo";
    if (kind === undefined) {
      const file = path instanceof URL ? fileURLToPath(path) : path;
      fs.mkdirSync(dirname(file), { recursive: true });
    }
    fs.closeSync(fs.openSync(path, "a"));
    return "file";
  },
  async identity(path: string | URL): Promise<string | undefined> {
    try {
      const info = await fs.promises.stat(path);
      return `${info.dev}:${info.ino}`;
    } catch (error) {
      if ((error as { code?: string }).code === "ENOENT") return undefined;
      throw error;
    }
  },
  async open(path: string | URL, mode: OpenMode): Promise<FilePort> {
    const flags = mode === "append" ? "a" : mode === "read" ? "r" : "r+";
    return new NodeFile(await fs.promises.open(path, flags));
  },
  openPipeWriter(path: string | URL, waitMs: number): Promise<FilePort> {
    return openPipeWithin(
      path,
      waitMs,
      async (at, mode) =>
        new NodeFile(await fs.promises.open(at, mode === "write" ? "w" : "r")),
    );
  },
};
