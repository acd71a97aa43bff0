/**
 * The Bun adapter: every port of `types.ts` on Bun. `process.memoryUsage`
 * and `process.cpuUsage` for memory and CPU time, `Bun.gc(true)` for
 * collections, `node:fs` for files with libc's `flock(2)` through `bun:ffi`
 * for locks (`node:fs` has none), `process` events for the lifecycle,
 * `Bun.serve` for HTTP. Built-in modules are reached through
 * `process.getBuiltinModule`, so no `node:` or `bun:` specifier appears in
 * the module graph.
 *
 * Loaded only on Bun (by `adapter.ts`). Bun has no permission sandbox.
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
  builtin,
  createAsyncLocalStorage,
  decodeUtf8,
  measured,
  nodeProcess,
  once,
  parentOf,
} from "./_node.ts";
import { messageOf } from "../_message.ts";
import { processIdPrefix } from "../_id.ts";
import { openPipeWithin } from "./_pipe.ts";

// The parts of Bun's and Node's APIs this adapter uses.

interface BunSink {
  readonly _brand?: "BunFile";
}

interface BunServer {
  readonly hostname: string;
  readonly port: number;
  requestIP(request: Request): { address: string } | null;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

interface BunGlobal {
  version: string;
  argv: string[];
  gc?(force: boolean): void;
  stdin: { stream(): ReadableStream<Uint8Array> };
  stdout: BunSink;
  stderr: BunSink;
  write(destination: BunSink | string, data: string): Promise<number>;
  serve(options: {
    hostname: string;
    port: number;
    tls?: { cert: string; key: string };
    fetch(request: Request, server: BunServer): Response | Promise<Response>;
    error(error: Error): Response;
  }): BunServer;
}

interface Stats {
  dev: number;
  ino: number;
  size: number;
  isFile(): boolean;
  isFIFO(): boolean;
}

interface FileHandle {
  readonly fd: number;
  write(
    bytes: Uint8Array,
    offset: number,
    length: number,
  ): Promise<{ bytesWritten: number }>;
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: null,
  ): Promise<{ bytesRead: number }>;
  stat(): Promise<Stats>;
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

interface NodeFs {
  statSync(path: string | URL): Stats;
  mkdirSync(path: string | URL, options: { recursive: true }): unknown;
  openSync(path: string | URL, flags: string): number;
  closeSync(fd: number): void;
  readFileSync(path: string, encoding: "utf8"): string;
  writeFileSync(path: string, text: string): void;
  promises: {
    stat(path: string | URL): Promise<Stats>;
    open(path: string | URL, flags: string): Promise<FileHandle>;
    readFile(path: string): Promise<Uint8Array>;
  };
}

interface BunProcess {
  pid: number;
  exitCode: number | undefined;
  platform: string;
  argv: string[];
  env: Record<string, string | undefined>;
  cwd(): string;
  exit(code: number): never;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  stdin: { isTTY?: boolean };
  stdout: { isTTY?: boolean };
  stderr: { isTTY?: boolean };
}

interface BunFfi {
  dlopen(
    name: string,
    symbols: Record<string, { args: string[]; returns: string }>,
  ): { symbols: Record<string, unknown> };
  read: { i32(pointer: number, offset: number): number };
}

const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
const proc = nodeProcess as unknown as BunProcess;

// --- files --------------------------------------------------------------

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
  const ffi = builtin<BunFfi>("bun:ffi");
  if (ffi === undefined) return undefined;
  const darwin = proc.platform === "darwin";
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
  return undefined;
}

let loadedFlock: Flock | undefined | null = null;

/** `flock` from libc, loaded on first use (so loading the adapter is cheap). */
function libcFlock(): Flock | undefined {
  if (loadedFlock === null) loadedFlock = loadFlock();
  return loadedFlock;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let nodeFs: NodeFs | undefined;

function fs(): NodeFs {
  nodeFs ??= builtin<NodeFs>("node:fs");
  if (nodeFs === undefined) throw new Error("node:fs is not available");
  return nodeFs;
}

class NodeFile implements FilePort {
  readonly #handle: FileHandle;

  constructor(handle: FileHandle) {
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

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown })?.code === "ENOENT";
}

function kindSync(path: string | URL): FileKind | "other" | undefined {
  let info: Stats;
  try {
    info = fs().statSync(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
  if (info.isFile()) return "file";
  if (info.isFIFO()) return "fifo";
  return "other";
}

const files: FileSystemPort = {
  get locking(): "flock" | "none" {
    return libcFlock() === undefined ? "none" : "flock";
  },
  kindSync,
  prepareAppendSync(path: string | URL): FileKind {
    const kind = kindSync(path);
    if (kind === "fifo") return "fifo";
    if (kind === undefined) fs().mkdirSync(parentOf(path), { recursive: true });
    fs().closeSync(fs().openSync(path, "a"));
    return "file";
  },
  async identity(path: string | URL): Promise<string | undefined> {
    try {
      const info = await fs().promises.stat(path);
      return `${info.dev}:${info.ino}`;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  },
  async open(path: string | URL, mode: OpenMode): Promise<FilePort> {
    const flags = mode === "append" ? "a" : mode === "read" ? "r" : "r+";
    return new NodeFile(await fs().promises.open(path, flags));
  },
  openPipeWriter(
    path: string | URL,
    options: PipeOpenOptions,
  ): Promise<FilePort> {
    return openPipeWithin(
      path,
      options,
      async (at, mode) =>
        new NodeFile(
          await fs().promises.open(at, mode === "write" ? "w" : "r"),
        ),
    );
  },
};

// --- process --------------------------------------------------------------

interface OsModule {
  hostname(): string;
}

function createProcess(): ProcessPort {
  return {
    pid: proc.pid,
    hostname(): string | undefined {
      try {
        return builtin<OsModule>("node:os")?.hostname() || undefined;
      } catch {
        return undefined;
      }
    },
    onIdle(listener: () => boolean): (() => void) | undefined {
      const onBeforeExit = (): void => void listener();
      proc.on("beforeExit", onBeforeExit);
      return () => void proc.off("beforeExit", onBeforeExit);
    },
    onExit(listener: () => void): () => void {
      const onExit = (): void => {
        try {
          listener();
        } catch {
          // An exit hook must not change how the process ends.
        }
      };
      proc.on("exit", onExit);
      return once(() => void proc.off("exit", onExit));
    },
    addSignalListener(signal: ExitSignal, listener: () => void): () => void {
      const onSignal = (): void => listener();
      try {
        proc.on(signal, onSignal);
      } catch {
        return () => {};
      }
      return once(() => void proc.off(signal, onSignal));
    },
    exit(code: number): never {
      return proc.exit(code);
    },
  };
}

// --- benchmarks -----------------------------------------------------------

const bench: BenchPort = {
  version: `bun ${bun.version}`,
  hasDenoBench: false,
  // One module instance per process: the process's random id is the run's.
  runId: (): string => processIdPrefix(),
  registerDenoBench: (): boolean => false,
  onBenchEnd(listener: () => void): boolean {
    proc.on("exit", listener);
    return true;
  },
  setExitCode(code: number): boolean {
    proc.exitCode = code;
    return true;
  },
  readTextFileSync(path: string): string | undefined {
    try {
      return fs().readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
  },
  writeTextFileSync(path: string, text: string): void {
    fs().writeFileSync(path, text);
  },
};

// --- environment ----------------------------------------------------------

const env: EnvironmentPort = {
  cwd(): string | undefined {
    try {
      return proc.cwd();
    } catch {
      return undefined;
    }
  },
  async readTextFile(path: string): Promise<FileRead> {
    try {
      return {
        kind: "text",
        text: decodeUtf8(await fs().promises.readFile(path)),
      };
    } catch (error) {
      if (isNotFound(error)) return { kind: "missing" };
      return { kind: "error", reason: messageOf(error) };
    }
  },
  env(name: string): EnvRead {
    const value = proc.env[name];
    return value === undefined ? { kind: "unset" } : { kind: "value", value };
  },
  envNames(): readonly string[] | undefined {
    try {
      return Object.keys(proc.env);
    } catch {
      return undefined;
    }
  },
};

// --- command line ---------------------------------------------------------

function createCli(): CliProcess {
  return {
    args: bun.argv.slice(2),
    stdout: async (text) => {
      await bun.write(bun.stdout, text);
    },
    stderr: async (text) => {
      await bun.write(bun.stderr, text);
    },
    stdin: () => bun.stdin.stream(),
    readTextFile: async (path) =>
      decodeUtf8(await fs().promises.readFile(path)),
    writeTextFile: async (path, text) => {
      // Bun.write creates missing directories (Deno's adapter does too).
      await bun.write(path, text);
    },
    isTerminal(stream): boolean {
      return proc[stream]?.isTTY === true;
    },
    exit: (code) => proc.exit(code),
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
      const server = bun.serve({
        hostname,
        port,
        ...(tls === undefined ? {} : { tls }),
        fetch: (request, server) =>
          handler(request, {
            remoteAddress: server.requestIP(request)?.address,
          }),
        error: (error) => {
          onError?.(error);
          return new Response("Internal Server Error", { status: 500 });
        },
      });
      const shutdown = once(async () => {
        await server.stop();
      });
      return Promise.resolve({
        hostname: server.hostname,
        port: server.port,
        url: baseUrl(tls !== undefined, server.hostname, server.port),
        shutdown,
        [Symbol.asyncDispose]: shutdown,
      });
    } catch (error) {
      return Promise.reject(error);
    }
  },
};

/**
 * Creates the adapter for Bun. Call only on Bun (`adapter.ts` does).
 *
 * @returns The Bun adapter.
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { createRuntime } from "./bun.ts";
 * assert.ok((createRuntime().rssBytes() ?? 0) > 0); // on Bun only
 * ```
 */
export function createRuntime(): RuntimeAdapter {
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
      if (typeof bun.gc !== "function") return false;
      try {
        bun.gc(true);
        return true;
      } catch {
        return false;
      }
    },
    createContextStorage: createAsyncLocalStorage,
    unrefTimer<T extends TimerHandle>(handle: T): T {
      try {
        const h = handle as unknown;
        if (h !== null && typeof h === "object" && "unref" in h) {
          (h as { unref(): void }).unref();
        }
      } catch {
        // Unref is an optimisation; failing to do it must not break the caller.
      }
      return handle;
    },
    missingPermission: (): undefined => undefined,
    canStartWorker: (): boolean => typeof Worker === "function",
    files,
    process: createProcess(),
    env,
    cli: createCli(),
    http,
    bench,
  };
}
