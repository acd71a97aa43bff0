/**
 * The file port on Deno: `Deno.FsFile`, whose `lock()` is `flock(2)` on
 * Unix, so it interoperates with other processes (and with Bun's adapter).
 *
 * @module
 */

import type { FileKind, FilePort, FileSystemPort, OpenMode } from "./fs.ts";
import { openPipeWithin } from "./_pipe.ts";

class DenoFile implements FilePort {
  readonly #file: Deno.FsFile;

  constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  lock(exclusive: boolean): Promise<void> {
    return this.#file.lock(exclusive);
  }

  unlock(): Promise<void> {
    return this.#file.unlock();
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.#file.write(bytes);
  }

  async read(buffer: Uint8Array): Promise<number> {
    return (await this.#file.read(buffer)) ?? 0;
  }

  async size(): Promise<number> {
    return (await this.#file.stat()).size;
  }

  truncate(size = 0): Promise<void> {
    return this.#file.truncate(size);
  }

  async identity(): Promise<string> {
    const info = await this.#file.stat();
    return `${info.dev}:${info.ino}`;
  }

  close(): void {
    try {
      this.#file.close();
    } catch {
      // Already closed.
    }
  }
}

function parentOf(path: string | URL): string | URL {
  if (path instanceof URL) return new URL(".", path);
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  if (cut < 0) return ".";
  return cut === 0 ? path.slice(0, 1) : path.slice(0, cut);
}

function kindSync(path: string | URL): FileKind | "other" | undefined {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (info.isFile) return "file";
  if (info.isFifo) return "fifo";
  return "other";
}

/** The file port implemented with Deno's APIs. */
export const denoFileSystem: FileSystemPort = {
  locking: "flock",
  kindSync,
  prepareAppendSync(path: string | URL): FileKind {
    const kind = kindSync(path);
    if (kind === "fifo") return "fifo";
    if (kind === undefined) Deno.mkdirSync(parentOf(path), { recursive: true });
    Deno.openSync(path, { append: true, create: true }).close();
    return "file";
  },
  async identity(path: string | URL): Promise<string | undefined> {
    try {
      const info = await Deno.stat(path);
      return `${info.dev}:${info.ino}`;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
  },
  async open(path: string | URL, mode: OpenMode): Promise<FilePort> {
    const options: Deno.OpenOptions = mode === "append"
      ? { append: true, create: true }
      : mode === "read"
      ? { read: true }
      : { read: true, write: true };
    return new DenoFile(await Deno.open(path, options));
  },
  openPipeWriter(path: string | URL, waitMs: number): Promise<FilePort> {
    return openPipeWithin(
      path,
      waitMs,
      async (at, mode) =>
        new DenoFile(
          await Deno.open(
            at,
            mode === "write" ? { write: true } : { read: true },
          ),
        ),
    );
  },
};
