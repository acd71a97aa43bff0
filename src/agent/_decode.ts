/**
 * Received messages to traces, one trace at a time: a malformed trace
 * (NaN, negative or absurd values) is refused with a reason and the rest of
 * its batch is kept.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import type { TraceFields } from "../collect/_trace_wire.ts";
import type { TraceMessage as PypssTraceMessage } from "../gen/pypss/trace_pb.ts";

/** Longest plausible duration, CPU, wait or lag time: about 11.5 days. */
const MAX_SECONDS = 1e6;
/** Largest plausible memory figure: 1 PiB. */
const MAX_BYTES = 2 ** 50;
/** Latest plausible timestamp: the year 5138. */
const MAX_TIMESTAMP = 1e11;
/** Longest trace name. */
const MAX_NAME_LENGTH = 4096;

/** pypss's event-loop samples: an ordinary trace with this name and module. */
const PYPSS_LOOP_NAME = "__event_loop_health__";
const PYPSS_SYSTEM_MODULE = "pypss.system";

function range(
  field: string,
  value: number | undefined,
  min: number,
  max: number,
): string | undefined {
  if (value === undefined) return undefined;
  if (!Number.isFinite(value) || value < min || value > max) {
    return `'${field}' must be a finite number from ${min} to ${max}: got ${value}`;
  }
  return undefined;
}

/**
 * Converts the fields of a `pss.v1.Trace` (a generated message or what the
 * hand-written codec read) to a trace, or says why it is refused.
 *
 * @param message The decoded message.
 * @returns The trace, or the reason as a string.
 */
export function traceFromMessage(message: TraceFields): Trace | string {
  const reason = reasonOf(message);
  if (reason !== undefined) return reason;
  const trace: Trace = { name: message.name };
  if (message.traceId !== undefined) trace.traceId = message.traceId;
  if (message.filename !== undefined) trace.filename = message.filename;
  if (message.lineno !== undefined) trace.lineno = message.lineno;
  if (message.module !== undefined) trace.module = message.module;
  if (message.duration !== undefined) trace.duration = message.duration;
  if (message.cpuTime !== undefined) trace.cpuTime = message.cpuTime;
  if (message.waitTime !== undefined) trace.waitTime = message.waitTime;
  if (message.memory !== undefined) trace.memory = message.memory;
  if (message.memoryDiff !== undefined) trace.memoryDiff = message.memoryDiff;
  if (message.error !== undefined) trace.error = message.error;
  if (message.exceptionType !== undefined) {
    trace.exceptionType = message.exceptionType;
  }
  if (message.exceptionMessage !== undefined) {
    trace.exceptionMessage = message.exceptionMessage;
  }
  if (message.branchTag !== undefined && message.branchTag !== "") {
    trace.branchTag = message.branchTag;
  }
  if (message.timestamp !== undefined) trace.timestamp = message.timestamp;
  if (message.asyncOp !== undefined) trace.asyncOp = message.asyncOp;
  if (message.yieldCount !== undefined) trace.yieldCount = message.yieldCount;
  if (message.systemMetric !== undefined) {
    trace.systemMetric = message.systemMetric;
  }
  if (message.host !== undefined) trace.host = message.host;
  if (message.pid !== undefined) trace.pid = message.pid;
  let metadata: Record<string, unknown> | undefined;
  for (const key in message.metadata) {
    setOwn(metadata ??= {}, key, parseMetadataValue(message.metadata[key]));
  }
  if (message.lag !== undefined) (metadata ??= {}).lag = message.lag;
  if (message.activeTasks !== undefined) {
    (metadata ??= {}).active_tasks = message.activeTasks;
  }
  if (message.churnRate !== undefined) {
    (metadata ??= {}).churn_rate = message.churnRate;
  }
  if (metadata !== undefined) trace.metadata = metadata;
  return trace;
}

/**
 * What `traceFromMessage` and `traceFromRead` refuse a trace for, if
 * anything: the first value out of its range, in field order.
 */
function reasonOf(message: TraceFields): string | undefined {
  return checkName(message.name) ??
    range("duration", message.duration, 0, MAX_SECONDS) ??
    range("cpu_time", message.cpuTime, 0, MAX_SECONDS) ??
    range("wait_time", message.waitTime, 0, MAX_SECONDS) ??
    range("memory", message.memory, 0, MAX_BYTES) ??
    range("memory_diff", message.memoryDiff, -MAX_BYTES, MAX_BYTES) ??
    range("timestamp", message.timestamp, 0, MAX_TIMESTAMP) ??
    range("lineno", message.lineno, 0, 0x7fff_ffff) ??
    range("lag", message.lag, 0, MAX_SECONDS) ??
    range("active_tasks", message.activeTasks, 0, Number.MAX_SAFE_INTEGER) ??
    range("churn_rate", message.churnRate, 0, Number.MAX_VALUE);
}

/**
 * {@linkcode traceFromMessage} for the fields `readTrace` made, which
 * belong to nobody else: the trace is made of them in place (metadata
 * values parsed where they are) instead of copied, which halves what an
 * agent allocates per trace. A system trace's figures (lag, active tasks,
 * churn) and an empty branch tag, which move or go, take the copying way.
 *
 * @param fields What `readTrace` read.
 * @returns The trace (the same object), or the reason as a string.
 */
export function traceFromRead(fields: TraceFields): Trace | string {
  if (
    fields.lag !== undefined || fields.activeTasks !== undefined ||
    fields.churnRate !== undefined || fields.branchTag === ""
  ) return traceFromMessage(fields);
  const reason = reasonOf(fields);
  if (reason !== undefined) return reason;
  const metadata = fields.metadata as Record<string, unknown> | undefined;
  if (metadata !== undefined) {
    for (const key in metadata) {
      setOwn(metadata, key, parseMetadataValue(metadata[key] as string));
    }
  }
  return fields as unknown as Trace;
}

/**
 * Converts one of pypss's `TraceMessage`s to a trace, or says why it is
 * refused. pypss sends `""` for a missing string (read as absent), and its
 * event-loop samples as traces named `__event_loop_health__` in module
 * `pypss.system` with the lag as `wait_time`: those become system traces
 * with `metadata.lag`, so Concurrency Chaos sees them.
 *
 * @param message The decoded message.
 * @returns The trace, or the reason as a string.
 */
export function traceFromPypss(message: PypssTraceMessage): Trace | string {
  const memory = Number(message.memory);
  const memoryDiff = Number(message.memoryDiff);
  const reason = checkName(message.name) ??
    range("duration", message.duration, 0, MAX_SECONDS) ??
    range("cpu_time", message.cpuTime, 0, MAX_SECONDS) ??
    range("wait_time", message.waitTime, 0, MAX_SECONDS) ??
    range("memory", memory, 0, MAX_BYTES) ??
    range("memory_diff", memoryDiff, -MAX_BYTES, MAX_BYTES) ??
    range("timestamp", message.timestamp, 0, MAX_TIMESTAMP) ??
    range("lineno", message.lineno, 0, 0x7fff_ffff);
  if (reason !== undefined) return reason;
  const trace: Trace = {
    name: message.name,
    duration: message.duration,
    cpuTime: message.cpuTime,
    waitTime: message.waitTime,
    memory,
    memoryDiff,
    error: message.error,
    timestamp: message.timestamp,
  };
  if (message.traceId !== "") trace.traceId = message.traceId;
  if (message.filename !== "") trace.filename = message.filename;
  if (message.lineno !== 0) trace.lineno = message.lineno;
  if (message.module !== "") trace.module = message.module;
  if (message.exceptionType !== "") trace.exceptionType = message.exceptionType;
  if (message.exceptionMessage !== "") {
    trace.exceptionMessage = message.exceptionMessage;
  }
  if (message.branchTag !== "") trace.branchTag = message.branchTag;
  if (
    message.name === PYPSS_LOOP_NAME && message.module === PYPSS_SYSTEM_MODULE
  ) {
    trace.systemMetric = true;
    trace.metadata = { lag: message.waitTime };
  }
  return trace;
}

/**
 * Metadata values already parsed that are not objects (strings, numbers,
 * booleans, null): the same few values repeat from trace to trace, and
 * they are immutable, so every trace may share them.
 */
const parsedValues = new Map<string, unknown>();
const MAX_PARSED_VALUES = 4096;

/** A metadata value's JSON text, or the text itself when it is not JSON. */
function parseMetadataValue(text: string): unknown {
  const known = parsedValues.get(text);
  if (known !== undefined || parsedValues.has(text)) return known;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = text;
  }
  if (value === null || typeof value !== "object") {
    if (parsedValues.size >= MAX_PARSED_VALUES) parsedValues.clear();
    parsedValues.set(text, value);
  }
  return value;
}

function checkName(name: string): string | undefined {
  if (name.length > MAX_NAME_LENGTH) {
    return `'name' must be at most ${MAX_NAME_LENGTH} characters: got ${name.length}`;
  }
  return undefined;
}

/**
 * Sets `record[key]` as an own property, `__proto__` included: assigning
 * that key would set the object's prototype instead (as JavaScriptCore
 * does), losing the key and handing the object another's properties.
 */
function setOwn(
  record: Record<string, unknown>,
  key: string,
  value: unknown,
): void {
  if (key === "__proto__") {
    Object.defineProperty(record, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else record[key] = value;
}
