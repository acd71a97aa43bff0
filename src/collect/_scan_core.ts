/**
 * The per-line work of {@linkcode scanTraces}, shared by the thread that
 * reads a file and the workers that parse it in parallel: one wire record
 * to accumulator calls ({@linkcode takeFast}), and one chunk of NDJSON text
 * to a log of those calls ({@linkcode scanChunk}, {@linkcode OpLog}) that
 * the reading thread replays in order, so a parallel read scores exactly
 * what a serial one does.
 *
 * This module touches no runtime API: it runs in workers as it is.
 *
 * @module
 */

/** Where the values of regular and system traces go (a `PssAccumulator`). */
export interface ScanTarget {
  /** One regular trace's checked values. */
  addValues(
    duration: number,
    memory: number,
    waitTime: number,
    error: boolean,
    branchTag: string | undefined,
    exceptionType: string | undefined,
    group: string,
  ): void;
  /** One event-loop lag sample. */
  addLag(lag: number, group: string): void;
  /** One well-formed system trace without a lag. */
  addUnused(): void;
}

/** A group key from a wire field: strings as they are, finite numbers as text. */
export function groupOf(record: Record<string, unknown>, key: string): string {
  if (key === "") return "";
  const value = Object.hasOwn(record, key) ? record[key] : undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return "";
}

/** Whether `value` is a plain scored number: finite, ≥ 0. */
function plain(value: unknown): value is number {
  return typeof value === "number" && value >= 0 && value <= Number.MAX_VALUE;
}

/** Why a line is not JSON. */
export function invalidJson(error: unknown): string {
  return `invalid JSON: ${error instanceof Error ? error.message : error}`;
}

/**
 * Takes the common shape of a wire trace (numbers as numbers, booleans as
 * booleans) straight into `target`, as `traceFromJson` followed by
 * `computePss` would; returns false, taking nothing, for anything else
 * (which the caller hands to the full codec).
 *
 * @param value A parsed JSON value.
 * @param target Where the values go.
 * @param groupKey The wire field that keys groups; `""` for none.
 * @returns Whether the value was taken.
 */
export function takeFast(
  value: unknown,
  target: ScanTarget,
  groupKey: string,
): boolean {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return false;
  }
  const record = value as Record<string, unknown>;
  const system = record.system_metric;
  if (system === true) {
    const metadata = record.metadata;
    if (
      metadata === undefined || metadata === null ||
      typeof metadata !== "object" || Array.isArray(metadata)
    ) {
      target.addUnused();
      return true;
    }
    const lag = (metadata as Record<string, unknown>).lag;
    if (lag === undefined && !Object.hasOwn(metadata, "lag")) {
      target.addUnused();
      return true;
    }
    if (!plain(lag)) return false;
    target.addLag(lag, groupOf(record, groupKey));
    return true;
  }
  if (system !== false && system !== undefined && system !== null) return false;
  const duration = record.duration;
  const memory = record.memory;
  const wait = record.wait_time;
  if (
    !(duration === undefined || plain(duration)) ||
    !(memory === undefined || plain(memory)) ||
    !(wait === undefined || plain(wait))
  ) return false;
  const error = record.error;
  let failed: boolean;
  if (error === true) failed = true;
  else if (error === false || error === undefined || error === null) {
    failed = false;
  } else return false;
  const tag = record.branch_tag;
  const exceptionType = record.exception_type;
  target.addValues(
    duration === undefined ? 0 : duration,
    memory === undefined ? 0 : memory,
    wait === undefined ? 0 : wait,
    failed,
    typeof tag === "string" && tag !== "" ? tag : undefined,
    typeof exceptionType === "string" ? exceptionType : undefined,
    groupOf(record, groupKey),
  );
  return true;
}

/** What one line of a chunk turned out to be (one byte per line). */
export const Op = {
  /** An empty or blank line: nothing, not even an entry. */
  blank: 0,
  /** A regular trace: three numbers, three string references. */
  values: 1,
  /** The same, for a failed call. */
  valuesFailed: 2,
  /** A lag sample: one number, one string reference (its group). */
  lag: 3,
  /** A system trace without a lag. */
  unused: 4,
  /** Anything else that parsed: the line's text, for the full codec. */
  slow: 5,
  /** Not JSON: the reason. */
  invalid: 6,
  /** Longer than the longest line kept. */
  cut: 7,
} as const;

/** The log of one chunk, as a worker sends it back. */
export interface ChunkLog {
  /** The job it answers. */
  id: number;
  /** Lines in the chunk, blank ones included. */
  lines: number;
  /** One {@linkcode Op} per line. */
  ops: Uint8Array;
  /** The numbers of `values` (3 each) and `lag` (1 each) lines, in order. */
  numbers: Float64Array;
  /**
   * String references of `values` (branch tag, exception type, group) and
   * `lag` (group) lines, in order: indexes into `strings`, -1 for none.
   */
  refs: Int32Array;
  /** The strings referenced. */
  strings: string[];
  /** The text of each `slow` line and the reason of each `invalid` one. */
  texts: string[];
}

/**
 * Records what {@linkcode takeFast} and the line checks decide for one
 * chunk, in compact columns that cross to another thread without copies.
 */
export class OpLog implements ScanTarget {
  ops: Uint8Array = new Uint8Array(4096);
  numbers: Float64Array = new Float64Array(8192);
  refs: Int32Array = new Int32Array(8192);
  lines = 0;
  #numberCount = 0;
  #refCount = 0;
  readonly #strings: string[] = [];
  readonly #index = new Map<string, number>();
  readonly texts: string[] = [];

  /** Records one line's op. */
  op(op: number): void {
    if (this.lines === this.ops.length) this.ops = doubled(this.ops);
    this.ops[this.lines++] = op;
  }

  #room(numbers: number, refs: number): void {
    if (this.#numberCount + numbers > this.numbers.length) {
      this.numbers = doubled(this.numbers);
    }
    if (this.#refCount + refs > this.refs.length) {
      this.refs = doubled(this.refs);
    }
  }

  #ref(text: string | undefined): number {
    if (text === undefined) return -1;
    let index = this.#index.get(text);
    if (index === undefined) {
      index = this.#strings.length;
      this.#strings.push(text);
      this.#index.set(text, index);
    }
    return index;
  }

  addValues(
    duration: number,
    memory: number,
    waitTime: number,
    error: boolean,
    branchTag: string | undefined,
    exceptionType: string | undefined,
    group: string,
  ): void {
    this.op(error ? Op.valuesFailed : Op.values);
    this.#room(3, 3);
    const numbers = this.numbers;
    let n = this.#numberCount;
    numbers[n++] = duration;
    numbers[n++] = memory;
    numbers[n++] = waitTime;
    this.#numberCount = n;
    const refs = this.refs;
    let r = this.#refCount;
    refs[r++] = this.#ref(branchTag);
    refs[r++] = this.#ref(exceptionType);
    refs[r++] = this.#ref(group);
    this.#refCount = r;
  }

  addLag(lag: number, group: string): void {
    this.op(Op.lag);
    this.#room(1, 1);
    this.numbers[this.#numberCount++] = lag;
    this.refs[this.#refCount++] = this.#ref(group);
  }

  addUnused(): void {
    this.op(Op.unused);
  }

  /** The log, its columns trimmed to what was written. */
  finish(id: number): ChunkLog {
    return {
      id,
      lines: this.lines,
      ops: this.ops.slice(0, this.lines),
      numbers: this.numbers.slice(0, this.#numberCount),
      refs: this.refs.slice(0, this.#refCount),
      strings: this.#strings,
      texts: this.texts,
    };
  }
}

/** `array` copied into one twice as long. */
function doubled<T extends Uint8Array | Int32Array | Float64Array>(
  array: T,
): T {
  const grown = new (array.constructor as new (length: number) => T)(
    array.length * 2,
  );
  grown.set(array);
  return grown;
}

const CR = 13;

/**
 * Logs every line of `text`, a run of whole NDJSON lines (each ending in
 * `\n`, except perhaps the file's last), as the serial reader would take
 * them: a trailing `\r` is dropped, a line longer than `maxLineLength` is
 * cut, a blank line is nothing, a line that is not JSON is invalid.
 *
 * @param text The lines.
 * @param groupKey The wire field that keys groups; `""` for none.
 * @param maxLineLength Longest line kept, in characters.
 * @param log Where the decisions go.
 */
export function scanChunk(
  text: string,
  groupKey: string,
  maxLineLength: number,
  log: OpLog,
): void {
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    if (end - start > maxLineLength) {
      log.op(Op.cut);
    } else {
      const stop = end > start && text.charCodeAt(end - 1) === CR
        ? end - 1
        : end;
      const line = text.slice(start, stop);
      let value: unknown;
      let parsed = true;
      try {
        value = JSON.parse(line);
      } catch (error) {
        parsed = false;
        if (line.trim() === "") log.op(Op.blank);
        else {
          log.op(Op.invalid);
          log.texts.push(invalidJson(error));
        }
      }
      if (parsed && !takeFast(value, log, groupKey)) {
        log.op(Op.slow);
        log.texts.push(line);
      }
    }
    start = end + 1;
  }
}
