/**
 * The runtime ports: everything pss needs from the runtime it runs on,
 * declared once here and implemented once per runtime by `deno.ts`,
 * `bun.ts` and `web.ts`, which export the same names. `adapter.ts` probes
 * the runtime once, at load, and loads only that runtime's file.
 *
 * Portable code (scoring, instrumentation, collectors, configuration, the
 * command line) receives these ports and never touches `Deno.*`, `Bun.*`,
 * `process` or a `node:` module itself.
 *
 * @module
 */

/** Which runtime an adapter serves: `"web"` is any other (browsers, workers, edge). */
export type RuntimeName = "deno" | "bun" | "web";

/**
 * Async-context storage: a value that follows an async call chain (across
 * `await`, timers and promise callbacks) and is isolated between concurrent
 * chains. The shape of `AsyncLocalStorage`, reduced to what pss uses.
 *
 * @typeParam T The stored value.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * const storage = runtime.createContextStorage<string>();
 * if (storage !== undefined) {
 *   const seen = storage.run("request-1", () => storage.getStore());
 *   if (seen !== "request-1") throw new Error(`got ${seen}`);
 * }
 * ```
 */
export interface ContextStorage<T> {
  /** The value of the innermost `run` this call chain is inside, if any. */
  getStore(): T | undefined;
  /** Calls `fn` with `store` as the value for everything it starts. */
  run<R>(store: T, fn: () => R): R;
}

/** What `setTimeout`/`setInterval` return on Deno (a number) or Bun (a Timer object). */
export type TimerHandle = ReturnType<typeof setTimeout>;

// ---------------------------------------------------------------------------
// Files and locks

/** What kind of file a path names. */
export type FileKind = "file" | "fifo";

/** How {@linkcode FileSystemPort.open} opens a file. */
export type OpenMode = "append" | "read" | "readWrite";

/**
 * An open file. Methods reject with the runtime's own error on failure.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * const path = await Deno.makeTempFile();
 * const file = await runtime.files.open(path, "append");
 * await file.write(new TextEncoder().encode("hi\n"));
 * if (await file.size() !== 3) throw new Error("expected 3 bytes");
 * file.close();
 * await Deno.remove(path);
 * ```
 */
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

/**
 * The file operations of one runtime: what collectors and readers need
 * (append whole buffers, read chunks, truncate, advisory locks).
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * if (runtime.files.kindSync("/no/such/file") !== undefined) throw new Error();
 * ```
 */
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
   * reader: a plain open blocks until one comes, keeping the process alive
   * for good. When none comes, the pending open is released (by opening the
   * pipe for reading, then closing both ends) and the promise rejects with
   * an error whose `code` is `"ENXIO"`, as a non-blocking open would. An
   * abort of `options.signal` releases it the same way at once and rejects
   * with the signal's reason.
   */
  openPipeWriter(
    path: string | URL,
    options: PipeOpenOptions,
  ): Promise<FilePort>;
}

/**
 * Options of {@linkcode FileSystemPort.openPipeWriter}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PipeOpenOptions } from "./types.ts";
 * const options: PipeOpenOptions = { waitMs: 1000, signal: AbortSignal.timeout(500) };
 * assert.equal(options.waitMs, 1000);
 * ```
 */
export interface PipeOpenOptions {
  /** How long to wait for a reader, in milliseconds. */
  waitMs: number;
  /** Gives up the wait at once (an export abandoned at its deadline). */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------
// Process lifecycle

/** The signals pss listens for: a polite request to end. */
export type ExitSignal = "SIGINT" | "SIGTERM";

/**
 * The life of the process: its identity, the moments it goes idle or exits,
 * termination signals, and exiting.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * const remove = runtime.process.onExit(() => {});
 * remove();
 * if (runtime.process.pid === undefined) throw new Error("no pid on Deno or Bun");
 * ```
 */
export interface ProcessPort {
  /** The process id, or `undefined` where there is no process (browsers). */
  readonly pid: number | undefined;
  /**
   * The machine's host name, or `undefined` when unknown or not permitted
   * (Deno without `--allow-sys`; never prompts). Never throws.
   */
  hostname(): string | undefined;
  /**
   * Calls `listener` whenever the process has run out of work and is about
   * to exit on its own; when the listener returns `true` it has scheduled
   * work and the process keeps running. Deno: `beforeunload`, which
   * continues only when the event is cancelled (and fires again at once if
   * nothing was scheduled); Bun: `process` `beforeExit`, which continues
   * whenever work was scheduled.
   *
   * @returns The detach function, or `undefined` where the runtime offers
   * no such moment.
   */
  onIdle(listener: () => boolean): (() => void) | undefined;
  /**
   * Calls `listener` synchronously when the process exits (after the event
   * loop ends, or at `exit()`); no asynchronous work runs after it. Never
   * throws.
   *
   * @returns The detach function (a no-op where there is no exit event).
   */
  onExit(listener: () => void): () => void;
  /**
   * Listens for a termination signal. While at least one listener is
   * attached the runtime no longer ends the process on that signal: the
   * listener decides (usually flush, then {@linkcode ProcessPort.exit}).
   * Where signals do not exist (browsers, Windows for SIGTERM) nothing is
   * attached.
   *
   * @returns The detach function; calling it twice is harmless.
   */
  addSignalListener(signal: ExitSignal, listener: () => void): () => void;
  /**
   * Ends the process with `code` (where there is no process, throws).
   */
  exit(code: number): never;
}

// ---------------------------------------------------------------------------
// Environment and configuration files

/** What reading a file gave. */
export type FileRead =
  /** The file's text (UTF-8, a leading byte-order mark removed). */
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
 * import { runtime } from "./adapter.ts";
 * const read = await runtime.env.readTextFile("/no/such/pss.json");
 * if (read.kind !== "missing" && read.kind !== "denied") throw new Error(read.kind);
 * ```
 */
export interface EnvironmentPort {
  /** The current working directory, or `undefined` when it cannot be read. */
  cwd(): string | undefined;
  /** Reads a UTF-8 text file (a leading byte-order mark is dropped). */
  readTextFile(path: string): Promise<FileRead>;
  /** Reads one environment variable. */
  env(name: string): EnvRead;
  /**
   * The names of all environment variables, or `undefined` when they cannot
   * be listed (Deno without a blanket `--allow-env`; browsers).
   */
  envNames(): readonly string[] | undefined;
}

// ---------------------------------------------------------------------------
// Command-line I/O

/**
 * What the CLI needs from the process it runs in, apart from arguments and
 * exit: a value tests can build in memory.
 *
 * @example Run the CLI in memory
 * ```ts
 * import { type CliIo, runCli } from "@pss/pss/cli";
 * let out = "";
 * const io: CliIo = {
 *   stdout: (text) => Promise.resolve(void (out += text)),
 *   stderr: () => Promise.resolve(),
 *   stdin: async function* () { yield new TextEncoder().encode('{"name":"op","duration":0.1}\n'); },
 *   readTextFile: () => Promise.reject(new Error("no files here")),
 *   writeTextFile: () => Promise.reject(new Error("no files here")),
 * };
 * const code = await runCli(["score", "-", "--format", "json"], io);
 * if (code !== 0 || JSON.parse(out).pss !== 100) throw new Error(out);
 * ```
 */
export interface CliIo {
  /** Writes all of `text` to standard output. */
  stdout(text: string): Promise<void>;
  /** Writes all of `text` to standard error. */
  stderr(text: string): Promise<void>;
  /** Standard input as a byte stream. */
  stdin(): AsyncIterable<Uint8Array>;
  /** Reads a whole UTF-8 file; rejects with the runtime's error. */
  readTextFile(path: string): Promise<string>;
  /**
   * Writes (creates or replaces) a whole UTF-8 file, creating missing
   * parent directories on every runtime; rejects with the runtime's error.
   */
  writeTextFile(path: string, text: string): Promise<void>;
}

/**
 * The process the CLI runs in: its arguments, its streams and files, and
 * how to exit.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * if (runtime.cli !== undefined && !Array.isArray(runtime.cli.args)) throw new Error();
 * ```
 */
export interface CliProcess extends CliIo {
  /** The arguments after the program (and script) name. */
  readonly args: readonly string[];
  /** Whether a standard stream is a terminal (for colour and progress). */
  isTerminal(stream: "stdin" | "stdout" | "stderr"): boolean;
  /** Ends the process with `code`. */
  exit(code: number): never;
}

// ---------------------------------------------------------------------------
// Serving HTTP

/** A request handler in the web-standard shape (`fetch`-like). */
export type HttpHandler = (
  request: Request,
  info: HttpRequestInfo,
) => Response | Promise<Response>;

/** What the runtime knows about where a request came from. */
export interface HttpRequestInfo {
  /** The peer's IP address, when the runtime tells. */
  readonly remoteAddress: string | undefined;
}

/** Where and how {@linkcode HttpPort.serveHttp} listens. */
export interface ServeHttpOptions {
  /**
   * The interface to bind.
   *
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * The port; 0 picks a free one (read it from {@linkcode HttpServer.port}).
   *
   * @default {0}
   */
  port?: number;
  /** Certificate and key (PEM text) to serve HTTPS instead of HTTP. */
  tls?: { cert: string; key: string };
  /** Called when the handler throws; the client gets a 500. Default: none. */
  onError?: (error: unknown) => void;
}

/** A listening HTTP server. */
export interface HttpServer extends AsyncDisposable {
  /** The address actually bound. */
  readonly hostname: string;
  /** The port actually bound. */
  readonly port: number;
  /** The base URL (`http://` or `https://`, host, port, trailing `/`). */
  readonly url: string;
  /**
   * Stops accepting connections and resolves once the requests in flight
   * have been answered. Idempotent.
   */
  shutdown(): Promise<void>;
}

/**
 * Serving HTTP (for the Connect agent).
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * await using server = await runtime.http.serveHttp(() => new Response("ok"));
 * const text = await (await fetch(server.url)).text();
 * if (text !== "ok") throw new Error(text);
 * ```
 */
export interface HttpPort {
  /**
   * Starts an HTTP/1.1 server (HTTPS with `tls`) on loopback by default.
   *
   * @throws The runtime's error when the address cannot be bound; an
   * `Error` on a runtime that cannot serve.
   */
  serveHttp(
    handler: HttpHandler,
    options?: ServeHttpOptions,
  ): Promise<HttpServer>;
}

// ---------------------------------------------------------------------------
// Benchmarks

/**
 * One benchmark in the object form `Deno.bench` takes. Only the fields pss
 * sets are typed; Deno's own (`group`, `permissions`, `n`, `warmup`, …)
 * travel through unchanged.
 *
 * @example
 * ```ts
 * import type { DenoBenchRegistration } from "./types.ts";
 * const registration: DenoBenchRegistration = { name: "noop", fn: () => {} };
 * if (registration.name !== "noop") throw new Error();
 * ```
 */
export interface DenoBenchRegistration {
  /** Shown in Deno's table. */
  name: string;
  /** The function Deno times; Deno awaits it only when it is an `async function`. */
  // deno-lint-ignore no-explicit-any
  fn: (context: any) => unknown;
  /** Any other field of `Deno.BenchDefinition`. */
  [field: string]: unknown;
}

/**
 * What `@pss/pss/bench` needs from the runtime: registering with
 * `Deno.bench`, running after the module's benchmarks, the process exit code
 * and small synchronous files. Never throws, except `writeTextFileSync`.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * if (!runtime.bench.version.startsWith("deno ")) throw new Error(runtime.bench.version);
 * ```
 */
export interface BenchPort {
  /** The runtime and its version, such as `"deno 2.9.6"` or `"bun 1.4.5"`. */
  readonly version: string;
  /**
   * Whether `registerDenoBench` registers with a real `Deno.bench`; where it
   * does not (Bun, browsers), `@pss/pss/bench` runs benchmarks itself.
   */
  readonly hasDenoBench: boolean;
  /**
   * An id of this benchmark run, the same in every module of it: `deno
   * bench` loads each file in its own isolate of one process, so on Deno the
   * id is shared through the process environment (`PSS_BENCH_RUN`, with the
   * process id, so a child process starts its own run). `undefined` when it
   * cannot be shared (Deno without env access).
   */
  runId(): string | undefined;
  /**
   * Registers a benchmark with `Deno.bench` (a no-op outside `deno bench`).
   *
   * @returns `false` where there is no `Deno.bench` (Bun, browsers).
   */
  registerDenoBench(registration: DenoBenchRegistration): boolean;
  /**
   * Calls `listener` once the module's benchmarks have run: Deno's `unload`
   * event, which `deno bench` dispatches after its table. Unlike
   * `ProcessPort.onExit`, what `listener` throws propagates: under
   * `deno bench` that is the only way a module can fail the run.
   *
   * @returns `false` when the runtime has no such event.
   */
  onBenchEnd(listener: () => void): boolean;
  /**
   * Sets the code the process will exit with, without exiting now.
   * `deno bench` ignores it.
   *
   * @returns `false` where there is no process exit code.
   */
  setExitCode(code: number): boolean;
  /** Reads a UTF-8 file, or `undefined` when it is missing or unreadable. */
  readTextFileSync(path: string): string | undefined;
  /**
   * Writes a UTF-8 file, replacing it.
   *
   * @throws The runtime's own error (no permission, no such directory).
   */
  writeTextFileSync(path: string, text: string): void;
}

// ---------------------------------------------------------------------------
// The whole runtime

/**
 * Measurements and services of one runtime. Every probe returns `undefined`
 * when the runtime cannot measure (never a made-up number), and never throws.
 *
 * @example
 * ```ts
 * import { runtime } from "./adapter.ts";
 * const rss = runtime.rssBytes();
 * if (runtime.name !== "web" && !(rss! > 0)) throw new Error(`rss ${rss}`);
 * ```
 */
export interface RuntimeAdapter {
  /** Which runtime this adapter serves. */
  readonly name: RuntimeName;

  // Clock and memory.
  /** Resident set size of the process in bytes (a system call: microseconds). */
  rssBytes(): number | undefined;
  /**
   * CPU time of the whole process (user + system, every thread, including
   * the garbage collector's and compiler's) in seconds since it started.
   */
  cpuTimeSeconds(): number | undefined;
  /** Bytes of JavaScript heap in use. */
  heapUsedBytes(): number | undefined;
  /**
   * Runs a full garbage collection if the runtime lets this process ask for
   * one (Deno: only with `--v8-flags=--expose-gc`; Bun: always).
   *
   * @returns Whether a collection ran.
   */
  collectGarbage(): boolean;
  /**
   * A new async-context storage (`AsyncLocalStorage`), or `undefined` when
   * the runtime has none.
   */
  createContextStorage<T>(): ContextStorage<T> | undefined;
  /**
   * Lets the process exit even while `handle` is pending (`Deno.unrefTimer`
   * on Deno, the timer's `unref()` on Bun; a no-op elsewhere). Never throws.
   *
   * @returns The same handle.
   */
  unrefTimer<T extends TimerHandle>(handle: T): T;

  /**
   * The command-line flag that would have granted what `error` says was
   * denied (`"--allow-read"`, `"--allow-net"`, …), or `undefined` when
   * `error` is not a permission error of this runtime (Bun has none).
   */
  missingPermission(error: unknown): string | undefined;

  /**
   * Whether a module worker can be started from `url` here: `false` when
   * the runtime has no `Worker`, or would refuse to load the module (Deno
   * without read access to a local file). Never prompts, never throws.
   */
  canStartWorker(url: string): boolean;

  /** Files and locks. */
  readonly files: FileSystemPort;
  /** Process lifecycle: exit hooks, signals, exit, pid and host name. */
  readonly process: ProcessPort;
  /** Environment variables and configuration files. */
  readonly env: EnvironmentPort;
  /** Command-line I/O, or `undefined` where there is no process (browsers). */
  readonly cli: CliProcess | undefined;
  /** Serving HTTP. */
  readonly http: HttpPort;
  /** Benchmarks (`@pss/pss/bench`). */
  readonly bench: BenchPort;
}
