/**
 * The benchmark port: what `@pss/pss/bench` needs from the runtime
 * (registering with `Deno.bench`, hearing the module unload, setting the
 * process exit code, synchronous text files, the process id), one small
 * implementation per runtime, chosen once at load.
 *
 * @module
 */

import { nodeProcess } from "./_node.ts";

/**
 * One benchmark in the object form `Deno.bench` takes. Only the fields pss
 * passes on are typed; Deno's own fields (`permissions`, `n`, `warmup`,
 * `sanitizeExit`) travel through unchanged.
 *
 * @example
 * ```ts
 * import type { DenoBenchRegistration } from "./bench.ts";
 * const registration: DenoBenchRegistration = { name: "noop", fn: () => {} };
 * console.log(registration.name); // "noop"
 * ```
 */
export interface DenoBenchRegistration {
  /** Shown in Deno's table. */
  name: string;
  /** The function Deno times. Deno awaits it only when it is an `async function`. */
  // deno-lint-ignore no-explicit-any
  fn: (context: any) => unknown;
  /** Any other field of `Deno.BenchDefinition`. */
  [field: string]: unknown;
}

/**
 * What benchmarks need from the runtime. Never throws: every method reports
 * with its return value whether the runtime could do it.
 *
 * @example
 * ```ts
 * import { benchPort } from "./bench.ts";
 * console.log(benchPort.runtime); // "deno 2.9.6"
 * ```
 */
export interface BenchPort {
  /** The runtime and its version, such as `"deno 2.9.6"` or `"bun 1.4.5"`. */
  readonly runtime: string;
  /** The id of this process, or `undefined` where there is none. */
  readonly pid: number | undefined;
  /**
   * Registers a benchmark with `Deno.bench`.
   *
   * @returns `false` where there is no `Deno.bench` (Bun, browsers).
   */
  registerDenoBench(registration: DenoBenchRegistration): boolean;
  /**
   * Calls `listener` when the main module unloads (Deno: the `unload`
   * event, which `deno bench` dispatches after its table; elsewhere the
   * process `exit` event).
   *
   * @returns `false` when the runtime has no such event.
   */
  onUnload(listener: () => void): boolean;
  /**
   * Sets the exit code the process ends with, without ending it now.
   * `deno bench` ignores it: a bench module fails there only by throwing.
   *
   * @returns `false` when the runtime has no process exit code.
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

interface DenoApi {
  bench?(registration: DenoBenchRegistration): void;
  version?: { deno?: string };
  pid?: number;
  exitCode?: number;
  readTextFileSync?(path: string): string;
  writeTextFileSync?(path: string, text: string): void;
}

interface NodeFs {
  readFileSync(path: string, encoding: "utf8"): string;
  writeFileSync(path: string, text: string): void;
}

interface EventHost {
  addEventListener?(type: string, listener: () => void): void;
}

/**
 * The port for Deno. Call only on Deno (`"Deno" in globalThis`).
 *
 * @returns The Deno port.
 *
 * @example
 * ```ts
 * import { createDenoBenchPort } from "./bench.ts";
 * if ("Deno" in globalThis) console.log(createDenoBenchPort().runtime);
 * ```
 */
export function createDenoBenchPort(): BenchPort {
  const deno = (globalThis as unknown as { Deno?: DenoApi }).Deno;
  return {
    runtime: `deno ${deno?.version?.deno ?? "unknown"}`,
    pid: deno?.pid,
    registerDenoBench(registration) {
      if (typeof deno?.bench !== "function") return false;
      deno.bench(registration);
      return true;
    },
    onUnload: (listener) => addUnloadListener("unload", listener),
    setExitCode(code) {
      if (deno === undefined) return false;
      try {
        deno.exitCode = code;
        return true;
      } catch {
        return false;
      }
    },
    readTextFileSync(path) {
      try {
        return deno?.readTextFileSync?.(path);
      } catch {
        return undefined;
      }
    },
    writeTextFileSync(path, text) {
      if (deno?.writeTextFileSync === undefined) {
        throw new Error("Deno.writeTextFileSync is missing");
      }
      deno.writeTextFileSync(path, text);
    },
  };
}

/**
 * The port for Bun (and other runtimes with Node's `process`).
 *
 * @returns The Bun port.
 *
 * @example
 * ```ts
 * import { createBunBenchPort } from "./bench.ts";
 * if ("Bun" in globalThis) console.log(createBunBenchPort().runtime);
 * ```
 */
export function createBunBenchPort(): BenchPort {
  const process = nodeProcess as
    | {
      pid?: number;
      exitCode?: number;
      on?(event: "exit", listener: () => void): void;
      getBuiltinModule?(id: string): unknown;
    }
    | undefined;
  const bun = (globalThis as { Bun?: { version?: string } }).Bun;
  let fs: NodeFs | undefined;
  const nodeFs = (): NodeFs => {
    fs ??= process?.getBuiltinModule?.("node:fs") as NodeFs | undefined;
    if (fs === undefined) throw new Error("node:fs is not available");
    return fs;
  };
  return {
    runtime: `bun ${bun?.version ?? "unknown"}`,
    pid: process?.pid,
    registerDenoBench: () => false,
    onUnload(listener) {
      if (typeof process?.on !== "function") return false;
      process.on("exit", listener);
      return true;
    },
    setExitCode(code) {
      if (process === undefined) return false;
      process.exitCode = code;
      return true;
    },
    readTextFileSync(path) {
      try {
        return nodeFs().readFileSync(path, "utf8");
      } catch {
        return undefined;
      }
    },
    writeTextFileSync(path, text) {
      nodeFs().writeFileSync(path, text);
    },
  };
}

/**
 * The port for other runtimes (browsers, workers): no `Deno.bench`, no exit
 * code, no files; the unload event where the global has one.
 *
 * @returns The web port.
 *
 * @example
 * ```ts
 * import { createWebBenchPort } from "./bench.ts";
 * console.log(createWebBenchPort().setExitCode(1)); // false
 * ```
 */
export function createWebBenchPort(): BenchPort {
  return {
    runtime: "web",
    pid: undefined,
    registerDenoBench: () => false,
    onUnload: (listener) => addUnloadListener("pagehide", listener),
    setExitCode: () => false,
    readTextFileSync: () => undefined,
    writeTextFileSync() {
      throw new Error("this runtime cannot write files");
    },
  };
}

function addUnloadListener(type: string, listener: () => void): boolean {
  const host = globalThis as EventHost;
  if (typeof host.addEventListener !== "function") return false;
  host.addEventListener(type, listener);
  return true;
}

/**
 * The benchmark port of the runtime this process runs on, chosen once at
 * load: Bun first (Bun defines no `Deno`), then Deno, else the web port.
 *
 * @example
 * ```ts
 * import { benchPort } from "./bench.ts";
 * console.log(typeof benchPort.pid); // "number"
 * ```
 */
export const benchPort: BenchPort = "Bun" in globalThis
  ? createBunBenchPort()
  : "Deno" in globalThis
  ? createDenoBenchPort()
  : createWebBenchPort();
