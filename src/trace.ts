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
 * import type { Trace } from "@pss/pss";
 * const trace: Trace = { name: "db.query", duration: 0.012, branchTag: "cache_miss" };
 * ```
 */
export interface Trace {
  /** Unique id of this trace (pypss: `trace_id`). */
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
  /** When the operation ended, in seconds since the Unix epoch. */
  timestamp?: number;
  /** Whether the operation was asynchronous. */
  asyncOp?: boolean;
  /** How many times an async operation gave the event loop away before it finished. */
  yieldCount?: number;
  /** Marks a runtime health sample (for example event-loop lag) rather than an operation. */
  systemMetric?: boolean;
  /** Free-form context; system traces carry `lag` (seconds) here. */
  metadata?: Record<string, unknown>;
}

/** The wire (snake_case) key of every camelCase trace field, in pypss order. */
const WIRE_KEYS = [
  ["traceId", "trace_id"],
  ["name", "name"],
  ["filename", "filename"],
  ["lineno", "lineno"],
  ["module", "module"],
  ["duration", "duration"],
  ["cpuTime", "cpu_time"],
  ["waitTime", "wait_time"],
  ["memory", "memory"],
  ["memoryDiff", "memory_diff"],
  ["error", "error"],
  ["exceptionType", "exception_type"],
  ["exceptionMessage", "exception_message"],
  ["branchTag", "branch_tag"],
  ["timestamp", "timestamp"],
  ["asyncOp", "async_op"],
  ["yieldCount", "yield_count"],
  ["systemMetric", "system_metric"],
  ["metadata", "metadata"],
] as const;

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
 * import { parseWireNumber } from "./trace.ts";
 * console.log(parseWireNumber(0.25), parseWireNumber(" 1_000 "), parseWireNumber(true)); // 0.25 1000 1
 * console.log(parseWireNumber("inf"), parseWireNumber(null)); // undefined undefined
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

/** Python truthiness, except the strings "false" and "0" (see SCORING.md §1). */
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
 * Whether a trace can be scored as SCORING.md §1 requires: its `duration`,
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
 * isScorableTrace({ name: "a", duration: 0.1 }); // true
 * isScorableTrace({ name: "a", duration: -1 }); // false
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
 * const trace = traceFromJson(JSON.parse('{"name":"op","duration":"0.5","error":false}'));
 * console.log(trace?.duration); // 0.5
 * console.log(traceFromJson({ name: "op", duration: "abc" })); // undefined
 * ```
 */
export function traceFromJson(value: unknown): Trace | undefined {
  if (!isRecord(value)) return undefined;
  const get = (key: string): unknown =>
    Object.hasOwn(value, key) ? value[key] : undefined;
  const systemMetric = truthy(get("system_metric"));
  const trace: Trace = { name: stringOf(get("name")) ?? "" };

  if (systemMetric) {
    trace.systemMetric = true;
    const rawMetadata = get("metadata");
    if (isRecord(rawMetadata)) {
      const metadata = copyRecord(rawMetadata);
      if (Object.hasOwn(metadata, "lag")) {
        const lag = parseWireNumber(metadata.lag);
        if (lag === undefined || !Number.isFinite(lag) || lag < 0) {
          return undefined;
        }
        metadata.lag = lag;
      }
      trace.metadata = metadata;
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
    const rawMetadata = get("metadata");
    if (isRecord(rawMetadata)) trace.metadata = copyRecord(rawMetadata);
  }

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
    ] as const
  ) {
    const text = stringOf(get(key));
    if (text !== undefined) trace[field] = text;
  }
  const branchTag = get("branch_tag");
  if (typeof branchTag === "string" && branchTag !== "") {
    trace.branchTag = branchTag;
  }
  const asyncOp = get("async_op");
  if (asyncOp !== undefined) trace.asyncOp = truthy(asyncOp);
  return trace;
}

function stringOf(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** Copies own enumerable keys with define semantics, so `__proto__` stays a plain key. */
function copyRecord(source: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(source));
}

/**
 * Writes a trace in pypss's JSON schema (snake_case keys, pypss key order,
 * every key present; absent optional values become `null`, absent numbers 0,
 * absent flags `false`).
 *
 * @param trace The trace to encode.
 * @returns A plain object ready for `JSON.stringify`.
 *
 * @example
 * ```ts
 * import { traceToJson } from "@pss/pss";
 * const line = JSON.stringify(traceToJson({ name: "op", duration: 0.25 }));
 * console.log(line.includes('"duration":0.25')); // true
 * ```
 */
export function traceToJson(trace: Trace): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, key] of WIRE_KEYS) {
    const value = trace[field];
    out[key] = value !== undefined ? value : defaultWireValue(field);
  }
  return out;
}

function defaultWireValue(field: keyof Trace): unknown {
  switch (field) {
    case "duration":
    case "cpuTime":
    case "waitTime":
    case "memory":
    case "memoryDiff":
    case "timestamp":
    case "yieldCount":
    case "lineno":
      return 0;
    case "error":
    case "asyncOp":
    case "systemMetric":
      return false;
    case "metadata":
      return {};
    case "name":
      return "";
    default:
      return null;
  }
}

/**
 * Encodes a trace as one line of pypss JSON (no newline). Never throws: when
 * a field cannot be serialised (a `BigInt` or a cycle in `metadata`, which
 * often comes from user tags), the metadata is replaced by a note of the
 * error, and any other unserialisable field is left out, so the rest of the
 * trace still arrives.
 *
 * @param trace The trace to encode.
 * @returns The JSON text.
 *
 * @example
 * ```ts
 * import { stringifyTrace } from "./trace.ts";
 * console.log(stringifyTrace({ name: "op", duration: 0.1, metadata: { id: 1n } }));
 * // {"trace_id":null,"name":"op",…,"metadata":{"pss_unserializable_metadata":"…"}}
 * ```
 */
export function stringifyTrace(trace: Trace): string {
  try {
    return JSON.stringify(traceToJson(trace));
  } catch (error) {
    const note = { pss_unserializable_metadata: messageOf(error) };
    const safe: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(traceToJson(trace))) {
      const type = typeof value;
      if (
        value === null || type === "string" || type === "number" ||
        type === "boolean"
      ) safe[key] = value;
    }
    safe.metadata = note;
    return JSON.stringify(safe);
  }
}
