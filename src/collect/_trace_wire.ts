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
// Like protobuf-es: a leading U+FEFF is text, invalid UTF-8 becomes U+FFFD.
const textDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Eight bytes through which doubles are written and read. */
const scratch = new Float64Array(1);
const scratchBytes = new Uint8Array(scratch.buffer);

/** A growable output buffer. */
class Writer {
  buf: Uint8Array;
  pos = 0;

  constructor(size: number) {
    this.buf = new Uint8Array(size);
  }

  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(value: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (value > 0x7f) {
      buf[pos++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[pos++] = value;
    this.pos = pos;
  }

  double(no: number, value: number): void {
    this.varint((no << 3) | I64);
    this.ensure(8);
    scratch[0] = value;
    const buf = this.buf;
    const pos = this.pos;
    // Little-endian, as protobuf wants (every platform Deno and Bun run on).
    buf[pos] = scratchBytes[0];
    buf[pos + 1] = scratchBytes[1];
    buf[pos + 2] = scratchBytes[2];
    buf[pos + 3] = scratchBytes[3];
    buf[pos + 4] = scratchBytes[4];
    buf[pos + 5] = scratchBytes[5];
    buf[pos + 6] = scratchBytes[6];
    buf[pos + 7] = scratchBytes[7];
    this.pos = pos + 8;
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
    if (length < 0x80) {
      // One length byte; write the characters while they are ASCII.
      this.ensure(length + 1);
      const buf = this.buf;
      const start = this.pos;
      let pos = start + 1;
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code > 0x7f) break;
        buf[pos++] = code;
      }
      if (i === length) {
        buf[start] = length;
        this.pos = pos;
        return;
      }
    }
    const bytes = textEncoder.encode(value);
    this.varint(bytes.length);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /**
   * Starts a length-delimited field: returns where its body starts.
   * `reserved` bytes are kept for the length (1 for bodies below 128
   * bytes, 2 below 16 KiB); end() moves the body when its length takes
   * another number of bytes.
   */
  begin(no: number, reserved: 1 | 2): number {
    this.varint((no << 3) | LEN);
    this.ensure(reserved);
    this.pos += reserved;
    return this.pos;
  }

  /** Ends the field begun at `body` with `reserved` bytes for its length. */
  end(body: number, reserved: 1 | 2): void {
    const start = body - reserved;
    const length = this.pos - body;
    const size = length < 0x80
      ? 1
      : length < 0x4000
      ? 2
      : length < 0x200000
      ? 3
      : length < 0x10000000
      ? 4
      : 5;
    if (size !== reserved) {
      if (size > reserved) this.ensure(size - reserved);
      this.buf.copyWithin(start + size, body, this.pos);
      this.pos += size - reserved;
    }
    let value = length;
    let at = start;
    const buf = this.buf;
    while (value > 0x7f) {
      buf[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    buf[at] = value;
  }
}

function isUint32(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0 &&
    value <= 0xffff_ffff;
}

/**
 * The header by which a client names a batch of `SubmitTraces`: the same id
 * on every retry of that batch, so that the agent stores a retried batch
 * once. `ConnectCollector` sends it; any client may.
 */
export const BATCH_ID_HEADER = "pss-batch-id";

/**
 * Encodes a batch as the bytes of a `pss.v1.SubmitTracesRequest`. Never
 * throws: a value protobuf cannot carry is converted or left out, as
 * {@linkcode traceToMessage} does.
 *
 * @param batch The traces, oldest first.
 * @returns The encoded request.
 */
export function encodeSubmitTraces(batch: readonly Trace[]): Uint8Array {
  // One buffer serves every call (encoding is synchronous); the result is
  // a copy of exactly the bytes written.
  const writer = sharedWriter;
  writer.pos = 0;
  for (let i = 0; i < batch.length; i++) {
    const body = writer.begin(1, 2);
    writeTrace(writer, batch[i]);
    writer.end(body, 2);
  }
  const bytes = writer.buf.slice(0, writer.pos);
  if (writer.buf.length > MAX_KEPT_BUFFER) sharedWriter = new Writer(1 << 16);
  return bytes;
}

/** The encoding buffer; one that grew beyond this is not kept. */
const MAX_KEPT_BUFFER = 4 << 20;
let sharedWriter = new Writer(1 << 16);

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
      const entry = w.pos;
      const body = w.begin(19, 1);
      w.string(1, key);
      if (!writeMetadataValue(w, value)) {
        // Nothing to write after all (undefined, a function): take the
        // entry back.
        w.pos = entry;
        continue;
      }
      w.end(body, 1);
    }
  }
  if (typeof trace.host === "string") w.string(20, trace.host);
  if (isUint32(trace.pid)) w.uint(21, trace.pid);
  if (system !== undefined) {
    system.sort((a, b) => a[0] - b[0]);
    for (const [no, value] of system) w.double(no, value);
  }
}

/**
 * Writes a metadata value as the entry's field 2, its JSON text, as
 * {@linkcode metadataText} makes it; plain ASCII strings, numbers and
 * booleans straight into the buffer.
 *
 * @returns `false` when the value is left out.
 */
function writeMetadataValue(w: Writer, value: unknown): boolean {
  switch (typeof value) {
    case "string": {
      const length = value.length;
      if (length < 0x7e) {
        // A quoted string that JSON leaves as it is: printable ASCII
        // without quotes or backslashes.
        w.ensure(length + 4);
        const buf = w.buf;
        const start = w.pos;
        let pos = start + 3;
        let i = 0;
        for (; i < length; i++) {
          const code = value.charCodeAt(i);
          if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) {
            break;
          }
          buf[pos++] = code;
        }
        if (i === length) {
          buf[start] = (2 << 3) | LEN;
          buf[start + 1] = length + 2;
          buf[start + 2] = 0x22;
          buf[pos++] = 0x22;
          w.pos = pos;
          return true;
        }
      }
      w.string(2, JSON.stringify(value));
      return true;
    }
    case "number":
      // For a finite number, String() is JSON's text.
      w.string(
        2,
        Number.isFinite(value) ? String(value) : JSON.stringify(String(value)),
      );
      return true;
    case "boolean":
      w.string(2, value ? "true" : "false");
      return true;
    default: {
      const text = metadataText(value);
      if (text === undefined) return false;
      w.string(2, text);
      return true;
    }
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
 * `readTrace` leaves `metadata` out when the trace has none.
 */
export type TraceFields = Omit<Trace, "metadata"> & {
  metadata?: { [key: string]: string };
  lag?: number;
  activeTasks?: number;
  churnRate?: number;
};

/** The buffer being read, and where the reading is. */
let rBuf: Uint8Array = new Uint8Array(0);
let rPos = 0;
let rEnd = 0;

/** A varint as a number (int32 negatives come back as large numbers). */
function readVarint(): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (rPos >= rEnd) throw new Error("truncated varint");
    const byte = rBuf[rPos++];
    if (i < 8) result += (byte & 0x7f) * scale;
    if (byte < 0x80) return result;
    scale *= 128;
  }
  throw new Error("varint longer than 10 bytes");
}

/** A view of `rBuf`, made once per buffer. */
let rView: DataView = new DataView(new ArrayBuffer(8));

function readDouble(): number {
  if (rPos + 8 > rEnd) throw new Error("truncated double");
  const value = rView.getFloat64(rPos, true);
  rPos += 8;
  return value;
}

function readLength(): number {
  const length = readVarint();
  if (length > rEnd - rPos) throw new Error("length past the end");
  return length;
}

/**
 * Short strings are interned: trace names, modules, branch tags and
 * metadata keys repeat from trace to trace, so most are found in a small
 * direct-mapped table by their bytes (a hash, then a byte comparison)
 * instead of being decoded again, and every trace read shares one copy.
 */
const INTERN_SLOTS = 4096;
const INTERN_MAX_BYTES = 32;
const internBytes = new Uint8Array(INTERN_SLOTS * INTERN_MAX_BYTES);
const internLength = new Int32Array(INTERN_SLOTS).fill(-1);
const internText: string[] = new Array(INTERN_SLOTS).fill("");

function readString(): string {
  const length = readLength();
  const start = rPos;
  const end = start + length;
  rPos = end;
  const buf = rBuf;
  if (length > INTERN_MAX_BYTES) {
    return textDecoder.decode(buf.subarray(start, end));
  }
  // FNV-1a over the bytes; `high` collects the top bits (ASCII when 0).
  let hash = 0x811c9dc5;
  let high = 0;
  for (let i = start; i < end; i++) {
    const byte = buf[i];
    hash = Math.imul(hash ^ byte, 0x01000193);
    high |= byte;
  }
  const slot = (hash ^ (hash >>> 16)) & (INTERN_SLOTS - 1);
  const base = slot * INTERN_MAX_BYTES;
  if (internLength[slot] === length) {
    let i = 0;
    while (i < length && internBytes[base + i] === buf[start + i]) i++;
    if (i === length) return internText[slot];
  }
  const text = high < 0x80
    ? asciiText(buf, start, end)
    : textDecoder.decode(buf.subarray(start, end));
  for (let i = 0; i < length; i++) internBytes[base + i] = buf[start + i];
  internLength[slot] = length;
  internText[slot] = text;
  return text;
}

/** A string that does not repeat (a trace id): decoded, not interned. */
function readUniqueString(): string {
  const length = readLength();
  const start = rPos;
  const end = start + length;
  rPos = end;
  const buf = rBuf;
  if (length <= INTERN_MAX_BYTES) {
    let high = 0;
    for (let i = start; i < end; i++) high |= buf[i];
    if (high < 0x80) return asciiText(buf, start, end);
  }
  return textDecoder.decode(buf.subarray(start, end));
}

const fromCharCode = String.fromCharCode;

/** ASCII bytes as a string, without a call into the runtime's decoder. */
function asciiText(buf: Uint8Array, start: number, end: number): string {
  let text = "";
  let i = start;
  for (; i + 4 <= end; i += 4) {
    text += fromCharCode(buf[i], buf[i + 1], buf[i + 2], buf[i + 3]);
  }
  for (; i < end; i++) text += fromCharCode(buf[i]);
  return text;
}

function skipField(wireType: number): void {
  switch (wireType) {
    case VARINT:
      readVarint();
      return;
    case I64:
      if (rPos + 8 > rEnd) throw new Error("truncated field");
      rPos += 8;
      return;
    case LEN:
      rPos += readLength();
      return;
    case 5:
      if (rPos + 4 > rEnd) throw new Error("truncated field");
      rPos += 4;
      return;
    default:
      throw new Error(`unsupported wire type ${wireType}`);
  }
}

/**
 * Reads one `pss.v1.Trace` from `bytes[start, end)`. Unknown fields are
 * skipped, as protobuf requires. Absent fields are absent, `metadata`
 * included when the trace has none. The object is new and the caller's:
 * the agent turns it into the stored trace in place.
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
  if (rBuf !== bytes) {
    rBuf = bytes;
    rView = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  rPos = start;
  rEnd = end;
  // Fields are added as they come (protobuf writers put them in field
  // order), so traces with the same fields share one object shape.
  const out: TraceFields = { name: "" };
  while (rPos < rEnd) {
    const tag = readVarint();
    const wireType = tag & 7;
    const no = (tag - wireType) / 8;
    if (wireType === LEN) {
      switch (no) {
        case 1:
          out.traceId = readUniqueString();
          continue;
        case 2:
          out.name = readString();
          continue;
        case 3:
          out.filename = readString();
          continue;
        case 5:
          out.module = readString();
          continue;
        case 12:
          out.exceptionType = readString();
          continue;
        case 13:
          out.exceptionMessage = readString();
          continue;
        case 14:
          out.branchTag = readString();
          continue;
        case 20:
          out.host = readString();
          continue;
        case 19: {
          const entryEnd = readLength() + rPos;
          const outerEnd = rEnd;
          rEnd = entryEnd;
          let key = "";
          let value = "";
          while (rPos < rEnd) {
            const entryTag = readVarint();
            if (entryTag === ((1 << 3) | LEN)) key = readString();
            else if (entryTag === ((2 << 3) | LEN)) value = readString();
            else skipField(entryTag & 7);
          }
          rEnd = outerEnd;
          const metadata = out.metadata ??= {};
          if (key === "__proto__") {
            Object.defineProperty(metadata, key, {
              value,
              enumerable: true,
              writable: true,
              configurable: true,
            });
          } else metadata[key] = value;
          continue;
        }
      }
    } else if (wireType === I64) {
      switch (no) {
        case 6:
          out.duration = readDouble();
          continue;
        case 7:
          out.cpuTime = readDouble();
          continue;
        case 8:
          out.waitTime = readDouble();
          continue;
        case 9:
          out.memory = readDouble();
          continue;
        case 10:
          out.memoryDiff = readDouble();
          continue;
        case 15:
          out.timestamp = readDouble();
          continue;
        case 22:
          out.lag = readDouble();
          continue;
        case 23:
          out.activeTasks = readDouble();
          continue;
        case 24:
          out.churnRate = readDouble();
          continue;
      }
    } else if (wireType === VARINT) {
      switch (no) {
        case 11:
          out.error = readVarint() !== 0;
          continue;
        case 16:
          out.asyncOp = readVarint() !== 0;
          continue;
        case 18:
          out.systemMetric = readVarint() !== 0;
          continue;
        // uint32 and int32 fields keep their low 32 bits; an int32 below 0
        // reads as a large number, which the agent refuses as absurd.
        case 4:
          out.lineno = readVarint() % 0x1_0000_0000;
          continue;
        case 17:
          out.yieldCount = readVarint() % 0x1_0000_0000;
          continue;
        case 21:
          out.pid = readVarint() % 0x1_0000_0000;
          continue;
      }
    }
    skipField(wireType);
  }
  return out;
}
