/**
 * A hand-written protobuf codec for `pss.v1.Trace`, wire-identical to the
 * generated one (`src/gen/pss/v1/trace_pb.ts`; the tests check both ways).
 * protobuf-es encodes and decodes by reflection, allocating a message
 * object per trace; a batch of 500 traces then costs more than sending it
 * over loopback. This codec writes a whole `SubmitTracesRequest` into one
 * buffer and reads a trace straight into a plain object.
 *
 * @module
 */

import type { Trace } from "../trace.ts";

/** The metadata keys of a system trace that travel in fields of their own. */
const SYSTEM_KEYS: Record<string, 22 | 23 | 24> = {
  lag: 22,
  active_tasks: 23,
  churn_rate: 24,
};

const LEN = 2;
const I64 = 1;
const VARINT = 0;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** Where a trace was recorded, where its producer sets it. */
interface TraceOrigin {
  host?: unknown;
  pid?: unknown;
}

/** A growable output buffer. */
class Writer {
  buf: Uint8Array;
  view: DataView;
  pos = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  varint(value: number): void {
    this.ensure(5);
    while (value > 0x7f) {
      this.buf[this.pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[this.pos++] = value;
  }

  double(no: number, value: number): void {
    this.varint((no << 3) | I64);
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  bool(no: number, value: boolean): void {
    this.varint((no << 3) | VARINT);
    this.ensure(1);
    this.buf[this.pos++] = value ? 1 : 0;
  }

  uint(no: number, value: number): void {
    this.varint((no << 3) | VARINT);
    this.varint(value);
  }

  string(no: number, value: string): void {
    this.varint((no << 3) | LEN);
    const length = value.length;
    let ascii = length < 0x4000;
    if (ascii) {
      for (let i = 0; i < length; i++) {
        if (value.charCodeAt(i) > 0x7f) {
          ascii = false;
          break;
        }
      }
    }
    if (ascii) {
      this.varint(length);
      this.ensure(length);
      const buf = this.buf;
      let pos = this.pos;
      for (let i = 0; i < length; i++) buf[pos++] = value.charCodeAt(i);
      this.pos = pos;
      return;
    }
    const bytes = textEncoder.encode(value);
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** Writes a length-delimited field whose body `write` produces. */
  message(no: number, write: () => void): void {
    this.varint((no << 3) | LEN);
    // Reserve two bytes for the length (bodies up to 16 KiB), and move the
    // body when its length needs another number of bytes.
    this.ensure(2);
    const start = this.pos;
    this.pos += 2;
    write();
    const length = this.pos - start - 2;
    const size = length < 0x80
      ? 1
      : length < 0x4000
      ? 2
      : length < 0x200000
      ? 3
      : length < 0x10000000
      ? 4
      : 5;
    if (size !== 2) {
      this.ensure(size - 2);
      this.buf.copyWithin(start + size, start + 2, this.pos);
      this.pos += size - 2;
    }
    let value = length;
    let at = start;
    while (value > 0x7f) {
      this.buf[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[at] = value;
  }
}

function isUint32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
    value <= 0xffff_ffff;
}

/**
 * Encodes a batch as the bytes of a `pss.v1.SubmitTracesRequest`. Never
 * throws: a value protobuf cannot carry is converted or left out, as
 * {@linkcode traceToMessage} does.
 *
 * @param batch The traces, oldest first.
 * @returns The encoded request.
 */
export function encodeSubmitTraces(batch: readonly Trace[]): Uint8Array {
  const writer = new Writer(256 * batch.length + 64);
  for (let i = 0; i < batch.length; i++) {
    const trace = batch[i];
    writer.message(1, () => writeTrace(writer, trace));
  }
  return writer.buf.subarray(0, writer.pos);
}

function writeTrace(w: Writer, trace: Trace): void {
  if (typeof trace.traceId === "string") w.string(1, trace.traceId);
  const name = typeof trace.name === "string" ? trace.name : String(trace.name);
  if (name !== "") w.string(2, name);
  if (typeof trace.filename === "string") w.string(3, trace.filename);
  if (isUint32(trace.lineno) && trace.lineno <= 0x7fff_ffff) {
    w.uint(4, trace.lineno);
  }
  if (typeof trace.module === "string") w.string(5, trace.module);
  if (typeof trace.duration === "number") w.double(6, trace.duration);
  if (typeof trace.cpuTime === "number") w.double(7, trace.cpuTime);
  if (typeof trace.waitTime === "number") w.double(8, trace.waitTime);
  if (typeof trace.memory === "number") w.double(9, trace.memory);
  if (typeof trace.memoryDiff === "number") w.double(10, trace.memoryDiff);
  if (typeof trace.error === "boolean") w.bool(11, trace.error);
  if (typeof trace.exceptionType === "string") {
    w.string(12, trace.exceptionType);
  }
  if (typeof trace.exceptionMessage === "string") {
    w.string(13, trace.exceptionMessage);
  }
  if (typeof trace.branchTag === "string") w.string(14, trace.branchTag);
  if (typeof trace.timestamp === "number") w.double(15, trace.timestamp);
  if (typeof trace.asyncOp === "boolean") w.bool(16, trace.asyncOp);
  if (isUint32(trace.yieldCount)) w.uint(17, trace.yieldCount);
  if (typeof trace.systemMetric === "boolean") {
    w.bool(18, trace.systemMetric);
  }
  const metadata = trace.metadata;
  let system: [number, number][] | undefined;
  if (metadata !== null && typeof metadata === "object") {
    for (const key in metadata) {
      if (!Object.hasOwn(metadata, key)) continue;
      const value = metadata[key];
      if (
        trace.systemMetric === true && typeof value === "number" &&
        Object.hasOwn(SYSTEM_KEYS, key)
      ) {
        (system ??= []).push([SYSTEM_KEYS[key], value]);
        continue;
      }
      const text = metadataText(value);
      if (text === undefined) continue;
      w.message(19, () => {
        w.string(1, key);
        w.string(2, text);
      });
    }
  }
  const origin = trace as TraceOrigin;
  if (typeof origin.host === "string") w.string(20, origin.host);
  if (isUint32(origin.pid)) w.uint(21, origin.pid);
  if (system !== undefined) {
    system.sort((a, b) => a[0] - b[0]);
    for (const [no, value] of system) w.double(no, value);
  }
}

/**
 * The JSON text of a metadata value, or `undefined` to leave it out (as
 * JSON does with `undefined` and functions). BigInts become decimal text,
 * non-finite numbers their name, a cycle or a deep structure is cut.
 *
 * @param value A metadata value.
 * @returns Its JSON text.
 */
export function metadataText(value: unknown): string | undefined {
  switch (typeof value) {
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "number":
      return Number.isFinite(value)
        ? JSON.stringify(value)
        : JSON.stringify(String(value));
    case "bigint":
      return JSON.stringify(value.toString());
    case "object":
      try {
        return JSON.stringify(value) ?? undefined;
      } catch {
        const json = toJson(value, 0);
        return json === undefined ? undefined : JSON.stringify(json);
      }
    default:
      return undefined;
  }
}

/** Deeper metadata is cut: a cycle or a pathological structure. */
const MAX_DEPTH = 32;

function toJson(value: unknown, depth: number): unknown {
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
        const out: Record<string, unknown> = {};
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

/**
 * The fields of a `pss.v1.Trace` as plain properties, named as the
 * generated message names them (so either can be checked the same way).
 */
export interface TraceFields {
  traceId?: string;
  name: string;
  filename?: string;
  lineno?: number;
  module?: string;
  duration?: number;
  cpuTime?: number;
  waitTime?: number;
  memory?: number;
  memoryDiff?: number;
  error?: boolean;
  exceptionType?: string;
  exceptionMessage?: string;
  branchTag?: string;
  timestamp?: number;
  asyncOp?: boolean;
  yieldCount?: number;
  systemMetric?: boolean;
  metadata: { [key: string]: string };
  host?: string;
  pid?: number;
  lag?: number;
  activeTasks?: number;
  churnRate?: number;
}

const STRING_FIELDS: Record<number, keyof TraceFields> = {
  1: "traceId",
  2: "name",
  3: "filename",
  5: "module",
  12: "exceptionType",
  13: "exceptionMessage",
  14: "branchTag",
  20: "host",
};
const DOUBLE_FIELDS: Record<number, keyof TraceFields> = {
  6: "duration",
  7: "cpuTime",
  8: "waitTime",
  9: "memory",
  10: "memoryDiff",
  15: "timestamp",
  22: "lag",
  23: "activeTasks",
  24: "churnRate",
};
const BOOL_FIELDS: Record<number, keyof TraceFields> = {
  11: "error",
  16: "asyncOp",
  18: "systemMetric",
};
const UINT_FIELDS: Record<number, keyof TraceFields> = {
  4: "lineno",
  17: "yieldCount",
  21: "pid",
};

/** Reads protobuf wire data; every read checks its bounds. */
class Reader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos: number;
  readonly end: number;

  constructor(buf: Uint8Array, start: number, end: number) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = start;
    this.end = end;
  }

  /** A varint as a number (up to 2^53; int32 negatives come back wrapped). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const byte = this.buf[this.pos++];
      if (i < 8) result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Error("varint longer than 10 bytes");
  }

  double(): number {
    if (this.pos + 8 > this.end) throw new Error("truncated double");
    const value = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return value;
  }

  length(): number {
    const length = this.varint();
    if (length > this.end - this.pos) throw new Error("length past the end");
    return length;
  }

  string(): string {
    const length = this.length();
    const start = this.pos;
    this.pos += length;
    if (length <= 64) {
      let ascii = true;
      for (let i = start; i < this.pos; i++) {
        if (this.buf[i] > 0x7f) {
          ascii = false;
          break;
        }
      }
      if (ascii) {
        return String.fromCharCode.apply(
          null,
          this.buf.subarray(start, this.pos) as unknown as number[],
        );
      }
    }
    return textDecoder.decode(this.buf.subarray(start, this.pos));
  }

  skip(wireType: number): void {
    switch (wireType) {
      case VARINT:
        this.varint();
        return;
      case I64:
        if (this.pos + 8 > this.end) throw new Error("truncated field");
        this.pos += 8;
        return;
      case LEN:
        this.pos += this.length();
        return;
      case 5:
        if (this.pos + 4 > this.end) throw new Error("truncated field");
        this.pos += 4;
        return;
      default:
        throw new Error(`unsupported wire type ${wireType}`);
    }
  }
}

/**
 * Reads one `pss.v1.Trace` from `bytes[start, end)`. Unknown fields are
 * skipped, as protobuf requires.
 *
 * @param bytes The buffer.
 * @param start Where the trace starts.
 * @param end Where it ends.
 * @returns Its fields.
 * @throws {Error} When the bytes are not a valid trace.
 */
export function readTrace(
  bytes: Uint8Array,
  start: number,
  end: number,
): TraceFields {
  const r = new Reader(bytes, start, end);
  const out: TraceFields = { name: "", metadata: {} };
  const fields = out as unknown as Record<string, unknown>;
  while (r.pos < r.end) {
    const tag = r.varint();
    const no = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType === LEN && STRING_FIELDS[no] !== undefined) {
      fields[STRING_FIELDS[no]] = r.string();
    } else if (wireType === I64 && DOUBLE_FIELDS[no] !== undefined) {
      fields[DOUBLE_FIELDS[no]] = r.double();
    } else if (wireType === VARINT && BOOL_FIELDS[no] !== undefined) {
      fields[BOOL_FIELDS[no]] = r.varint() !== 0;
    } else if (wireType === VARINT && UINT_FIELDS[no] !== undefined) {
      // uint32 and int32 fields keep their low 32 bits; an int32 below 0
      // reads as a large number, which the agent refuses as absurd.
      fields[UINT_FIELDS[no]] = r.varint() % 0x1_0000_0000;
    } else if (wireType === LEN && no === 19) {
      const entryEnd = r.length() + r.pos;
      const entry = new Reader(bytes, r.pos, entryEnd);
      let key = "";
      let value = "";
      while (entry.pos < entry.end) {
        const entryTag = entry.varint();
        if (entryTag === ((1 << 3) | LEN)) key = entry.string();
        else if (entryTag === ((2 << 3) | LEN)) value = entry.string();
        else entry.skip(entryTag & 7);
      }
      r.pos = entryEnd;
      Object.defineProperty(out.metadata, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else {
      r.skip(wireType);
    }
  }
  return out;
}
