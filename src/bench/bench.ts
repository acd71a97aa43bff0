/**
 * A stability score for every benchmark: `bench()` is a drop-in for
 * `Deno.bench()` that times each call, and `benchStability()` is a small
 * runner for Bun (and any runtime) that does the same without `deno bench`.
 *
 * @module
 */

import { PssConfigError } from "../score/config.ts";
import {
  checkKnownKeys,
  positiveInteger,
  positiveNumber,
} from "../_options.ts";
import { messageOf } from "../_message.ts";
import { runtime } from "../runtime/adapter.ts";
import {
  type BenchContextLike,
  BenchRecorder,
  isAsyncFunction,
  measureClockCost,
  recordCalls,
  type RecorderSettings,
} from "./_recorder.ts";
import {
  type BenchStabilityJson,
  type BenchStabilityRow,
  compareRows,
  formatTable,
  summarize,
} from "./report.ts";

/**
 * The context a benchmark function receives: `Deno.BenchContext`'s shape.
 * `start()` and `end()` narrow the measured part of a call; pss honours them
 * for every call (Deno ignores them for benchmarks under about 10 µs).
 *
 * @example
 * ```ts
 * import { bench, type BenchContext } from "@pss/pss/bench";
 * bench("sort 1,000 numbers", (b: BenchContext) => {
 *   const data = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
 *   b.start();
 *   data.sort((x, y) => x - y);
 *   b.end();
 * }); // registers it with deno bench or bun (no result to check)
 * ```
 */
export interface BenchContext {
  /** The benchmark's name. */
  readonly name: string;
  /** The module it was defined in (`""` outside `deno bench`). */
  readonly origin: string;
  /** Starts the measured section of this call. */
  start(): void;
  /** Ends the measured section of this call. */
  end(): void;
}

/**
 * A benchmark function. Only an `async function` is awaited (as in
 * `deno bench`); a plain function is timed until it returns.
 *
 * @example
 * ```ts
 * import { bench, type BenchFunction } from "@pss/pss/bench";
 * const parse: BenchFunction = () => {
 *   new URL("https://example.com/a/b?c=d");
 * };
 * bench("parse a URL", parse); // registers it with deno bench or bun (no result to check)
 * ```
 */
export type BenchFunction = (b: BenchContext) => void | Promise<void>;

/**
 * A benchmark in object form, the fields of `Deno.BenchDefinition`. On
 * Deno they all go to `Deno.bench` unchanged.
 *
 * @example
 * ```ts
 * import { bench, type BenchDefinition } from "@pss/pss/bench";
 * const definition: BenchDefinition = {
 *   name: "JSON round trip",
 *   group: "json",
 *   baseline: true,
 *   fn() {
 *     JSON.parse(JSON.stringify({ a: [1, 2, 3] }));
 *   },
 * };
 * bench(definition); // registers it with deno bench or bun (no result to check)
 * ```
 */
export interface BenchDefinition {
  /** The name; defaults to the function's name. */
  name?: string;
  /** The measured function. */
  fn: BenchFunction;
  /** Benchmarks compared with each other in Deno's table. @default {none} */
  group?: string;
  /** The group's floor in Deno's table. @default {false} */
  baseline?: boolean;
  /** Skip this benchmark. @default {false} */
  ignore?: boolean;
  /** Run only the benchmarks marked `only`. @default {false} */
  only?: boolean;
  /** Deno's permissions for this benchmark. @default {"inherit"} */
  permissions?: "inherit" | "none" | BenchPermissions;
  /** Deno: measured iterations at least. @default {10} */
  n?: number;
  /** Deno: warm-up iterations; pss sets at least as many aside. @default {none} */
  warmup?: number;
  /** Deno: fail a benchmark that calls `Deno.exit`. @default {true} */
  sanitizeExit?: boolean;
}

/**
 * The permissions of one benchmark in object form: the fields of
 * `Deno.PermissionOptionsObject`, written out here so that the module
 * type-checks where Deno's types are absent (Bun, browsers) and still takes
 * Deno's own type (an interface without an index signature, which a
 * `Record<string, unknown>` would refuse).
 *
 * @example
 * ```ts
 * import { bench, type BenchPermissions } from "@pss/pss/bench";
 * const permissions: BenchPermissions = { read: ["./data"], net: false };
 * bench({ name: "read nothing", permissions, fn: () => {} }); // registers it with deno bench or bun (no result to check)
 * ```
 */
export interface BenchPermissions {
  /** Environment variables. @default {"inherit"} */
  env?: "inherit" | boolean | string[];
  /** Foreign libraries. @default {"inherit"} */
  ffi?: "inherit" | boolean | Array<string | URL>;
  /** Modules imported at run time. @default {"inherit"} */
  import?: "inherit" | boolean | string[];
  /** Network hosts. @default {"inherit"} */
  net?: "inherit" | boolean | string[];
  /** Paths read. @default {"inherit"} */
  read?: "inherit" | boolean | Array<string | URL>;
  /** Programs run. @default {"inherit"} */
  run?: "inherit" | boolean | Array<string | URL>;
  /** System information. @default {"inherit"} */
  sys?: "inherit" | boolean | string[];
  /** Paths written. @default {"inherit"} */
  write?: "inherit" | boolean | Array<string | URL>;
}

/**
 * How every benchmark of this module is recorded, and the gate. Environment
 * variables, when set, win over these (CI sets them).
 *
 * @example
 * ```ts
 * import { type BenchStabilityOptions, configureBench } from "@pss/pss/bench";
 * import assert from "node:assert/strict";
 * const options: BenchStabilityOptions = { failUnder: 85, reservoirSize: 4096 };
 * configureBench(options);
 * assert.throws(() => configureBench({ failUnder: 101 }), /failUnder/);
 * ```
 */
export interface BenchStabilityOptions {
  /**
   * Fail the run when a scored benchmark's PSS is below this (0–100).
   * `PSS_BENCH_FAIL_UNDER` overrides it. @default {no gate}
   */
  failUnder?: number;
  /**
   * Write the table as JSON ({@linkcode BenchStabilityJson}) to this path.
   * `PSS_BENCH_JSON` overrides it. @default {no file}
   */
  jsonPath?: string;
  /** Durations kept per benchmark (a uniform reservoir). @default {10000} */
  reservoirSize?: number;
  /**
   * Calls set aside as warm-up, at least; a benchmark's own `warmup`, when
   * larger, wins. @default {3}
   */
  warmupCalls?: number;
  /** Milliseconds of calls set aside as warm-up, at least. @default {10} */
  warmupMs?: number;
  /**
   * A call must take this many times the cost of one timing to be timed
   * and scored; faster ones are flagged clock-bound. @default {20}
   */
  clockFactor?: number;
  /**
   * Leave out of the score the kept calls longer than this many times the
   * 99th percentile of the kept calls (at least 1; from 100 kept calls on),
   * and count them in the row's `outliers`. So at most 1 % of the calls are
   * left out, however the factor is set. Meant for benchmarks of a few
   * microseconds, where one preemption of the process (milliseconds) among
   * thousands of calls puts the CV above 10 and Timing Stability at 0: the
   * score then says how steady the benchmark is between interruptions, and
   * the count how often it was interrupted. The formula is unchanged; only
   * what it is given.
   * @default {none: every kept call is scored}
   */
  outlierFactor?: number;
  /**
   * Where the table goes. Under `deno bench` the default is standard error,
   * so that `deno bench --json` stays valid JSON on standard output; with
   * `benchStability()` it is standard output.
   * @default {console.error under deno bench, else console.log}
   */
  print?: (text: string) => void;
}

/**
 * Options of {@linkcode benchStability}: the benchmark's fields and how long
 * the runner measures it.
 *
 * @example
 * ```ts
 * import { benchStability, type BenchStabilityRunOptions } from "@pss/pss/bench";
 * import assert from "node:assert/strict";
 * const options: BenchStabilityRunOptions = { group: "hash", budgetMs: 100 };
 * const row = await benchStability("hash a string", () => {
 *   let h = 0;
 *   for (const c of "stability") h = (h * 31 + c.charCodeAt(0)) | 0;
 * }, options);
 * assert.equal(row?.group, "hash");
 * ```
 */
export interface BenchStabilityRunOptions {
  /** Shown before the name. @default {none} */
  group?: string;
  /** Skip this benchmark. @default {false} */
  ignore?: boolean;
  /** Run only the benchmarks marked `only`. @default {false} */
  only?: boolean;
  /** Milliseconds of measured calls, at least. @default {500} */
  budgetMs?: number;
  /** Measured calls, at least. @default {10} */
  minCalls?: number;
  /** Measured calls, at most. @default {10000000} */
  maxCalls?: number;
  /** Warm-up calls, at least. @default {3} */
  warmup?: number;
}

/**
 * Thrown from the module's unload under `deno bench` when benchmarks score
 * below the gate: `deno bench` lets a module fail only by throwing, and
 * then exits with code 1. The message names them.
 *
 * @example
 * ```ts
 * import { PssBenchGateError } from "@pss/pss/bench";
 * import assert from "node:assert/strict";
 * const error = new PssBenchGateError(["jittery"], 85);
 * assert.equal(error.message, "1 benchmark below PSS 85: jittery");
 * ```
 */
export class PssBenchGateError extends Error {
  /** The benchmarks below the gate. */
  readonly benchmarks: readonly string[];
  /** The gate. */
  readonly failUnder: number;

  /**
   * Creates the error.
   *
   * @param benchmarks The names below the gate.
   * @param failUnder The gate.
   */
  constructor(benchmarks: readonly string[], failUnder: number) {
    super(
      `${benchmarks.length} benchmark${
        benchmarks.length === 1 ? "" : "s"
      } below PSS ${failUnder}: ${benchmarks.join(", ")}`,
    );
    this.name = "PssBenchGateError";
    this.benchmarks = benchmarks;
    this.failUnder = failUnder;
  }
}

const OPTION_KEYS = [
  "failUnder",
  "jsonPath",
  "reservoirSize",
  "warmupCalls",
  "warmupMs",
  "clockFactor",
  "outlierFactor",
  "print",
];
const RUN_OPTION_KEYS = [
  "group",
  "ignore",
  "only",
  "budgetMs",
  "minCalls",
  "maxCalls",
  "warmup",
];

/** The environment variable of the gate. */
const FAIL_UNDER_ENV = "PSS_BENCH_FAIL_UNDER";
/** The environment variable of the JSON file. */
const JSON_ENV = "PSS_BENCH_JSON";

/** Everything one module's benchmarks share. */
interface Session {
  options:
    & Required<
      Omit<
        BenchStabilityOptions,
        "failUnder" | "jsonPath" | "print" | "outlierFactor"
      >
    >
    & {
      failUnder: number | undefined;
      jsonPath: string | undefined;
      outlierFactor: number | undefined;
      print: ((text: string) => void) | undefined;
    };
  clockCostMs: number;
  recorders: BenchRecorder[];
  /** The environment variables that could not be read (no permission). */
  unreadable: readonly string[];
  unloadHooked: boolean;
}

let session: Session | undefined;
let configured: BenchStabilityOptions = {};

function checkFailUnder(value: unknown, source?: string): number {
  const number = typeof value === "string" && value.trim() !== ""
    ? Number(value)
    : value;
  if (typeof number !== "number" || !(number >= 0 && number <= 100)) {
    throw new PssConfigError(
      "failUnder",
      value,
      "'failUnder' must be a number from 0 to 100",
      source,
    );
  }
  return number;
}

/**
 * Sets how this module's benchmarks are recorded and gated. Call it before
 * the first `bench()`: recording settings apply to benchmarks registered
 * after it.
 *
 * @param options See {@linkcode BenchStabilityOptions}.
 * @throws {PssConfigError} For an unknown option or a value out of range.
 *
 * @example
 * ```ts
 * import { bench, configureBench } from "@pss/pss/bench";
 * import assert from "node:assert/strict";
 * configureBench({ failUnder: 80 });
 * bench("join strings", () => {
 *   ["a", "b", "c"].join("-");
 * });
 * assert.throws(() => configureBench({ failUnder: "80" as unknown as number }), /a number from 0 to 100/);
 * ```
 */
export function configureBench(options: BenchStabilityOptions): void {
  checkKnownKeys("configureBench", options, OPTION_KEYS);
  const owner = "configureBench";
  if (options.failUnder !== undefined) {
    if (typeof options.failUnder !== "number") {
      throw new PssConfigError(
        "failUnder",
        options.failUnder,
        "'failUnder' must be a number from 0 to 100",
      );
    }
    checkFailUnder(options.failUnder);
  }
  if (options.jsonPath !== undefined && typeof options.jsonPath !== "string") {
    throw new PssConfigError(
      "jsonPath",
      options.jsonPath,
      "configureBench's 'jsonPath' must be a string",
    );
  }
  if (options.reservoirSize !== undefined) {
    positiveInteger(owner, "reservoirSize", options.reservoirSize);
  }
  if (options.warmupCalls !== undefined) {
    positiveInteger(owner, "warmupCalls", options.warmupCalls);
  }
  if (options.warmupMs !== undefined) {
    positiveNumber(owner, "warmupMs", options.warmupMs);
  }
  if (options.clockFactor !== undefined) {
    positiveNumber(owner, "clockFactor", options.clockFactor);
  }
  if (
    options.outlierFactor !== undefined &&
    !(positiveNumber(owner, "outlierFactor", options.outlierFactor) >= 1)
  ) {
    throw new PssConfigError(
      "outlierFactor",
      options.outlierFactor,
      `${owner}'s 'outlierFactor' must be a number of at least 1`,
    );
  }
  if (options.print !== undefined && typeof options.print !== "function") {
    throw new PssConfigError(
      "print",
      options.print,
      "configureBench's 'print' must be a function",
    );
  }
  configured = { ...configured, ...options };
  if (session !== undefined) {
    session.options = resolveOptions().options;
  }
}

function resolveOptions(): Pick<Session, "options" | "unreadable"> {
  const unreadable: string[] = [];
  const read = (name: string): string | undefined => {
    const result = runtime.env.env(name);
    if (result.kind === "denied") unreadable.push(name);
    return result.kind === "value" && result.value.trim() !== ""
      ? result.value.trim()
      : undefined;
  };
  let failUnder = configured.failUnder;
  const gate = read(FAIL_UNDER_ENV);
  if (gate !== undefined) {
    failUnder = checkFailUnder(gate, `environment variable ${FAIL_UNDER_ENV}`);
  }
  const jsonPath = read(JSON_ENV) ?? configured.jsonPath;
  return {
    options: {
      failUnder,
      jsonPath,
      reservoirSize: configured.reservoirSize ?? 10_000,
      warmupCalls: configured.warmupCalls ?? 3,
      warmupMs: configured.warmupMs ?? 10,
      clockFactor: configured.clockFactor ?? 20,
      outlierFactor: configured.outlierFactor,
      print: configured.print,
    },
    unreadable,
  };
}

function currentSession(): Session {
  if (session === undefined) {
    const resolved = resolveOptions();
    session = {
      ...resolved,
      clockCostMs: measureClockCost(),
      recorders: [],
      unloadHooked: false,
    };
  }
  return session;
}

function newRecorder(
  name: string,
  group: string | undefined,
  warmup: number | undefined,
): BenchRecorder {
  const current = currentSession();
  const { options } = current;
  const settings: RecorderSettings = {
    reservoirSize: options.reservoirSize,
    warmupCalls: Math.max(warmup ?? 0, options.warmupCalls),
    warmupMs: options.warmupMs,
    clockFactor: options.clockFactor,
    clockCostMs: current.clockCostMs,
  };
  const recorder = new BenchRecorder(
    name,
    group,
    settings,
    0x9e3779b9 ^ current.recorders.length,
  );
  current.recorders.push(recorder);
  return recorder;
}

/** The rows of the given recordings, sorted, as the JSON document. */
function tableOf(
  current: Session,
  recorders: readonly BenchRecorder[],
  meanNs?: ReadonlyMap<BenchRecorder, number>,
): BenchStabilityJson {
  const { failUnder, outlierFactor } = current.options;
  const cwd = runtime.env.cwd();
  const rows: BenchStabilityRow[] = [];
  for (const recorder of recorders) {
    if (
      recorder.warmupCalls === 0 && recorder.passCalls === 0 &&
      recorder.errors === 0
    ) continue; // never run: filtered out, ignored, or not `only`
    const row = summarize(recorder, { failUnder, outlierFactor });
    if (row.file !== null) row.file = projectPath(row.file, cwd);
    const batchMean = meanNs?.get(recorder);
    if (row.meanNs === null && batchMean !== undefined) row.meanNs = batchMean;
    rows.push(row);
  }
  rows.sort(compareRows);
  return {
    format: "pss-bench",
    version: 1,
    runtime: runtime.bench.version,
    runId: runtime.bench.runId() ?? null,
    pid: runtime.process.pid ?? null,
    clockCostNs: Math.round(current.clockCostMs * 1e7) / 10,
    clockFactor: current.options.clockFactor,
    reservoirSize: current.options.reservoirSize,
    warmupCalls: current.options.warmupCalls,
    warmupMs: current.options.warmupMs,
    outlierFactor: outlierFactor ?? null,
    failUnder: failUnder ?? null,
    belowGate: rows.filter((row) => row.belowGate).map(label),
    benchmarks: rows,
  };
}

/**
 * A module's URL as a path relative to the working directory (`deno bench`
 * is run from the project's root), so that two checkouts of a project in
 * different directories name the same benchmark the same way in their
 * JSON files. A module outside the directory, or an unreadable directory,
 * keeps its URL.
 */
function projectPath(origin: string, cwd: string | undefined): string {
  if (cwd === undefined || !origin.startsWith("file://")) return origin;
  let root = cwd.replaceAll("\\", "/");
  if (!root.startsWith("/")) root = `/${root}`; // a Windows drive: /C:/…
  if (!root.endsWith("/")) root += "/";
  let path: string;
  try {
    path = decodeURIComponent(new URL(origin).pathname);
  } catch {
    return origin;
  }
  return path.startsWith(root) ? path.slice(root.length) : origin;
}

function label(row: BenchStabilityRow): string {
  return row.group === null ? row.name : `${row.group} › ${row.name}`;
}

function rowKey(row: BenchStabilityRow): string {
  return JSON.stringify([row.file, row.group, row.name]);
}

/**
 * Writes `json` to `path`; rows of an earlier module of the same run
 * (`deno bench` runs each file in its own isolate) are kept. Returns why
 * the file could not be written, if it could not.
 */
function writeJson(path: string, json: BenchStabilityJson): string | undefined {
  let document = json;
  const previous = runtime.bench.readTextFileSync(path);
  if (previous !== undefined && json.runId !== null) {
    try {
      const old = JSON.parse(previous) as Partial<BenchStabilityJson>;
      if (
        old.format === "pss-bench" && old.runId === json.runId &&
        Array.isArray(old.benchmarks)
      ) {
        const fresh = new Set(json.benchmarks.map(rowKey));
        const rows = [
          ...old.benchmarks.filter((row) => !fresh.has(rowKey(row))),
          ...json.benchmarks,
        ].sort(compareRows);
        document = {
          ...json,
          belowGate: rows.filter((row) => row.belowGate).map(label),
          benchmarks: rows,
        };
      }
    } catch {
      // Not ours or not JSON: replaced below.
    }
  }
  try {
    runtime.bench.writeTextFileSync(
      path,
      `${JSON.stringify(document, null, 2)}\n`,
    );
    return undefined;
  } catch (error) {
    return `could not write the JSON file ${path}: ${messageOf(error)}`;
  }
}

/** What a run came to: the benchmarks below the gate, and what failed. */
interface Outcome {
  below: readonly string[];
  /** Why the JSON file could not be written, if it could not. */
  writeFailure: string | undefined;
}

/**
 * Lines on what the run could not do because the environment could not be
 * read (Deno without `--allow-env`): unreadable variables are not ignored
 * silently. Whether one is set cannot be known without the permission.
 */
function envLines(current: Session, json: BenchStabilityJson): string[] {
  const lines: string[] = [];
  const unreadable = new Set(current.unreadable);
  const hint = "run with --allow-env";
  if (unreadable.has(FAIL_UNDER_ENV)) {
    lines.push(
      json.failUnder === null
        ? `pss gate: NOT APPLIED, ${FAIL_UNDER_ENV} could not be read (${hint})`
        : `pss: ${FAIL_UNDER_ENV} could not be read (${hint}); the gate of configureBench() applied`,
    );
  }
  if (unreadable.has(JSON_ENV)) {
    lines.push(
      current.options.jsonPath === undefined
        ? `pss: ${JSON_ENV} could not be read (${hint}); no JSON file written`
        : `pss: ${JSON_ENV} could not be read (${hint}); the JSON path of configureBench() applied`,
    );
  }
  if (current.options.jsonPath !== undefined && json.runId === null) {
    lines.push(
      `pss: the rows of this run's other bench files are not merged into ${current.options.jsonPath} (${hint})`,
    );
  }
  return lines;
}

/** Prints the table and writes the JSON. */
function report(
  current: Session,
  json: BenchStabilityJson,
  print: (text: string) => void,
): Outcome {
  if (json.benchmarks.length === 0) {
    return { below: [], writeFailure: undefined };
  }
  const lines = [formatTable(json), ...envLines(current, json)];
  const path = current.options.jsonPath;
  const writeFailure = path === undefined ? undefined : writeJson(path, json);
  if (path !== undefined) {
    lines.push(
      writeFailure === undefined
        ? `pss: wrote ${path}`
        : `pss: FAILED, ${writeFailure}`,
    );
  }
  (current.options.print ?? print)(lines.join("\n"));
  return { below: json.belowGate, writeFailure };
}

/** Blocks the thread for `ms` without spinning (Atomics.wait), best effort. */
function pause(ms: number): void {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  } catch {
    // A thread that may not block (a browser's main thread): no pause.
  }
}

/** Under `deno bench`: the table after Deno's, then the gate. */
function finishDenoBench(): void {
  const current = session;
  if (current === undefined) return;
  const json = tableOf(current, current.recorders);
  if (json.benchmarks.length === 0) return;
  // `deno bench` prints its rows from another thread; the unload event can
  // run before the last row is out. A short pause keeps the tables apart.
  pause(30);
  const { below, writeFailure } = report(
    current,
    json,
    (text) => console.error(text),
  );
  let error: Error | undefined;
  if (below.length > 0 && json.failUnder !== null) {
    error = new PssBenchGateError(below, json.failUnder);
    if (writeFailure !== undefined) error.message += `; ${writeFailure}`;
  } else if (writeFailure !== undefined) {
    // A CI job that asked for the file must not pass without it.
    error = new Error(writeFailure);
  }
  if (error !== undefined) {
    // Deno prints the stack; the message is all there is to say.
    error.stack = `${error.name}: ${error.message}`;
    throw error;
  }
}

type NameOrDefinition =
  | string
  | BenchFunction
  | BenchDefinition
  | Omit<BenchDefinition, "fn">
  | Omit<BenchDefinition, "fn" | "name">;

/** Normalises `Deno.bench`'s six call forms, with Deno's own errors. */
function normalize(
  first: NameOrDefinition,
  second: unknown,
  third: unknown,
): BenchDefinition {
  if (typeof first === "string") {
    if (first === "") throw new TypeError("The bench name can't be empty");
    if (typeof second === "function") {
      return { name: first, fn: second as BenchFunction };
    }
    if (typeof third !== "function") {
      throw new TypeError("Missing bench function");
    }
    const options = (second ?? {}) as Partial<BenchDefinition>;
    if (options.fn !== undefined) {
      throw new TypeError(
        "Unexpected 'fn' field in options, bench function is already provided as the third argument",
      );
    }
    if (options.name !== undefined) {
      throw new TypeError(
        "Unexpected 'name' field in options, bench name is already provided as the first argument",
      );
    }
    return { ...options, name: first, fn: third as BenchFunction };
  }
  if (typeof first === "function") {
    if (first.name === "") {
      throw new TypeError("The bench function must have a name");
    }
    if (second !== undefined) {
      throw new TypeError("Unexpected second argument to bench()");
    }
    return { name: first.name, fn: first };
  }
  if (first === null || typeof first !== "object") {
    throw new TypeError("Expected a bench name, function or definition");
  }
  const options = first as Partial<BenchDefinition>;
  let fn: BenchFunction;
  if (typeof second === "function") {
    if (options.fn !== undefined) {
      throw new TypeError(
        "Unexpected 'fn' field in options, bench function is already provided as the second argument",
      );
    }
    fn = second as BenchFunction;
  } else {
    if (typeof options.fn !== "function") {
      throw new TypeError(
        "Expected 'fn' field in the first argument to be a bench function",
      );
    }
    fn = options.fn;
  }
  const name = options.name ?? fn.name;
  if (!name) throw new TypeError("The bench name can't be empty");
  return { ...options, name, fn };
}

/**
 * Registers a benchmark with `Deno.bench`, with the same six call forms, and
 * times each of its calls; after `deno bench` has printed its table, pss
 * prints a stability table of this module's benchmarks (PSS, timing
 * stability, CV, p50, p95, p99, p95/p50, max, samples, errors), the most
 * unstable first, then applies the gate (`PSS_BENCH_FAIL_UNDER`) and writes
 * the JSON file (`PSS_BENCH_JSON`).
 *
 * The first calls are warm-up and are not scored: at least 3 (or the
 * benchmark's `warmup`) and at least 10 ms of calls (`deno bench` 2.9 warms
 * up for about 10 ms of calls itself). A benchmark whose calls take less than 20
 * times the cost of timing one (measured at load) is flagged clock-bound:
 * it is counted but no longer timed, so Deno's figures for it stay nearly
 * untouched, and it gets no score.
 *
 * Where there is no `Deno.bench` (Bun, browsers), the benchmark runs with
 * {@linkcode benchStability} instead.
 *
 * @param name The benchmark's name.
 * @param fn The measured function.
 * @throws {TypeError} For the call forms `Deno.bench` rejects.
 *
 * @example
 * ```ts
 * import { bench } from "@pss/pss/bench";
 * // Before: Deno.bench("encode", () => { ... });
 * bench("encode", () => {
 *   new TextEncoder().encode("stability");
 * }); // registers it with deno bench or bun (no result to check)
 * ```
 */
export function bench(name: string, fn: BenchFunction): void;
/**
 * Registers a benchmark given as one definition.
 *
 * @param definition Its name, function and options.
 *
 * @example
 * ```ts
 * import { bench } from "@pss/pss/bench";
 * bench({ name: "slice", group: "copy", fn: () => void [1, 2, 3].slice() }); // registers it with deno bench or bun (no result to check)
 * ```
 */
export function bench(definition: BenchDefinition): void;
/**
 * Registers a named function as a benchmark.
 *
 * @param fn The measured function; its name names the benchmark.
 *
 * @example
 * ```ts
 * import { bench } from "@pss/pss/bench";
 * bench(function spread() {
 *   void [...[1, 2, 3]];
 * }); // registers it with deno bench or bun (no result to check)
 * ```
 */
export function bench(fn: BenchFunction): void;
/**
 * Registers a benchmark with a name, options and a function.
 *
 * @param name The benchmark's name.
 * @param options Its options (no `name`, no `fn`).
 * @param fn The measured function.
 *
 * @example
 * ```ts
 * import { bench } from "@pss/pss/bench";
 * bench("concat", { group: "copy" }, () => void [1].concat([2])); // registers it with deno bench or bun (no result to check)
 * ```
 */
export function bench(
  name: string,
  options: Omit<BenchDefinition, "fn" | "name">,
  fn: BenchFunction,
): void;
/**
 * Registers a benchmark with options (a `name`, or the function's) and a
 * function.
 *
 * @param options Its options (no `fn`).
 * @param fn The measured function.
 *
 * @example
 * ```ts
 * import { bench } from "@pss/pss/bench";
 * bench({ name: "from", group: "copy" }, () => void Array.from([1, 2])); // registers it with deno bench or bun (no result to check)
 * ```
 */
export function bench(
  options: Omit<BenchDefinition, "fn">,
  fn: BenchFunction,
): void;
export function bench(
  first: NameOrDefinition,
  second?: unknown,
  third?: unknown,
): void {
  const definition = normalize(first, second, third);
  const name = definition.name!;
  if (!runtime.bench.hasDenoBench) {
    void benchStability(name, definition.fn, {
      group: definition.group,
      ignore: definition.ignore,
      only: definition.only,
      warmup: definition.warmup,
      minCalls: definition.n,
    });
    return;
  }
  if (definition.ignore === true) {
    runtime.bench.registerDenoBench({ ...definition, name });
    return;
  }
  const recorder = newRecorder(name, definition.group, definition.warmup);
  const current = currentSession();
  const registered = runtime.bench.registerDenoBench({
    ...definition,
    name,
    fn: recordCalls(definition.fn, recorder),
  });
  if (registered && !current.unloadHooked) {
    current.unloadHooked = runtime.bench.onBenchEnd(finishDenoBench);
  }
}

/** One benchmark waiting for the runner. */
interface Queued {
  name: string;
  fn: BenchFunction;
  options: BenchStabilityRunOptions;
  recorder: BenchRecorder;
  resolve: (row: BenchStabilityRow | undefined) => void;
}

let queue: Queued[] = [];
let scheduled = false;

/**
 * Runs a benchmark without `deno bench`, on any runtime (Bun, Deno, a
 * browser): every call is timed as {@linkcode bench} times it, warm-up
 * first (at least 3 calls and 10 ms), then at least `budgetMs` and
 * `minCalls` of measured calls. The benchmarks registered in one turn of
 * the event loop run one after the other once the module has loaded; then
 * one table shows their timings and stability, the JSON file is written,
 * and the process exit code becomes 1 when one scored below the gate or
 * threw. A throw ends its benchmark, as in `deno bench`.
 *
 * @param name The benchmark's name.
 * @param fn The measured function (awaited when it is an `async function`).
 * @param options See {@linkcode BenchStabilityRunOptions}.
 * @returns Its row once it has run; `undefined` when it was skipped.
 * @throws {PssConfigError} For an unknown option or a value out of range.
 *
 * @example
 * ```ts
 * import { benchStability } from "@pss/pss/bench";
 * import assert from "node:assert/strict";
 * const row = await benchStability("build a small object", () => {
 *   void { a: 1, b: [2, 3] };
 * }, { budgetMs: 50 });
 * assert.ok(row !== undefined && row.calls >= 10); // minCalls defaults to 10
 * assert.ok(row.pss === null || (row.pss >= 0 && row.pss <= 100)); // null when clock-bound
 * ```
 */
export function benchStability(
  name: string,
  fn: BenchFunction,
  options: BenchStabilityRunOptions = {},
): Promise<BenchStabilityRow | undefined> {
  const owner = "benchStability";
  if (typeof name !== "string" || name === "") {
    throw new PssConfigError("name", name, "benchStability needs a name");
  }
  if (typeof fn !== "function") {
    throw new PssConfigError(
      "fn",
      fn,
      "benchStability's 'fn' must be a function",
    );
  }
  checkKnownKeys(owner, options, RUN_OPTION_KEYS);
  for (const key of ["budgetMs"] as const) {
    if (options[key] !== undefined) positiveNumber(owner, key, options[key]);
  }
  for (const key of ["minCalls", "maxCalls", "warmup"] as const) {
    if (options[key] !== undefined) positiveInteger(owner, key, options[key]);
  }
  const recorder = newRecorder(name, options.group, options.warmup);
  return new Promise((resolve) => {
    queue.push({ name, fn, options, recorder, resolve });
    if (!scheduled) {
      scheduled = true;
      setTimeout(() => void runQueue(), 0);
    }
  });
}

async function runQueue(): Promise<void> {
  const batch = queue;
  queue = [];
  scheduled = false;
  const current = currentSession();
  const hasOnly = batch.some((item) => item.options.only === true);
  const means = new Map<BenchRecorder, number>();
  let threw = false;
  for (const item of batch) {
    if (item.options.ignore === true || (hasOnly && !item.options.only)) {
      continue;
    }
    const mean = await runOne(item);
    if (mean !== undefined) means.set(item.recorder, mean);
    if (item.recorder.errors > 0) threw = true;
  }
  const json = tableOf(current, batch.map((item) => item.recorder), means);
  const rows = new Map(
    json.benchmarks.map((
      row,
    ) => [row.name + "\u0000" + (row.group ?? ""), row]),
  );
  let outcome: Outcome = { below: [], writeFailure: undefined };
  try {
    outcome = report(current, json, (text) => console.log(text));
  } catch (error) {
    console.warn(
      `pss: could not print the stability table: ${messageOf(error)}`,
    );
  }
  if (
    outcome.below.length > 0 || outcome.writeFailure !== undefined || threw
  ) runtime.bench.setExitCode(1);
  for (const item of batch) {
    item.resolve(rows.get(item.name + "\u0000" + (item.options.group ?? "")));
  }
}

/**
 * Runs one benchmark: warm-up, then measured calls until both the budget
 * and the minimum are reached. Returns the mean ns per measured call when
 * the calls were too fast to time one by one (taken over the whole loop).
 */
async function runOne(item: Queued): Promise<number | undefined> {
  const { recorder, options } = item;
  const budgetMs = options.budgetMs ?? 500;
  const minCalls = options.minCalls ?? 10;
  const maxCalls = options.maxCalls ?? 10_000_000;
  const wrapped = recordCalls(item.fn, recorder);
  const context: BenchContextLike = {
    name: item.name,
    origin: "",
    start() {},
    end() {},
  };
  const awaits = isAsyncFunction(item.fn);
  let measuredFrom = Number.NaN;
  let measured = 0;
  try {
    for (;;) {
      const result = wrapped(context);
      if (awaits) await result;
      if (recorder.phase === "warmup") continue;
      if (measuredFrom !== measuredFrom) {
        measuredFrom = performance.now();
        continue; // the call that ended warm-up is not measured
      }
      measured++;
      if (measured >= maxCalls) break;
      if (measured < minCalls) continue;
      // Reading the clock after every call would double the cost of a
      // clock-bound one; every 256th is enough to stop near the budget.
      if (recorder.phase === "clockBound" && (measured & 255) !== 0) continue;
      if (performance.now() - measuredFrom >= budgetMs) break;
    }
  } catch {
    // Recorded by the wrapper; a throw ends the benchmark, as in Deno.
  }
  if (recorder.phase !== "clockBound" || measured === 0) return undefined;
  return (performance.now() - measuredFrom) / measured * 1e6;
}
