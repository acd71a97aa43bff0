/**
 * The reference for the hand-written codec (src/collect/_trace_wire.ts):
 * traces to `pss.v1.Trace` messages through protobuf-es's generated code,
 * converting what protobuf cannot carry the same way.
 *
 * @module
 */

import { create, type JsonValue } from "@bufbuild/protobuf";
import type { Trace } from "../../src/trace.ts";
import {
  type Trace as TraceMessage,
  TraceSchema,
} from "../../src/gen/pss/v1/trace_pb.ts";

/** Deeper metadata is cut: a cycle or a pathological structure. */
const MAX_DEPTH = 32;

/** The metadata keys of a system trace that travel in fields of their own. */
const SYSTEM_KEYS = new Set(["lag", "active_tasks", "churn_rate"]);

/** The host and process fields of a trace, where its producer sets them. */
interface TraceOrigin {
  host?: unknown;
  pid?: unknown;
}

/**
 * Converts one trace to its protobuf message.
 *
 * @param trace A trace as instrumentation records it.
 * @returns The message.
 */
export function traceToMessage(trace: Trace): TraceMessage {
  const message = create(TraceSchema, {
    name: typeof trace.name === "string" ? trace.name : String(trace.name),
  });
  if (typeof trace.traceId === "string") message.traceId = trace.traceId;
  if (typeof trace.filename === "string") message.filename = trace.filename;
  if (isInt32(trace.lineno)) message.lineno = trace.lineno;
  if (typeof trace.module === "string") message.module = trace.module;
  if (typeof trace.duration === "number") message.duration = trace.duration;
  if (typeof trace.cpuTime === "number") message.cpuTime = trace.cpuTime;
  if (typeof trace.waitTime === "number") message.waitTime = trace.waitTime;
  if (typeof trace.memory === "number") message.memory = trace.memory;
  if (typeof trace.memoryDiff === "number") {
    message.memoryDiff = trace.memoryDiff;
  }
  if (typeof trace.error === "boolean") message.error = trace.error;
  if (typeof trace.exceptionType === "string") {
    message.exceptionType = trace.exceptionType;
  }
  if (typeof trace.exceptionMessage === "string") {
    message.exceptionMessage = trace.exceptionMessage;
  }
  if (typeof trace.branchTag === "string") message.branchTag = trace.branchTag;
  if (typeof trace.timestamp === "number") message.timestamp = trace.timestamp;
  if (typeof trace.asyncOp === "boolean") message.asyncOp = trace.asyncOp;
  if (isUint32(trace.yieldCount)) message.yieldCount = trace.yieldCount;
  if (typeof trace.systemMetric === "boolean") {
    message.systemMetric = trace.systemMetric;
  }
  const origin = trace as TraceOrigin;
  if (typeof origin.host === "string") message.host = origin.host;
  if (isUint32(origin.pid)) message.pid = origin.pid;
  const metadata = trace.metadata;
  if (metadata !== null && typeof metadata === "object") {
    let rest: Record<string, string> | undefined;
    for (const key of Object.keys(metadata)) {
      const value = metadata[key];
      if (trace.systemMetric === true && SYSTEM_KEYS.has(key)) {
        if (typeof value === "number") {
          if (key === "lag") message.lag = value;
          else if (key === "active_tasks") message.activeTasks = value;
          else message.churnRate = value;
          continue;
        }
      }
      const text = jsonText(value);
      if (text === undefined) continue;
      rest ??= {};
      rest[key] = text;
    }
    if (rest !== undefined) message.metadata = rest;
  }
  return message;
}

function isInt32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) &&
    value >= -0x8000_0000 && value <= 0x7fff_ffff;
}

function isUint32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
    value <= 0xffff_ffff;
}

/** The JSON text of a metadata value, or `undefined` to leave it out. */
function jsonText(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value)
        ? JSON.stringify(value)
        : JSON.stringify(String(value));
    default: {
      try {
        return JSON.stringify(value);
      } catch {
        // A BigInt or a cycle somewhere inside: convert, then encode.
        const json = toJson(value, 0);
        return json === undefined ? undefined : JSON.stringify(json);
      }
    }
  }
}

/** A JSON value for `value`, or `undefined` to leave it out (as JSON does). */
function toJson(value: unknown, depth: number): JsonValue | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      return value.toString();
    case "object": {
      if (value === null) return null;
      if (depth >= MAX_DEPTH) return "[too deep]";
      try {
        const withToJson = value as { toJSON?: () => unknown };
        if (typeof withToJson.toJSON === "function") {
          return toJson(withToJson.toJSON(), depth + 1);
        }
        if (Array.isArray(value)) {
          return value.map((item) => toJson(item, depth + 1) ?? null);
        }
        const out: { [key: string]: JsonValue } = {};
        for (const key of Object.keys(value)) {
          const json = toJson(
            (value as Record<string, unknown>)[key],
            depth + 1,
          );
          if (json !== undefined) out[key] = json;
        }
        return out;
      } catch {
        return "[unreadable]";
      }
    }
    default:
      return undefined;
  }
}
