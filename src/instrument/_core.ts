/**
 * The hot path shared by every monitor: sampling, the block object, and
 * turning a finished block into a trace. Internal.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import type { Collector } from "../collect/collector.ts";
import { globalCollector } from "../collect/memory.ts";
import { runtime } from "../runtime/adapter.ts";
import { active, reportError, reportOptionProblem, stats } from "./settings.ts";
import { PssConfigError } from "../score/config.ts";
import { checkKnownKeys, rate } from "../_options.ts";
import { cachedRssBytes } from "./memory_cache.ts";
import { currentTags, tagsInUse } from "./context.ts";
import { captureStack, locate } from "./_source.ts";
import { HOST_NAME, PROCESS_ID } from "./_process.ts";
import { asyncBlockEnded, asyncBlockStarted } from "./loop_monitor.ts";

/**
 * Options of one monitor ({@linkcode monitorBlock}, {@linkcode monitorAsync},
 * {@linkcode monitorFunction}, {@linkcode monitored}).
 *
 * @example
 * ```ts
 * import { type MonitorOptions, MemoryCollector, monitorBlock } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * const options: MonitorOptions = { branchTag: "cache_hit", module: "users", collector };
 * { using _ = monitorBlock("get_user", options); }
 * const [trace] = collector.snapshot();
 * assert.deepEqual([trace.name, trace.branchTag, trace.module], ["get_user", "cache_hit", "users"]);
 * ```
 */
export interface MonitorOptions {
  /** Which code path this is (feeds Branching Entropy); `tag()` can set it later. @default {undefined} */
  branchTag?: string;
  /** Module or package the operation belongs to. @default {undefined} */
  module?: string;
  /**
   * Where the trace goes. When left out, the global collector at the time
   * the block ends (so {@linkcode setGlobalCollector} applies at once).
   * @default {globalCollector}
   */
  collector?: Collector;
  /** Fraction of these calls to record, 0 to 1, instead of the global setting. @default {the global `sampleRate`} */
  sampleRate?: number;
  /** Fraction of failing calls to record, 0 to 1, instead of the global setting. @default {the global `errorSampleRate`} */
  errorSampleRate?: number;
  /** Whether to measure CPU time (sync blocks only), instead of the global setting. @default {the global `cpu`} */
  cpu?: boolean;
}

/** Keep the trace when the block succeeds. */
const KEEP_OK = 1;
/** Keep the trace when the block fails. */
const KEEP_ERROR = 2;
/** Keep the trace whatever happens (internal). */
export const KEEP_ALL: number = KEEP_OK | KEEP_ERROR;

const TIME_ORIGIN_MS = performance.timeOrigin;
const RESOLVED: Promise<void> = Promise.resolve();

/** Every key of {@linkcode MonitorOptions}. */
const MONITOR_OPTION_KEYS: ReadonlySet<string> = new Set([
  "branchTag",
  "module",
  "collector",
  "sampleRate",
  "errorSampleRate",
  "cpu",
]);

/**
 * Checks monitor options where a program sets them up (wrap time of
 * `monitorFunction` and `@monitored`): unknown keys, with the closest known
 * name, and each value's type and range.
 *
 * @param owner Who takes the options, for the message.
 * @throws {PssConfigError} For the first problem found.
 */
export function checkMonitorOptions(owner: string, options: unknown): void {
  checkKnownKeys(owner, options, MONITOR_OPTION_KEYS);
  if (options === undefined) return;
  const o = options as MonitorOptions;
  for (const field of ["sampleRate", "errorSampleRate"] as const) {
    if (o[field] !== undefined) rate(owner, field, o[field]);
  }
  const problem = fieldProblem(o);
  if (problem !== undefined) {
    throw new PssConfigError(problem[0], o[problem[0]], problem[1](owner));
  }
}

/** The first invalid field besides the rates, and how to say why. */
function fieldProblem(
  o: MonitorOptions,
): [keyof MonitorOptions, (owner: string) => string] | undefined {
  for (const field of ["branchTag", "module"] as const) {
    if (o[field] !== undefined && typeof o[field] !== "string") {
      return [field, (owner) => `${owner}'s '${field}' must be a string`];
    }
  }
  if (o.cpu !== undefined && typeof o.cpu !== "boolean") {
    return ["cpu", (owner) => `${owner}'s 'cpu' must be a boolean`];
  }
  const collector = o.collector;
  if (
    collector !== undefined &&
    (collector === null || typeof collector !== "object" ||
      typeof (collector as { add?: unknown }).add !== "function")
  ) {
    return [
      "collector",
      (owner) => `${owner}'s 'collector' must be a Collector (with add())`,
    ];
  }
  return undefined;
}

/**
 * Whether one option is known and valid: a `switch`, not
 * `checkMonitorOptions`, since this runs on every call with options (about
 * 10 ns for a whole options object against 190 ns for the general checks on
 * Bun) and builds no error.
 */
function isValidField(key: string, value: unknown): boolean {
  if (value === undefined) return true;
  switch (key) {
    case "branchTag":
    case "module":
      return typeof value === "string";
    case "sampleRate":
    case "errorSampleRate":
      return typeof value === "number" && value >= 0 && value <= 1;
    case "cpu":
      return typeof value === "boolean";
    case "collector":
      return value !== null && typeof value === "object" &&
        typeof (value as { add?: unknown }).add === "function";
    default:
      return false;
  }
}

/** Whether `options` is valid as given: an object whose keys are all known and valid. */
function isValidOptions(options: unknown): boolean {
  if (options === null || typeof options !== "object") return false;
  const o = options as Record<string, unknown>;
  for (const key in o) {
    if (!isValidField(key, o[key])) return false;
  }
  return true;
}

/**
 * The options of a `monitorBlock`/`monitorAsync` call, fit for the hot path:
 * never throws. Invalid or unknown fields are reported once each to
 * `onError` (source `"options"`) and left out, so the global setting
 * applies to them.
 */
export function hotOptions(
  owner: string,
  options: MonitorOptions,
): MonitorOptions | undefined {
  return isValidOptions(options) ? options : cleanOptions(owner, options);
}

/**
 * The valid fields of `options` (out of line), in one fixed shape so that
 * the hot path reading them stays monomorphic. A problem is identified by
 * its owner and key alone, so a call that repeats one already reported
 * (options built afresh on every call, say `sampleRate: Number(env)` that
 * came out NaN) builds no error and no edit-distance suggestion: only the
 * first call pays for the message.
 */
function cleanOptions(
  owner: string,
  options: unknown,
): MonitorOptions | undefined {
  if (options === null || typeof options !== "object") {
    reportOptionProblem(owner, "", options, describeProblem);
    return undefined;
  }
  const o = options as Record<string, unknown>;
  for (const key in o) {
    const value = o[key];
    if (!isValidField(key, value)) {
      reportOptionProblem(owner, key, value, describeProblem);
    }
  }
  return {
    branchTag: validOrUndefined("branchTag", o.branchTag) as string,
    module: validOrUndefined("module", o.module) as string,
    collector: validOrUndefined("collector", o.collector) as Collector,
    sampleRate: validOrUndefined("sampleRate", o.sampleRate) as number,
    errorSampleRate: validOrUndefined(
      "errorSampleRate",
      o.errorSampleRate,
    ) as number,
    cpu: validOrUndefined("cpu", o.cpu) as boolean,
  };
}

function validOrUndefined(key: string, value: unknown): unknown {
  return isValidField(key, value) ? value : undefined;
}

/**
 * The error for one bad option (`key` `""`: options that are not an
 * object), built by the general checks, with the closest known name.
 */
function describeProblem(owner: string, key: string, value: unknown): unknown {
  try {
    if (key === "") checkKnownKeys(owner, value, MONITOR_OPTION_KEYS);
    else checkMonitorOptions(owner, { [key]: value });
  } catch (error) {
    return error;
  }
  return undefined;
}

/**
 * Draws a call: returns which outcomes to keep (0: record nothing).
 * Never throws; a `random` that throws or returns a number outside [0, 1)
 * keeps the call and is reported to `onError`.
 */
export function draw(options: MonitorOptions | undefined): number {
  let sampleRate = active.sampleRate;
  let errorRate = active.errorSampleRate;
  if (options !== undefined) {
    // Checked before they get here (wrap time, or hotOptions).
    if (options.sampleRate !== undefined) sampleRate = options.sampleRate;
    if (options.errorSampleRate !== undefined) {
      errorRate = options.errorSampleRate;
    }
    if (sampleRate >= 1 && errorRate >= 1) return KEEP_ALL;
  } else if (!active.sampling) return KEEP_ALL;
  let u: number;
  try {
    u = active.random();
  } catch (error) {
    reportError(error, "random");
    return KEEP_ALL;
  }
  if (!(u >= 0 && u < 1)) {
    reportError(
      new RangeError(`random() must return a number in [0, 1): got ${u}`),
      "random",
    );
    return KEEP_ALL;
  }
  const keep = (u < sampleRate ? KEEP_OK : 0) |
    (u < errorRate ? KEEP_ERROR : 0);
  if (keep === 0) stats.sampledOut++;
  return keep;
}

/** Whether CPU time is measured for a sync block with these options. */
export function wantsCpu(options: MonitorOptions | undefined): boolean {
  return options?.cpu ?? active.cpu;
}

/** The process CPU time in seconds, or NaN when unmeasurable. */
export function cpuNow(): number {
  try {
    return runtime.cpuTimeSeconds() ?? NaN;
  } catch {
    return NaN;
  }
}

/** The pypss `exception_type` of a thrown value: its class name. */
function errorType(error: unknown): string {
  try {
    if (error !== null && typeof error === "object") {
      const name = (error as { name?: unknown }).name;
      if (typeof name === "string" && name !== "" && name !== "Error") {
        return name;
      }
      const ctor = (error as { constructor?: { name?: unknown } }).constructor
        ?.name;
      if (typeof ctor === "string" && ctor !== "") return ctor;
      return typeof name === "string" && name !== "" ? name : "Object";
    }
    return typeof error;
  } catch {
    return "unknown";
  }
}

/** The pypss `exception_message` of a thrown value. */
function errorMessage(error: unknown): string {
  try {
    if (error !== null && typeof error === "object") {
      const message = (error as { message?: unknown }).message;
      if (typeof message === "string") return message;
    }
    return String(error);
  } catch {
    return "";
  }
}

/**
 * What few blocks need: CPU time, a stack, an error, counted yields. Kept
 * out of the block so the common block stays small (internal).
 */
export interface Extra {
  /** Process CPU seconds at the start, NaN when not measured. */
  cpuStart: number;
  /** The stack at the start when `captureSource` is on. */
  stack: string | undefined;
  /** What the block failed with. */
  error: unknown;
  /** Yields counted by `wait()`, -1 when none. */
  yields: number;
}

/** The extra state of a block starting now, or undefined when it needs none. */
export function startExtra(
  options: MonitorOptions | undefined,
  asyncOp: boolean,
): Extra | undefined {
  const cpu = !asyncOp && wantsCpu(options);
  if (!cpu && !active.captureSource) return undefined;
  return {
    cpuStart: cpu ? cpuNow() : NaN,
    stack: active.captureSource ? captureStack() : undefined,
    error: undefined,
    yields: -1,
  };
}

/**
 * The trace of the common block: synchronous, succeeded, no options, no
 * branch tag, no extra state, to the global collector. Kept apart from
 * {@linkcode emit}: one trace literal, one collector call site (monomorphic
 * while the global collector is the default one), and only numbers passed
 * in, so the block itself never escapes. Never throws.
 */
export function emitPlain(name: string, start: number, end: number): void {
  const memory = active.memory ? cachedRssBytes(end) : undefined;
  if (memory === undefined || tagsInUse) {
    // Other trace shapes: the general path.
    emit(name, undefined, undefined, start, end, false, false, undefined);
    return;
  }
  const trace: Trace = {
    name,
    duration: (end - start) / 1000,
    waitTime: 0,
    memory,
    error: false,
    timestamp: (TIME_ORIGIN_MS + start) / 1000,
    host: HOST_NAME,
    pid: PROCESS_ID,
  };
  try {
    globalCollector.add(trace);
  } catch (caught) {
    reportError(caught, "collector");
  }
}

/** {@linkcode emitPlain} for a block ending now. */
function endPlain(name: string, start: number): void {
  emitPlain(name, start, performance.now());
}

/**
 * Builds the trace of a finished block and hands it to its collector.
 * Never throws.
 */
export function emit(
  name: string,
  options: MonitorOptions | undefined,
  branchTag: string | undefined,
  start: number,
  end: number,
  asyncOp: boolean,
  failed: boolean,
  extra: Extra | undefined,
): void {
  const duration = (end - start) / 1000;
  const memory = active.memory ? cachedRssBytes(end) : undefined;
  // pypss records the start of the operation.
  const timestamp = (TIME_ORIGIN_MS + start) / 1000;
  const host = HOST_NAME;
  const pid = PROCESS_ID;
  // One literal per shape, so traces are born with their final layout.
  let trace: Trace;
  if (asyncOp) {
    trace = memory !== undefined
      ? {
        name,
        duration,
        cpuTime: 0,
        waitTime: duration,
        memory,
        error: failed,
        timestamp,
        host,
        pid,
        asyncOp: true,
      }
      : {
        name,
        duration,
        cpuTime: 0,
        waitTime: duration,
        error: failed,
        timestamp,
        host,
        pid,
        asyncOp: true,
      };
  } else {
    trace = memory !== undefined
      ? {
        name,
        duration,
        waitTime: 0,
        memory,
        error: failed,
        timestamp,
        host,
        pid,
      }
      : { name, duration, waitTime: 0, error: failed, timestamp, host, pid };
  }
  if (branchTag !== undefined) trace.branchTag = branchTag;
  if (options !== undefined && options.module !== undefined) {
    trace.module = options.module;
  }
  if (extra !== undefined) addExtra(trace, asyncOp, failed, extra);
  if (tagsInUse) {
    const tags = currentTags();
    if (tags !== undefined) trace.metadata = tags;
  }
  const collector = options === undefined || options.collector === undefined
    ? globalCollector
    : options.collector;
  try {
    collector.add(trace);
  } catch (caught) {
    reportError(caught, "collector");
  }
}

function addExtra(
  trace: Trace,
  asyncOp: boolean,
  failed: boolean,
  extra: Extra,
): void {
  if (asyncOp) {
    if (extra.yields >= 0) trace.yieldCount = extra.yields;
  } else if (extra.cpuStart === extra.cpuStart) { // not NaN: measured
    const cpuEnd = cpuNow();
    if (cpuEnd === cpuEnd) {
      const cpuTime = Math.max(0, cpuEnd - extra.cpuStart);
      trace.cpuTime = cpuTime;
      trace.waitTime = Math.max(0, trace.duration! - cpuTime);
    }
  }
  if (failed) {
    trace.exceptionType = errorType(extra.error);
    trace.exceptionMessage = errorMessage(extra.error);
  }
  if (extra.stack !== undefined) {
    const location = locate(extra.stack);
    if (location !== undefined) {
      trace.filename = location.filename;
      trace.lineno = location.lineno;
    }
  }
}

/** Extra state for a block that started without any. */
function newExtra(): Extra {
  return { cpuStart: NaN, stack: undefined, error: undefined, yields: -1 };
}

/** Flags of a block, packed in one number. */
const FAILED = 4;
const ASYNC = 8;
const DONE = 16;
/** Has options, a branch tag or extra state: not a plain block. */
const SLOW = 32;

/**
 * A running monitor: what {@linkcode monitorBlock} and
 * {@linkcode monitorAsync} return. Records its trace once, when disposed.
 *
 * Why plain `_` fields and literal flag values, against the house style of
 * `#private` fields and named constants: JavaScriptCore inlines a callee
 * only while its bytecode is small (80 bytes for the DFG tier, 100 for a
 * constructor and 170 for a call in the FTL), and there a `#private`
 * access takes 22 bytes against 6 for a property (the private name is
 * looked up in the module scope each time), a module constant 19 against
 * none for a literal. Within budget, `monitorBlock`, the constructor and
 * `[Symbol.dispose]` of a plain block (no options, kept, synchronous) are
 * inlined into the `using` site and the block itself is never allocated,
 * which took `using monitorBlock()` on Bun from 1.57× to 1.24× the `using`
 * floor of `bench/overhead_bench.ts`, level with a minimal timer that
 * stores the same trace. Reading the fields costs the same either way once
 * compiled. The fields stay out of the public types
 * ({@linkcode MonitorBlock}, {@linkcode AsyncMonitorBlock}).
 */
export class Block {
  /** @internal */ declare readonly _name: string;
  /** @internal */ declare readonly _options: MonitorOptions | undefined;
  /** @internal */ declare readonly _start: number;
  /** @internal The keep mask and FAILED, ASYNC, DONE, SLOW. */
  declare _flags: number;
  /** @internal */ declare _branchTag: string | undefined;
  /** @internal */ declare _extra: Extra | undefined;

  /**
   * @param branchTag `options.branchTag`.
   * @param flags The keep mask, with `ASYNC` and `SLOW` as they apply.
   * @param extra From {@linkcode startExtra}.
   */
  constructor(
    name: string,
    options: MonitorOptions | undefined,
    branchTag: string | undefined,
    flags: number,
    extra: Extra | undefined,
  ) {
    this._name = name;
    this._options = options;
    this._branchTag = branchTag;
    this._flags = flags;
    this._extra = extra;
    this._start = performance.now();
  }

  /** Sets the branch tag (the last call before the block ends wins). */
  tag(branchTag: string): this {
    if ((this._flags & DONE) === 0) {
      this._branchTag = branchTag;
      this._flags |= SLOW;
    }
    return this;
  }

  /** Marks the block as failed with `error` (its class and message are recorded). */
  fail(error: unknown): this {
    if ((this._flags & DONE) === 0) {
      this._flags |= FAILED | SLOW;
      (this._extra ??= newExtra()).error = error;
    }
    return this;
  }

  /** Awaits `value`, counting one yield of the block to the event loop. */
  wait<T>(value: T | PromiseLike<T>): Promise<Awaited<T>> {
    if ((this._flags & DONE) === 0) {
      this._flags |= SLOW;
      const extra = this._extra ??= newExtra();
      extra.yields = extra.yields < 0 ? 1 : extra.yields + 1;
    }
    return Promise.resolve(value) as Promise<Awaited<T>>;
  }

  /** Ends the block and records its trace (once). */
  end(): void {
    this[Symbol.dispose]();
  }

  /** Same as {@linkcode Block.end}: `using` calls it. */
  [Symbol.dispose](): void {
    // The clock is read in the callees, a few instructions later, so that
    // this method stays small enough to be inlined by JavaScriptCore's DFG.
    if (this._flags === 3) { // KEEP_ALL: a plain block, not yet ended
      this._flags = 19; // KEEP_ALL | DONE
      endPlain(this._name, this._start);
    } else this._finish();
  }

  /** Same as {@linkcode Block.end}: `await using` calls it. */
  [Symbol.asyncDispose](): Promise<void> {
    this._finish();
    return RESOLVED;
  }

  /** @internal Ends any block (out of line: all but the plain ones). */
  _finish(): void {
    const end = performance.now();
    const flags = this._flags;
    if ((flags & DONE) !== 0) return;
    this._flags = flags | DONE;
    if ((flags & ASYNC) !== 0) asyncBlockEnded();
    const failed = (flags & FAILED) !== 0;
    if ((flags & (failed ? KEEP_ERROR : KEEP_OK)) === 0) {
      stats.sampledOut++;
      return;
    }
    emit(
      this._name,
      this._options,
      this._branchTag,
      this._start,
      end,
      (flags & ASYNC) !== 0,
      failed,
      this._extra,
    );
  }
}

/** The monitor of a call sampling drew out: records nothing, costs nothing. */
export class NoopBlock {
  /** Does nothing. */
  tag(_branchTag: string): this {
    return this;
  }
  /** Does nothing. */
  fail(_error: unknown): this {
    return this;
  }
  /** Awaits `value`. */
  wait<T>(value: T | PromiseLike<T>): Promise<Awaited<T>> {
    return Promise.resolve(value) as Promise<Awaited<T>>;
  }
  /** Does nothing. */
  end(): void {}
  /** Does nothing. */
  [Symbol.dispose](): void {}
  /** Does nothing. */
  [Symbol.asyncDispose](): Promise<void> {
    return RESOLVED;
  }
}

/** The one shared sampled-out monitor. */
export const NOOP_BLOCK: NoopBlock = new NoopBlock();

/** Starts a block, or returns {@linkcode NOOP_BLOCK} when drawn out. */
export function startBlock(
  name: string,
  options: MonitorOptions | undefined,
  asyncOp: boolean,
): Block | NoopBlock {
  if (options !== undefined) {
    options = hotOptions(asyncOp ? "monitorAsync" : "monitorBlock", options);
  }
  const keep = options === undefined && !active.sampling
    ? KEEP_ALL
    : draw(options);
  if (keep === 0) return NOOP_BLOCK;
  const extra = options === undefined && !active.extra
    ? undefined
    : startExtra(options, asyncOp);
  let flags = keep;
  if (options !== undefined || extra !== undefined) flags |= SLOW;
  if (asyncOp) {
    flags |= ASYNC;
    asyncBlockStarted(); // active_tasks of the loop monitor
  }
  return new Block(
    name,
    options,
    options === undefined ? undefined : options.branchTag,
    flags,
    extra,
  );
}

/** Whether the keep mask records a call that ended this way (internal). */
export function kept(keep: number, failed: boolean): boolean {
  if ((keep & (failed ? KEEP_ERROR : KEEP_OK)) !== 0) return true;
  stats.sampledOut++;
  return false;
}
