/**
 * The Deno adapter: every port of `types.ts` on Deno's own APIs.
 * `Deno.memoryUsage()` and `Deno.cpuUsage()` for memory and CPU time,
 * `Deno.FsFile` (whose `lock()` is `flock(2)`) for files, `beforeunload`,
 * `unload` and `Deno.addSignalListener` for the process lifecycle,
 * `Deno.serve` for HTTP. Permissions are queried, never prompted for.
 *
 * Loaded only on Deno (by `adapter.ts`).
 *
 * @module
 */

import type {
  BenchPort,
  CliProcess,
  EnvironmentPort,
  EnvRead,
  ExitSignal,
  FileKind,
  FilePort,
  FileRead,
  FileSystemPort,
  HttpHandler,
  HttpPort,
  HttpServer,
  OpenMode,
  PipeOpenOptions,
  ProcessPort,
  RuntimeAdapter,
  ServeHttpOptions,
  TimerHandle,
} from "./types.ts";
import {
  baseUrl,
  createAsyncLocalStorage,
  decodeUtf8,
  measured,
  once,
  parentOf,
} from "./_node.ts";
import { messageOf } from "../_message.ts";
import { processIdPrefix } from "../_id.ts";
import { openPipeWithin } from "./_pipe.ts";

/** Whether a permission is granted now (a "prompt" state counts as not). */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** The flag Deno names in a NotCapable message ("run again with the --allow-x flag"). */
function missingPermission(error: unknown): string | undefined {
  const message = typeof (error as { message?: unknown })?.message === "string"
    ? (error as { message: string }).message
    : "";
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied ||
    (error as { name?: unknown })?.name === "NotCapable"
  ) {
    const named = /--allow-[a-z-]+/.exec(message);
    if (named !== null) return named[0];
    const kind = /Requires (\w+) access/.exec(message);
    if (kind !== null) return `--allow-${kind[1]}`;
    return undefined;
  }
  // Deno's Node compatibility layer turns a denied DNS lookup (the first
  // thing a TCP client such as node-redis does) into `getaddrinfo EPERM`.
  const { code, syscall } = (error ?? {}) as {
    code?: unknown;
    syscall?: unknown;
  };
  if (
    code === "EPERM" && syscall === "getaddrinfo" && !granted({ name: "net" })
  ) return "--allow-net";
  return undefined;
}

// --- files --------------------------------------------------------------

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

const files: FileSystemPort = {
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
  openPipeWriter(
    path: string | URL,
    options: PipeOpenOptions,
  ): Promise<FilePort> {
    return openPipeWithin(
      path,
      options,
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

// --- process --------------------------------------------------------------

function createProcess(): ProcessPort {
  return {
    pid: Deno.pid,
    hostname(): string | undefined {
      if (!granted({ name: "sys", kind: "hostname" })) return undefined;
      try {
        return Deno.hostname();
      } catch {
        return undefined;
      }
    },
    onIdle(listener: () => boolean): (() => void) | undefined {
      if (typeof globalThis.addEventListener !== "function") return undefined;
      const onBeforeUnload = (event: Event): void => {
        if (listener()) event.preventDefault();
      };
      globalThis.addEventListener("beforeunload", onBeforeUnload);
      return () =>
        globalThis.removeEventListener("beforeunload", onBeforeUnload);
    },
    onExit(listener: () => void): () => void {
      if (typeof globalThis.addEventListener !== "function") return () => {};
      const onUnload = (): void => {
        try {
          listener();
        } catch {
          // An exit hook must not change how the process ends.
        }
      };
      globalThis.addEventListener("unload", onUnload);
      return () => globalThis.removeEventListener("unload", onUnload);
    },
    addSignalListener(signal: ExitSignal, listener: () => void): () => void {
      try {
        Deno.addSignalListener(signal, listener);
      } catch {
        // This platform has no such signal (SIGTERM on Windows).
        return () => {};
      }
      return once(() => {
        try {
          Deno.removeSignalListener(signal, listener);
        } catch {
          // Already removed.
        }
      });
    },
    exit(code: number): never {
      return Deno.exit(code);
    },
  };
}

// --- benchmarks -----------------------------------------------------------

/** Carries the run's id from the first bench file's isolate to the others. */
const RUN_ENV = "PSS_BENCH_RUN";

const bench: BenchPort = {
  version: `deno ${Deno.version.deno}`,
  hasDenoBench: typeof Deno.bench === "function",
  runId(): string | undefined {
    if (!granted({ name: "env", variable: RUN_ENV })) return undefined;
    try {
      const mine = `${Deno.pid}:`;
      const seen = Deno.env.get(RUN_ENV);
      if (seen?.startsWith(mine)) return seen;
      const id = mine + processIdPrefix();
      Deno.env.set(RUN_ENV, id);
      return id;
    } catch {
      return undefined;
    }
  },
  registerDenoBench(registration): boolean {
    Deno.bench(registration as unknown as Deno.BenchDefinition);
    return true;
  },
  onBenchEnd(listener: () => void): boolean {
    if (typeof globalThis.addEventListener !== "function") return false;
    globalThis.addEventListener("unload", listener);
    return true;
  },
  setExitCode(code: number): boolean {
    Deno.exitCode = code;
    return true;
  },
  readTextFileSync(path: string): string | undefined {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      return undefined;
    }
  },
  writeTextFileSync(path: string, text: string): void {
    Deno.writeTextFileSync(path, text);
  },
};

// --- environment ----------------------------------------------------------

const env: EnvironmentPort = {
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
      reason: `Deno has no read permission for ${path} (run with --allow-read)`,
    };
    if (!granted({ name: "read", path })) return denied;
    try {
      return { kind: "text", text: decodeUtf8(await Deno.readFile(path)) };
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { kind: "missing" };
      if (missingPermission(error) !== undefined) return denied;
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
      return value === undefined ? { kind: "unset" } : { kind: "value", value };
    } catch {
      return denied;
    }
  },
  envNames(): readonly string[] | undefined {
    if (!granted({ name: "env" })) return undefined;
    try {
      return Object.keys(Deno.env.toObject());
    } catch {
      return undefined;
    }
  },
};

// --- command line ---------------------------------------------------------

const encoder = new TextEncoder();

async function writeAll(
  stream: { write(bytes: Uint8Array): Promise<number> },
  text: string,
): Promise<void> {
  const bytes = encoder.encode(text);
  let offset = 0;
  while (offset < bytes.length) {
    offset += await stream.write(bytes.subarray(offset));
  }
}

function createCli(): CliProcess {
  return {
    args: Deno.args,
    stdout: (text) => writeAll(Deno.stdout, text),
    stderr: (text) => writeAll(Deno.stderr, text),
    stdin: () => Deno.stdin.readable,
    readTextFile: async (path) => decodeUtf8(await Deno.readFile(path)),
    writeTextFile: async (path, text) => {
      // Missing directories are created, as Bun.write does on Bun.
      const slash = path.lastIndexOf("/");
      if (slash > 0) {
        await Deno.mkdir(path.slice(0, slash), { recursive: true });
      }
      await Deno.writeTextFile(path, text);
    },
    isTerminal(stream): boolean {
      try {
        const target = stream === "stdin"
          ? Deno.stdin
          : stream === "stdout"
          ? Deno.stdout
          : Deno.stderr;
        return target.isTerminal();
      } catch {
        return false;
      }
    },
    exit: (code) => Deno.exit(code),
  };
}

// --- HTTP -----------------------------------------------------------------

const http: HttpPort = {
  serveHttp(
    handler: HttpHandler,
    options: ServeHttpOptions = {},
  ): Promise<HttpServer> {
    const { hostname = "127.0.0.1", port = 0, tls, onError } = options;
    try {
      const server = Deno.serve({
        hostname,
        port,
        ...(tls === undefined ? {} : { cert: tls.cert, key: tls.key }),
        onListen: () => {},
        onError: (error) => {
          onError?.(error);
          return new Response("Internal Server Error", { status: 500 });
        },
      }, (request, info) =>
        handler(request, {
          remoteAddress: (info.remoteAddr as Deno.NetAddr).hostname,
        }));
      const addr = server.addr as Deno.NetAddr;
      const shutdown = once(() => server.shutdown());
      return Promise.resolve({
        hostname: addr.hostname,
        port: addr.port,
        url: baseUrl(tls !== undefined, addr.hostname, addr.port),
        shutdown,
        [Symbol.asyncDispose]: shutdown,
      });
    } catch (error) {
      return Promise.reject(error);
    }
  },
};

/**
 * Creates the adapter for Deno. Call only on Deno (`adapter.ts` does).
 *
 * @returns The Deno adapter.
 *
 * @example
 * ```ts
 * import { createRuntime } from "./deno.ts";
 * const deno = createRuntime();
 * if (deno.name !== "deno" || !(deno.rssBytes()! > 0)) throw new Error();
 * ```
 */
export function createRuntime(): RuntimeAdapter {
  const gc = (globalThis as { gc?: () => void }).gc;
  return {
    name: "deno",
    rssBytes(): number | undefined {
      try {
        return measured(Deno.memoryUsage().rss);
      } catch {
        return undefined;
      }
    },
    cpuTimeSeconds(): number | undefined {
      try {
        // Deno.cpuUsage() (since 2.4) reports microseconds, like Node's.
        const usage =
          (Deno as { cpuUsage?(): { user: number; system: number } })
            .cpuUsage?.();
        return usage === undefined
          ? undefined
          : measured((usage.user + usage.system) / 1e6);
      } catch {
        return undefined;
      }
    },
    heapUsedBytes(): number | undefined {
      try {
        return measured(Deno.memoryUsage().heapUsed);
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
    unrefTimer<T extends TimerHandle>(handle: T): T {
      try {
        // Deno 2 returns a Timeout object with unref() (a number before).
        const h = handle as unknown;
        if (typeof h === "number") Deno.unrefTimer(h);
        else if (h !== null && typeof h === "object" && "unref" in h) {
          (h as { unref(): void }).unref();
        }
      } catch {
        // Unref is an optimisation; failing to do it must not break the caller.
      }
      return handle;
    },
    missingPermission,
    canStartWorker(url: string): boolean {
      if (typeof Worker !== "function") return false;
      // A local module is read under the read permission; a remote one
      // under the import permission, which Deno grants for the registries.
      return !url.startsWith("file:") ||
        granted({ name: "read", path: new URL(url) });
    },
    files,
    process: createProcess(),
    env,
    cli: createCli(),
    http,
    bench,
  };
}
