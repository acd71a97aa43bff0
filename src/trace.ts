/**
 * The trace model and its pypss-compatible wire codec.
 *
 * In memory a trace uses camelCase fields; on the wire (NDJSON lines, Redis
 * entries, JSON files) it uses pypss's snake_case JSON schema, so traces
 * written by pypss and by pss can be read by either. Durations and times are
 * seconds, memory is bytes, exactly as in pypss.
 *
 * @module
 */

import { processIdPrefix } from "./_id.ts";
import { messageOf } from "./_message.ts";

/**
 * One observation of a monitored operation (or, with `systemMetric`, of the
 * runtime itself, such as an event-loop lag sample).
 *
 * Every numeric field that is missing counts as 0 when scoring. Units follow
 * pypss: seconds for `duration`, `cpuTime`, `waitTime` and `timestamp`
 * (Unix epoch), bytes for `memory` and `memoryDiff`.
 *
 * @example Build a trace by hand
 * ```ts
 * import { computePss, type Trace } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const trace: Trace = { name: "db.query", duration: 0.012, branchTag: "cache_miss" };
 * assert.equal(computePss([trace]).traceCount, 1);
 * ```
 */
export interface Trace {
  /**
   * Unique id of this trace (pypss: `trace_id`). Monitors leave it out; a
   * trace without one is given one, unique across processes and hosts, the
   * first time it is encoded ({@linkcode traceToJson}) or asked for
   * ({@linkcode traceIdOf}).
   */
  traceId?: string;
  /** Name of the monitored operation; reports group by it. */
  name: string;
  /** Source file of the monitored code, when known. */
  filename?: string;
  /** Source line of the monitored code, when known. */
  lineno?: number;
  /** Module (or package) the operation belongs to. */
  module?: string;
  /** Wall-clock duration in seconds. */
  duration?: number;
  /** Process CPU time spent during the operation, in seconds. */
  cpuTime?: number;
  /** Time spent waiting (wall minus CPU, or the whole duration for async blocks), in seconds. */
  waitTime?: number;
  /** Resident set size in bytes observed for the operation. */
  memory?: number;
  /** Change of resident set size across the operation, in bytes (may be negative). */
  memoryDiff?: number;
  /** Whether the operation failed. */
  error?: boolean;
  /** Class name of the error the operation threw. */
  exceptionType?: string;
  /** Message of the error the operation threw. */
  exceptionMessage?: string;
  /** Which code path the operation took; feeds Branching Entropy. */
  branchTag?: string;
  /**
   * When the operation started, in seconds since the Unix epoch (as in
   * pypss; a system trace: when the sample was taken).
   */
  timestamp?: number;
  /** Whether the operation was asynchronous. */
  asyncOp?: boolean;
  /** How many times an async operation gave the event loop away before it finished. */
  yieldCount?: number;
  /** Marks a runtime health sample (for example event-loop lag) rather than an operation. */
  systemMetric?: boolean;
  /**
   * Host name of the machine that recorded the trace, when the runtime may
   * read it (pss's own field, wire key `host`; pypss ignores it).
   */
  host?: string;
  /**
   * Id of the process that recorded the trace (pss's own field, wire key
   * `pid`; pypss ignores it). With `host`, it tells apart the processes whose
   * traces were pooled.
   */
  pid?: number;
  /**
   * Context tags ({@linkcode withTags}) of a regular trace, or the
   * measurements of a system trace (`lag` in seconds, `active_tasks`,
   * `churn_rate`). On the wire, as in pypss, a regular trace's tags are
   * top-level keys and a system trace's measurements a nested `metadata`
   * object.
   */
  metadata?: Record<string, unknown>;
}

/**
 * Top-level wire keys that are not tags: pypss's schema and pss's own, as
 * {@linkcode traceToJson} writes them for every trace, and `metadata`. Any
 * other top-level key of a regular trace is a context tag, as pypss writes
 * them. Read off traceToJson itself (a trace with an id: nothing is made),
 * so the two never disagree.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set([
  ...Object.keys(traceToJson({ name: "", traceId: "-" })),
  "metadata",
]);

/** Trace ids handed out by this process. */
let idCount = 0;

/**
 * The id of `trace`, giving it one when it has none: 96 random bits drawn
 * once per process (so ids do not collide across processes and hosts), a
 * dash, and a per-process counter. The id is stored on the trace, so
 * encoding it again (a retry, a second collector) keeps it; a frozen trace
 * gets a fresh id each time instead.
 *
 * Monitors do not call this: ids are made when a trace is encoded, off the
 * hot path.
 *
 * @param trace The trace.
 * @returns Its `traceId`.
 *
 * @example
 * ```ts
 * import { traceIdOf } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const trace = { name: "op", duration: 0.1 };
 * const id = traceIdOf(trace); // e.g. "5f1c0a9e2b7d4c3a8e6f1d20-1"
 * assert.match(id, /-\d+$/);
 * assert.equal(traceIdOf(trace), id); // stored on the trace
 * assert.equal(traceIdOf({ name: "op", traceId: "pypss-1" }), "pypss-1");
 * ```
 */
export function traceIdOf(trace: Trace): string {
  const existing = trace.traceId;
  if (typeof existing === "string" && existing !== "") return existing;
  const id = `${processIdPrefix()}-${++idCount}`;
  try {
    trace.traceId = id;
  } catch {
    // A frozen trace: the id serves this encoding only.
  }
  return id;
}

/**
 * Python's `float()` grammar for decimal strings (surrounding white space,
 * optional sign, digits with single underscores between them, fraction,
 * exponent). "inf" and "nan" are deliberately left out: they would be
 * rejected as non-finite anyway.
 */
const PY_FLOAT =
  /^[+-]?(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?$/;

/**
 * Reads a numeric wire value the way pypss does (numbers, numeric strings,
 * booleans), returning `undefined` when the value cannot be a number.
 *
 * @param value A JSON value from the wire.
 * @returns The number, or `undefined` when the value is not numeric.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWireNumber } from "./trace.ts";
 * assert.deepEqual([parseWireNumber(0.25), parseWireNumber(" 1_000 "), parseWireNumber(true)], [0.25, 1000, 1]);
 * assert.equal(parseWireNumber("inf"), undefined);
 * assert.equal(parseWireNumber(null), undefined);
 * ```
 */
export function parseWireNumber(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string") {
    const text = value.trim();
    if (!PY_FLOAT.test(text)) return undefined;
    return Number(text.replaceAll("_", ""));
  }
  return undefined;
}

/**
 * Python truthiness, except the strings "false" and "0" (docs/scoring.md,
 * "Reading traces").
 */
function truthy(value: unknown): boolean {
  if (typeof value === "string") {
    return value !== "" && value !== "false" && value !== "0";
  }
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === "object") {
    return Object.keys(value).length > 0;
  }
  return Boolean(value) || (typeof value === "number" && Number.isNaN(value));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Whether `value` may stand in a scored numeric field: a finite number, not
 * negative. Missing values (`undefined`) are allowed and count as 0.
 */
function isScorable(value: number | undefined): boolean {
  return value === undefined || (Number.isFinite(value) && value >= 0);
}

/**
 * Whether a trace can be scored (docs/scoring.md, "Reading traces"): its `duration`,
 * `memory` and `waitTime` (or, for a system trace, its `metadata.lag`) are
 * missing or finite and not negative. `computePss` skips and counts traces
 * for which this is false.
 *
 * @param trace The trace to check.
 * @returns `true` when the trace is well formed for scoring.
 *
 * @example
 * ```ts
 * import { isScorableTrace } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * assert.equal(isScorableTrace({ name: "a", duration: 0.1 }), true);
 * assert.equal(isScorableTrace({ name: "a", duration: -1 }), false);
 * ```
 */
export function isScorableTrace(trace: Trace): boolean {
  if (trace === null || typeof trace !== "object") return false;
  if (trace.systemMetric) {
    const metadata = trace.metadata;
    if (
      metadata === undefined || metadata === null ||
      typeof metadata !== "object"
    ) return true;
    if (!Object.hasOwn(metadata, "lag")) return true;
    const lag = metadata.lag;
    return typeof lag === "number" && Number.isFinite(lag) && lag >= 0;
  }
  for (const value of [trace.duration, trace.memory, trace.waitTime]) {
    if (value !== undefined && typeof value !== "number") return false;
    if (!isScorable(value)) return false;
  }
  return true;
}

/**
 * Reads one trace from its pypss JSON form (a parsed NDJSON line, a Redis
 * entry, an element of a JSON file).
 *
 * Lenient like pypss: numeric fields may be numbers, numeric strings
 * (`" 1e-3 "`) or booleans; a missing numeric field counts as 0. Strict where
 * pypss misbehaves: a record whose scored numeric field (`duration`,
 * `memory`, `wait_time`, or a system trace's `metadata.lag`) is `null`, not
 * numeric, NaN, infinite or negative is rejected whole. Never throws, and
 * never copies `__proto__` keys onto prototypes.
 *
 * @param value Any parsed JSON value.
 * @returns The trace, or `undefined` when the record must be rejected.
 *
 * @example
 * ```ts
 * import { traceFromJson } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const trace = traceFromJson(JSON.parse('{"name":"op","duration":"0.5","error":false}'));
 * assert.equal(trace?.duration, 0.5);
 * assert.equal(traceFromJson({ name: "op", duration: "abc" }), undefined);
 * ```
 */
export function traceFromJson(value: unknown): Trace | undefined {
  if (!isRecord(value)) return undefined;
  const get = (key: string): unknown =>
    Object.hasOwn(value, key) ? value[key] : undefined;
  const systemMetric = truthy(get("system_metric"));
  const trace: Trace = { name: stringOf(get("name")) ?? "" };
  const metadata = metadataOf(value);

  if (systemMetric) {
    trace.systemMetric = true;
    if (metadata !== undefined && Object.hasOwn(metadata, "lag")) {
      const lag = parseWireNumber(metadata.lag);
      if (lag === undefined || !Number.isFinite(lag) || lag < 0) {
        return undefined;
      }
      metadata.lag = lag;
    }
  } else {
    for (
      const [field, key] of [["duration", "duration"], ["memory", "memory"], [
        "waitTime",
        "wait_time",
      ]] as const
    ) {
      const raw = get(key);
      if (raw === undefined) continue;
      const number = parseWireNumber(raw);
      if (number === undefined || !Number.isFinite(number) || number < 0) {
        return undefined;
      }
      trace[field] = number;
    }
  }
  if (metadata !== undefined) trace.metadata = metadata;

  const error = get("error");
  if (error !== undefined) trace.error = truthy(error);
  for (
    const [field, key] of [
      ["cpuTime", "cpu_time"],
      ["memoryDiff", "memory_diff"],
      ["timestamp", "timestamp"],
      ["lineno", "lineno"],
      ["yieldCount", "yield_count"],
    ] as const
  ) {
    const number = parseWireNumber(get(key));
    if (number !== undefined && Number.isFinite(number)) trace[field] = number;
  }
  for (
    const [field, key] of [
      ["traceId", "trace_id"],
      ["filename", "filename"],
      ["module", "module"],
      ["exceptionType", "exception_type"],
      ["exceptionMessage", "exception_message"],
      ["host", "host"],
    ] as const
  ) {
    const text = stringOf(get(key));
    if (text !== undefined) trace[field] = text;
  }
  const pid = get("pid");
  if (typeof pid === "number" && Number.isSafeInteger(pid) && pid >= 0) {
    trace.pid = pid;
  }
  const branchTag = get("branch_tag");
  if (typeof branchTag === "string" && branchTag !== "") {
    trace.branchTag = branchTag;
  }
  const asyncOp = get("async_op");
  if (asyncOp !== undefined) trace.asyncOp = truthy(asyncOp);
  return trace;
}

/**
 * The metadata of a wire record: its top-level tags (pypss writes context
 * tags as top-level keys), then the keys of a nested `metadata` object (a
 * system trace's measurements, or tags whose names clash with the schema),
 * which win. `undefined` when there is neither.
 */
function metadataOf(
  value: Record<string, unknown>,
): Record<string, unknown> | undefined {
  let metadata: Record<string, unknown> | undefined;
  // for…in and a switch rather than Object.keys and a Set: this runs for
  // every trace read, and reading a million-line file is a hot path.
  for (const key in value) {
    if (isReservedKey(key) || !Object.hasOwn(value, key)) continue;
    metadata ??= {};
    define(metadata, key, value[key]);
  }
  const nested = Object.hasOwn(value, "metadata") ? value.metadata : undefined;
  if (isRecord(nested)) {
    metadata ??= {};
    for (const key of Object.keys(nested)) define(metadata, key, nested[key]);
  }
  return metadata;
}

/** Whether `key` is a top-level wire key that is not a tag (see {@linkcode RESERVED_KEYS}). */
function isReservedKey(key: string): boolean {
  switch (key) {
    case "trace_id":
    case "name":
    case "filename":
    case "lineno":
    case "module":
    case "duration":
    case "cpu_time":
    case "wait_time":
    case "memory":
    case "memory_diff":
    case "error":
    case "exception_type":
    case "exception_message":
    case "branch_tag":
    case "timestamp":
    case "async_op":
    case "yield_count":
    case "system_metric":
    case "host":
    case "pid":
    case "metadata":
      return true;
    default:
      return false;
  }
}

/** Sets an own enumerable key with define semantics (`__proto__` stays a key). */
/**
 * `target[key] = value`, also for a key named `__proto__` (which plain
 * assignment would take as the prototype). Only that key goes through
 * `defineProperty`: it turns the object into a slow dictionary, and
 * `JSON.stringify` of such an object costs V8 three times as much.
 */
function define(target: Record<string, unknown>, key: string, value: unknown) {
  if (key !== "__proto__") {
    target[key] = value;
    return;
  }
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

function stringOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/**
 * Writes a trace in pypss's JSON schema: snake_case keys in pypss's order,
 * every schema key present (absent optional values become `null`, absent
 * numbers 0, absent flags `false`), then pss's own `host` and `pid`. Where
 * pypss puts them: a regular trace's tags (`metadata`) become top-level
 * keys, except tags named like a schema key, which stay in a nested
 * `metadata` object; a system trace's measurements stay in `metadata`. A
 * trace without `traceId` is given one ({@linkcode traceIdOf}).
 *
 * @param trace The trace to encode.
 * @returns A plain object ready for `JSON.stringify`.
 *
 * @example
 * ```ts
 * import { traceToJson } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const json = traceToJson({ name: "op", duration: 0.25, metadata: { region: "eu" } });
 * assert.deepEqual([json.duration, json.region, typeof json.trace_id], [0.25, "eu", "string"]);
 * ```
 */
export function traceToJson(trace: Trace): Record<string, unknown> {
  // One object literal, in pypss's key order: V8 gives it in-object fields,
  // and JSON.stringify of it costs a third of an object built key by key
  // (whose keyed stores leave it with slow out-of-object fields).
  const out: Record<string, unknown> = {
    trace_id: traceIdOf(trace),
    name: given(trace.name, ""),
    filename: given(trace.filename, null),
    lineno: given(trace.lineno, 0),
    module: given(trace.module, null),
    duration: given(trace.duration, 0),
    cpu_time: given(trace.cpuTime, 0),
    wait_time: given(trace.waitTime, 0),
    memory: given(trace.memory, 0),
    memory_diff: given(trace.memoryDiff, 0),
    error: given(trace.error, false),
    exception_type: given(trace.exceptionType, null),
    exception_message: given(trace.exceptionMessage, null),
    branch_tag: given(trace.branchTag, null),
    timestamp: given(trace.timestamp, 0),
    async_op: given(trace.asyncOp, false),
    yield_count: given(trace.yieldCount, 0),
    system_metric: given(trace.systemMetric, false),
    host: given(trace.host, null),
    pid: given(trace.pid, null),
  };
  const metadata = trace.metadata;
  if (metadata === undefined || metadata === null) {
    if (trace.systemMetric) out.metadata = {};
    return out;
  }
  if (trace.systemMetric) {
    out.metadata = metadata;
    return out;
  }
  let clashing: Record<string, unknown> | undefined;
  for (const key of Object.keys(metadata)) {
    if (RESERVED_KEYS.has(key)) {
      clashing ??= {};
      define(clashing, key, metadata[key]);
    } else {
      define(out, key, metadata[key]);
    }
  }
  if (clashing !== undefined) out.metadata = clashing;
  return out;
}

/** `value`, or the wire's default when the field is absent (`undefined`). */
function given(value: unknown, absent: unknown): unknown {
  return value !== undefined ? value : absent;
}

/**
 * Encodes a trace as one line of pypss JSON (no newline), as
 * {@linkcode traceToJson} lays it out. Never throws: when the metadata
 * cannot be serialised (a `BigInt` or a cycle, which often comes from user
 * tags), it is replaced by a note of the error, and any other unserialisable
 * field is left out, so the rest of the trace still arrives.
 *
 * @param trace The trace to encode.
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { stringifyTrace } from "./trace.ts";
 * const json = JSON.parse(stringifyTrace({ name: "op", duration: 0.1, metadata: { id: 1n } }));
 * assert.equal(json.name, "op");
 * assert.equal(typeof json.pss_unserializable_metadata, "string"); // BigInt cannot be serialised
 * ```
 */
export function stringifyTrace(trace: Trace): string {
  try {
    return JSON.stringify(traceToJson(trace));
  } catch (error) {
    const note = { pss_unserializable_metadata: messageOf(error) };
    const id = traceIdOf(trace);
    const safe: Record<string, unknown> = {};
    try {
      const plain = traceToJson({ ...trace, traceId: id, metadata: note });
      for (const [key, value] of Object.entries(plain)) {
        const type = typeof value;
        if (
          value === null || type === "string" || type === "boolean" ||
          (type === "number" && Number.isFinite(value)) ||
          (key === "metadata" && type === "object")
        ) safe[key] = value;
      }
    } catch {
      safe.trace_id = id;
      Object.assign(safe, note);
    }
    return JSON.stringify(safe);
  }
}
