/**
 * The adapter for other runtimes (browsers, workers, edge runtimes): only
 * web-standard APIs. Nothing about the process is measurable portably, so
 * every probe says so with `undefined`; there are no files, environment,
 * signals or command line, and what needs them fails with a clear error.
 *
 * @module
 */

import type {
  BenchPort,
  EnvironmentPort,
  FileSystemPort,
  HttpPort,
  ProcessPort,
  RuntimeAdapter,
  TimerHandle,
} from "./types.ts";
import { processIdPrefix } from "../_id.ts";

const UNSUPPORTED = "pss needs Deno or Bun for this";

function unsupported(what: string): Error {
  return new Error(`${UNSUPPORTED}: ${what} is not available on this runtime`);
}

const files: FileSystemPort = {
  locking: "none",
  prepareAppendSync(): never {
    throw unsupported("writing files");
  },
  kindSync(): never {
    throw unsupported("reading files");
  },
  identity(): Promise<never> {
    return Promise.reject(unsupported("reading files"));
  },
  open(): Promise<never> {
    return Promise.reject(unsupported("opening files"));
  },
  openPipeWriter(): Promise<never> {
    return Promise.reject(unsupported("opening files"));
  },
};

const process: ProcessPort = {
  pid: undefined,
  hostname: (): undefined => undefined,
  onIdle: (): undefined => undefined,
  onExit: (): () => void => () => {},
  addSignalListener: (): () => void => () => {},
  exit(): never {
    throw unsupported("exiting the process");
  },
};

const env: EnvironmentPort = {
  cwd: (): undefined => undefined,
  readTextFile: (path) =>
    Promise.resolve({
      kind: "denied",
      reason: `this runtime has no file access (reading ${path})`,
    }),
  env: (name) => ({
    kind: "denied",
    reason: `this runtime has no environment variables (reading ${name})`,
  }),
  envNames: (): undefined => undefined,
};

const http: HttpPort = {
  serveHttp: (): Promise<never> => Promise.reject(unsupported("serving HTTP")),
};

const bench: BenchPort = {
  version: "web",
  hasDenoBench: false,
  runId: (): string => processIdPrefix(),
  registerDenoBench: (): boolean => false,
  onBenchEnd(listener: () => void): boolean {
    const host = globalThis as {
      addEventListener?(type: string, listener: () => void): void;
    };
    if (typeof host.addEventListener !== "function") return false;
    host.addEventListener("pagehide", listener);
    return true;
  },
  setExitCode: (): boolean => false,
  readTextFileSync: (): undefined => undefined,
  writeTextFileSync(): never {
    throw unsupported("writing files");
  },
};

/**
 * Creates the portable adapter: no RSS, no CPU time, no heap size, no
 * async context, no files or process.
 *
 * @returns The web adapter.
 *
 * @example
 * ```ts
 * import { createRuntime } from "./web.ts";
 * const web = createRuntime();
 * if (web.rssBytes() !== undefined || web.cli !== undefined) throw new Error();
 * ```
 */
export function createRuntime(): RuntimeAdapter {
  return {
    name: "web",
    rssBytes: (): number | undefined => undefined,
    cpuTimeSeconds: (): number | undefined => undefined,
    heapUsedBytes: (): number | undefined => undefined,
    collectGarbage: (): boolean => false,
    createContextStorage: (): undefined => undefined,
    unrefTimer: <T extends TimerHandle>(handle: T): T => handle,
    missingPermission: (): undefined => undefined,
    canStartWorker: (): boolean => typeof Worker === "function",
    files,
    process,
    env,
    cli: undefined,
    http,
    bench,
  };
}
