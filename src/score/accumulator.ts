/**
 * A streaming entry point to scoring: feed traces (or their values) one at
 * a time, keep only the columns that scoring reads (three numbers a trace,
 * plus a group number when rows are wanted), then finish into the same
 * report `computePss` gives, per group too, with the figures reports show.
 *
 * @module
 */

import { isScorableTrace, type Trace } from "../trace.ts";
import { type PssConfig, resolveConfig } from "./config.ts";
import type { PssReport } from "./report.ts";
import { combine, isPlain, isTruthyError, scoreColumns } from "./_columns.ts";
import { branchingEntropy } from "./branching.ts";
import { concurrencyChaos } from "./concurrency.ts";
import { errorVolatility } from "./errors.ts";
import { memoryStability } from "./memory.ts";
import { timingStability } from "./timing.ts";
import { exclusiveQuantiles, max, sum } from "./stats.ts";
import { checkKnownKeys, oneOf, positiveInteger } from "../_options.ts";

/**
 * Options of a {@linkcode PssAccumulator}.
 *
 * @example
 * ```ts
 * import { PssAccumulator, type PssAccumulatorOptions } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const options: PssAccumulatorOptions = { groups: "process" };
 * const accumulator = new PssAccumulator(options);
 * accumulator.add({ name: "op", duration: 0.1 }, "host-a:41");
 * assert.equal(accumulator.groupRows().length, 1);
 * ```
 */
export interface PssAccumulatorOptions {
  /**
   * Whether to keep per-group rows, and how loop-lag samples count in them:
   * `"shared"` (groups are operations: every group's Concurrency Chaos
   * includes all lag samples, as `computePssByName` does) or `"process"`
   * (groups are processes: a lag sample counts only in its own group).
   * `false` keeps no rows and needs no memory for them.
   * @default {false}
   */
  groups?: false | "shared" | "process";
  /**
   * Distinct exception types counted per group; further types count under
   * `"(other)"`, so hostile input cannot grow memory without bound.
   * @default {64}
   */
  maxExceptionTypes?: number;
}

/**
 * Latency percentiles of a set of traces, in seconds (Python's exclusive
 * quantiles, as pypss computes its timing tail).
 *
 * @example
 * ```ts
 * import { PssAccumulator, type LatencySummary } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const accumulator = new PssAccumulator();
 * for (const duration of [0.1, 0.2, 0.3]) accumulator.add({ name: "op", duration });
 * const latency: LatencySummary | undefined = accumulator.details().latency;
 * assert.equal(latency?.p50, 0.2);
 * assert.equal(latency?.max, 0.3);
 * ```
 */
export interface LatencySummary {
  /** Median duration. */
  p50: number;
  /** 95th percentile. */
  p95: number;
  /** 99th percentile. */
  p99: number;
  /** Longest duration. */
  max: number;
}

/**
 * Event-loop lag figures of the system traces, in seconds.
 *
 * @example
 * ```ts
 * import { type LagSummary, PssAccumulator } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const accumulator = new PssAccumulator();
 * accumulator.addLag(0.002);
 * accumulator.addLag(0.004);
 * const lag: LagSummary | undefined = accumulator.details().lag;
 * assert.equal(lag?.samples, 2);
 * assert.equal(lag?.max, 0.004);
 * ```
 */
export interface LagSummary {
  /** Mean lag. */
  mean: number;
  /** 95th percentile of the lag (the sample itself when there is one). */
  p95: number;
  /** Largest lag. */
  max: number;
  /** How many samples. */
  samples: number;
}

/**
 * The figures behind a score: counts, the commonest exception types,
 * latency percentiles and histogram, event-loop lag, an error timeline and
 * the branch-tag distribution.
 *
 * @example
 * ```ts
 * import { PssAccumulator, type TraceDetails } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const accumulator = new PssAccumulator();
 * accumulator.add({ name: "op", duration: 0.1, error: true, exceptionType: "TimeoutError" });
 * const details: TraceDetails = accumulator.details();
 * assert.equal(details.errors, 1);
 * assert.deepEqual(details.exceptions, [{ type: "TimeoutError", count: 1 }]);
 * ```
 */
export interface TraceDetails {
  /** Regular traces scored. */
  traces: number;
  /** How many of them are errors. */
  errors: number;
  /** Exception types with their counts, commonest first (at most 5). */
  exceptions: { type: string; count: number }[];
  /** Duration percentiles; `undefined` without traces. */
  latency: LatencySummary | undefined;
  /** Loop-lag figures; `undefined` without lag samples. */
  lag: LagSummary | undefined;
  /**
   * A duration histogram: `edges` has one more entry than `counts`
   * (seconds, logarithmic when durations span more than a factor of 20).
   */
  histogram: { edges: number[]; counts: number[] };
  /**
   * Traces and errors per slice of the input, in input order: slice `i`
   * holds the traces read from position `i·width` on (positions count
   * every regular trace of the input, so groups share one axis).
   */
  timeline: { width: number; traces: number[]; errors: number[] };
  /** Branch tags with their counts, commonest first. */
  branchTags: { tag: string; count: number }[];
}

/**
 * One group's score and figures, as {@linkcode PssAccumulator.groupRows}
 * lists them.
 *
 * @example
 * ```ts
 * import { type GroupRow, PssAccumulator } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const accumulator = new PssAccumulator({ groups: "shared" });
 * accumulator.add({ name: "db.query", duration: 0.01 }, "db.query");
 * const [row]: GroupRow[] = accumulator.groupRows();
 * assert.deepEqual([row.name, row.report.pss, row.details.traces], ["db.query", 100, 1]);
 * ```
 */
export interface GroupRow {
  /** The group's key (an operation name, a module, a host, a process). */
  name: string;
  /** Its score. */
  report: PssReport;
  /** Its figures. */
  details: TraceDetails;
}

/** Slices of the error timeline. */
const TIMELINE_SLICES = 48;

/** Bins of the latency histogram. */
const HISTOGRAM_BINS = 24;

/**
 * Values per column block. Columns grow by whole blocks rather than by
 * doubling and copying: no garbage while reading, and no page faults for
 * copies (measured: doubling cost Bun a third more CPU time on a million
 * traces).
 */
const BLOCK = 65536;

/** The scale of columns in seconds: whole microseconds fit in 32 bits. */
const MICROSECONDS = 1e6;

/**
 * One scored column, in blocks. A block holds its values as 32-bit
 * integers, value × `scale`, while every value so far is exactly such an
 * integer divided by `scale` (checked as it is stored, so reading back gives
 * the same number bit for bit): whole bytes, and seconds at microsecond
 * resolution, as timers give and pypss writes them. The first value that
 * does not fit turns the block, and every later one, into 64-bit floats.
 * Half the memory for the common case; and fresh memory is costly to touch
 * (measured here: about 5 ms per MB on first write, on Deno and Bun alike).
 */
class Column {
  readonly scale: number;
  readonly blocks: (Float64Array | Uint32Array)[] = [];
  #narrow: Uint32Array | undefined;
  #wide: Float64Array = new Float64Array(0);
  #fits = true;

  constructor(scale: number) {
    this.scale = scale;
  }

  addBlock(): void {
    if (this.#fits) {
      this.#narrow = new Uint32Array(BLOCK);
      this.blocks.push(this.#narrow);
    } else {
      this.#wide = new Float64Array(BLOCK);
      this.blocks.push(this.#wide);
    }
  }

  put(offset: number, value: number): void {
    const narrow = this.#narrow;
    if (narrow !== undefined) {
      const scale = this.scale;
      const scaled = Math.round(value * scale);
      // -0 would come back as 0: it widens the block, as anything else
      // that would not come back the same.
      if (
        scaled / scale === value && scaled <= 0xffffffff &&
        (scaled !== 0 || 1 / value > 0)
      ) {
        narrow[offset] = scaled;
        return;
      }
      this.#widen(narrow, offset);
    }
    this.#wide[offset] = value;
  }

  #widen(narrow: Uint32Array, offset: number): void {
    const wide = new Float64Array(BLOCK);
    const scale = this.scale;
    for (let i = 0; i < offset; i++) wide[i] = narrow[i] / scale;
    this.blocks[this.blocks.length - 1] = wide;
    this.#wide = wide;
    this.#narrow = undefined;
    this.#fits = false;
  }
}

/** Counters of one group (or of everything), updated per trace. */
class Counters {
  size = 0;
  errors = 0;
  run = 0;
  longestRun = 0;
  skipped = 0;
  readonly tagIndex = new Map<string, number>();
  readonly tagCounts: number[] = [];
  readonly tagNames: string[] = [];
  lastTag = "";
  lastTagIndex = -1;
  readonly exceptions = new Map<string, number>();
  sliceTraces: Uint32Array = new Uint32Array(TIMELINE_SLICES);
  sliceErrors: Uint32Array = new Uint32Array(TIMELINE_SLICES);
  lags: number[] = [];
}

const OWNER = "PssAccumulator";
/** Every key of {@linkcode PssAccumulatorOptions}. */
const OPTION_KEYS: readonly (keyof PssAccumulatorOptions)[] = [
  "groups",
  "maxExceptionTypes",
];
const GROUPS = [false, "shared", "process"] as const;

/**
 * Scores traces as they stream by, holding three numbers per regular trace
 * (12 bytes for whole bytes and microsecond timings, 24 at most; 4 more
 * with group rows) rather than the traces themselves.
 * `report()` equals `computePss` over the same traces, and `groupRows()`
 * with `groups: "shared"` and the trace names as groups equals
 * `computePssByName`: same integers, same pillars, same counts.
 *
 * @example Score a stream without keeping it
 * ```ts
 * import { computePss, type Trace } from "@pss/pss";
 * import { PssAccumulator } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const traces: Trace[] = [
 *   { name: "a", duration: 0.1 },
 *   { name: "b", duration: 0.3, error: true },
 *   { name: "a", duration: 0.2, branchTag: "hit" },
 * ];
 * const accumulator = new PssAccumulator({ groups: "shared" });
 * for (const trace of traces) accumulator.add(trace, trace.name);
 * assert.equal(accumulator.report().pss, computePss(traces).pss);
 * assert.deepEqual(accumulator.groupRows().map((row) => row.name), ["a", "b"]);
 * ```
 */
export class PssAccumulator {
  readonly #grouped: boolean;
  readonly #lagsPerGroup: boolean;
  readonly #maxExceptionTypes: number;
  readonly #durations = new Column(MICROSECONDS);
  readonly #memory = new Column(1);
  readonly #waits = new Column(MICROSECONDS);
  readonly #groupIdBlocks: Uint32Array[] = [];
  #groupIds = new Uint32Array(0);
  /** Position in the current blocks. */
  #offset = 0;
  /** The current timeline slice, and the position where it ends. */
  #slice = 0;
  #sliceEnd = 1;
  /** One column's worth of scratch space for finishing, kept once made. */
  #scratch: Float64Array | undefined;
  /** How many durations the scratch column holds (in some order); -1: none. */
  #scratchDurations = -1;
  readonly #all = new Counters();
  readonly #groups: Counters[] = [];
  readonly #groupNames: string[] = [];
  readonly #groupIndex = new Map<string, number>();
  #lastGroupName: string | undefined = undefined;
  #lastGroupId = 0;
  #systemSkipped = 0;
  #unreadable = 0;
  #unused = 0;
  #sliceWidth = 1;

  /**
   * Creates an empty accumulator.
   *
   * @param options See {@linkcode PssAccumulatorOptions}.
   * @throws {PssConfigError} For an unknown option (naming the closest
   * known one), a `groups` that is not `false`, `"shared"` or `"process"`,
   * or a `maxExceptionTypes` that is not a positive integer.
   */
  constructor(options: PssAccumulatorOptions = {}) {
    checkKnownKeys(OWNER, options, OPTION_KEYS);
    const groups = options.groups === undefined
      ? false
      : oneOf(OWNER, "groups", options.groups, GROUPS);
    this.#grouped = groups !== false;
    this.#lagsPerGroup = groups === "process";
    this.#maxExceptionTypes = options.maxExceptionTypes === undefined
      ? 64
      : positiveInteger(OWNER, "maxExceptionTypes", options.maxExceptionTypes);
    this.#offset = BLOCK;
  }

  /** Whether the accumulator keeps per-group rows. */
  get grouped(): boolean {
    return this.#grouped;
  }

  /** Regular traces taken so far. */
  get traceCount(): number {
    return this.#all.size;
  }

  /**
   * Takes one trace by the rules of `computePss`: a system trace gives its
   * loop lag, a malformed trace is counted as skipped.
   *
   * @param trace The trace.
   * @param group Its group's key, for `groupRows()`; ignored without
   * groups.
   */
  add(trace: Trace, group = ""): void {
    if (trace === null || typeof trace !== "object") {
      this.addSkipped(undefined);
      return;
    }
    if (trace.systemMetric) {
      if (!isScorableTrace(trace)) {
        this.addSkipped(undefined);
        return;
      }
      const metadata = trace.metadata;
      if (
        metadata !== null && typeof metadata === "object" &&
        Object.hasOwn(metadata, "lag")
      ) this.addLag(metadata.lag as number, group);
      else this.addUnused();
      return;
    }
    const { duration, memory, waitTime } = trace;
    if (
      !(isPlain(duration) && isPlain(memory) && isPlain(waitTime)) &&
      !isScorableTrace(trace)
    ) {
      this.addSkipped(group);
      return;
    }
    const tag = trace.branchTag;
    const exceptionType = trace.exceptionType;
    this.addValues(
      duration ?? 0,
      memory ?? 0,
      waitTime ?? 0,
      trace.error === true ||
        (trace.error !== undefined && isTruthyError(trace.error)),
      typeof tag === "string" && tag !== "" ? tag : undefined,
      typeof exceptionType === "string" ? exceptionType : undefined,
      group,
    );
  }

  /**
   * Takes one regular trace's values, already checked: finite numbers
   * ≥ 0 (0 for a missing one).
   *
   * @param duration Seconds.
   * @param memory Bytes.
   * @param waitTime Seconds.
   * @param error Whether it failed.
   * @param branchTag Its non-empty branch tag, if any.
   * @param exceptionType Its exception type, if any.
   * @param group Its group's key; ignored without groups.
   */
  addValues(
    duration: number,
    memory: number,
    waitTime: number,
    error: boolean,
    branchTag: string | undefined,
    exceptionType: string | undefined,
    group: string,
  ): void {
    const all = this.#all;
    const position = all.size;
    if (this.#offset === BLOCK) this.#addBlock();
    const offset = this.#offset++;
    this.#durations.put(offset, duration);
    this.#memory.put(offset, memory);
    this.#waits.put(offset, waitTime);
    if (position === this.#sliceEnd) {
      if (++this.#slice === TIMELINE_SLICES) this.#widenTimeline();
      this.#sliceEnd += this.#sliceWidth;
    }
    const slice = this.#slice;
    count(all, error, branchTag, exceptionType, slice, this.#maxExceptionTypes);
    if (this.#grouped) {
      const id = this.#groupId(group);
      this.#groupIds[offset] = id;
      count(
        this.#groups[id],
        error,
        branchTag,
        exceptionType,
        slice,
        this.#maxExceptionTypes,
      );
    }
  }

  /**
   * Takes one event-loop lag sample (a system trace's `metadata.lag`).
   *
   * @param lag Seconds, finite and ≥ 0.
   * @param group Its group's key; with `groups: "process"` the sample
   * counts only there.
   */
  addLag(lag: number, group = ""): void {
    this.#all.lags.push(lag);
    if (this.#lagsPerGroup) {
      const id = this.#groupId(group);
      this.#groups[id].lags.push(lag);
    }
  }

  /**
   * Counts one rejected trace in `skippedCount`.
   *
   * @param group The group of a rejected regular trace; `undefined` for a
   * rejected system trace or entry, which counts in every group.
   */
  addSkipped(group: string | undefined): void {
    if (group === undefined) {
      this.#systemSkipped++;
      return;
    }
    this.#all.skipped++;
    if (this.#grouped) this.#groups[this.#groupId(group)].skipped++;
  }

  /**
   * Counts one well-formed system trace without a loop lag: used by no
   * pillar, counted in `unusedCount`.
   */
  addUnused(): void {
    this.#unused++;
  }

  /**
   * Counts one entry that could not be read as a trace at all (invalid
   * JSON, a rejected record): in the overall `skippedCount` only, since it
   * has no group.
   */
  addUnreadable(): void {
    this.#unreadable++;
  }

  /**
   * The overall report: equal to `computePss` over the same traces (with
   * entries counted by `addUnreadable()` added to `skippedCount`).
   *
   * @param config Settings to change from pypss's defaults.
   * @returns The report.
   * @throws {PssConfigError} When `config` is invalid.
   */
  report(config: Partial<PssConfig> = {}): PssReport {
    const resolved = resolveConfig(config);
    const all = this.#all;
    const n = all.size;
    const lags = all.lags;
    const skipped = all.skipped + this.#systemSkipped + this.#unreadable;
    if (n === 0) {
      const none = new Float64Array(0);
      return scoreColumns(
        {
          size: 0,
          durations: none,
          memory: none,
          waits: none,
          errors: 0,
          longestRun: 0,
          tagCounts: [],
        },
        lags,
        skipped,
        resolved,
      );
    }
    // The pillars reorder what they read, and rows need the input order:
    // each column is joined into one scratch column, in turn, so finishing
    // costs one more column, not three.
    const cc = concurrencyChaos(this.#joined(this.#waits), lags, resolved);
    const ms = memoryStability(this.#joined(this.#memory), resolved);
    // Durations last: details() reads them from the scratch column as the
    // timing pillar left them (the same values, partly ordered already).
    const ts = timingStability(this.#joined(this.#durations), resolved);
    this.#scratchDurations = n;
    const ev = errorVolatility({
      total: n,
      errors: all.errors,
      longestRun: all.longestRun,
    }, resolved);
    const be = branchingEntropy(all.tagCounts);
    return combine(
      ts,
      ms,
      ev,
      be,
      cc,
      n,
      lags.length,
      skipped,
      resolved,
      this.#unused,
    );
  }

  /**
   * The figures of everything taken so far.
   *
   * @returns The details.
   */
  details(): TraceDetails {
    const all = this.#all;
    const durations = this.#scratchDurations === all.size
      ? this.#scratchOf(all.size)
      : this.#joined(this.#durations);
    this.#scratchDurations = all.size;
    return detailsOf(all, durations, all.lags, this.#sliceWidth);
  }

  /**
   * One row per group, sorted by key (UTF-16 code unit order); empty
   * without groups. With `groups: "shared"` and trace names as keys, each
   * report equals the row of `computePssByName`.
   *
   * @param config Settings to change from pypss's defaults.
   * @returns The rows.
   * @throws {PssConfigError} When `config` is invalid.
   */
  groupRows(config: Partial<PssConfig> = {}): GroupRow[] {
    const resolved = resolveConfig(config);
    const groups = this.#groups;
    const count = groups.length;
    if (count === 0) return [];
    const n = this.#all.size;
    const idBlocks = this.#groupIdBlocks;
    const sizeOf = (b: number): number =>
      b === idBlocks.length - 1 ? n - b * BLOCK : BLOCK;
    // A stable counting sort by group, one column at a time through one
    // scratch column: each group's values stay in input order, as
    // computePssByName sees them, and memory grows by one column only.
    const starts = new Uint32Array(count + 1);
    for (let b = 0; b < idBlocks.length; b++) {
      const ids = idBlocks[b];
      for (let i = 0, size = sizeOf(b); i < size; i++) starts[ids[i] + 1]++;
    }
    for (let g = 0; g < count; g++) starts[g + 1] += starts[g];
    const scratch = this.#scratchOf(n);
    const fill = (column: Column): void => {
      const next = starts.slice(0, count);
      const blocks = column.blocks;
      for (let b = 0; b < blocks.length; b++) {
        const ids = idBlocks[b];
        const block = blocks[b];
        if (block instanceof Float64Array) {
          for (let i = 0, size = sizeOf(b); i < size; i++) {
            scratch[next[ids[i]]++] = block[i];
          }
        } else {
          const scale = column.scale;
          for (let i = 0, size = sizeOf(b); i < size; i++) {
            scratch[next[ids[i]]++] = block[i] / scale;
          }
        }
      }
    };
    const slice = (g: number): Float64Array =>
      scratch.subarray(starts[g], starts[g + 1]);
    const sharedLags = this.#lagsPerGroup ? undefined : this.#all.lags;
    const lagsOf = (g: number): number[] => sharedLags ?? groups[g].lags;

    const cc = new Float64Array(count);
    fill(this.#waits);
    for (let g = 0; g < count; g++) {
      cc[g] = concurrencyChaos(slice(g), lagsOf(g), resolved);
    }
    const ms = new Float64Array(count);
    fill(this.#memory);
    for (let g = 0; g < count; g++) {
      ms[g] = memoryStability(slice(g), resolved);
    }
    const ts = new Float64Array(count);
    const details: TraceDetails[] = [];
    fill(this.#durations);
    for (let g = 0; g < count; g++) {
      const durations = slice(g);
      ts[g] = timingStability(durations, resolved);
      details.push(
        detailsOf(groups[g], durations, lagsOf(g), this.#sliceWidth),
      );
    }
    const rows: GroupRow[] = [];
    for (let g = 0; g < count; g++) {
      const group = groups[g];
      const size = group.size;
      const lags = lagsOf(g);
      const ev = errorVolatility({
        total: size,
        errors: group.errors,
        longestRun: group.longestRun,
      }, resolved);
      const be = branchingEntropy(group.tagCounts);
      rows.push({
        name: this.#groupNames[g],
        report: combine(
          ts[g],
          ms[g],
          ev,
          be,
          cc[g],
          size,
          lags.length,
          group.skipped + this.#systemSkipped,
          resolved,
          this.#unused,
        ),
        details: details[g],
      });
    }
    return rows.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  #groupId(group: string): number {
    if (group === this.#lastGroupName) return this.#lastGroupId;
    let id = this.#groupIndex.get(group);
    if (id === undefined) {
      id = this.#groups.length;
      this.#groups.push(new Counters());
      this.#groupNames.push(group);
      this.#groupIndex.set(group, id);
    }
    this.#lastGroupName = group;
    this.#lastGroupId = id;
    return id;
  }

  #addBlock(): void {
    this.#durations.addBlock();
    this.#memory.addBlock();
    this.#waits.addBlock();
    if (this.#grouped) {
      this.#groupIds = new Uint32Array(BLOCK);
      this.#groupIdBlocks.push(this.#groupIds);
    }
    this.#offset = 0;
  }

  #scratchOf(n: number): Float64Array {
    this.#scratchDurations = -1;
    if (this.#scratch === undefined || this.#scratch.length < n) {
      this.#scratch = new Float64Array(n);
    }
    return this.#scratch.subarray(0, n);
  }

  /** One column's blocks joined, in input order, in the scratch column. */
  #joined(column: Column): Float64Array {
    const n = this.#all.size;
    const scratch = this.#scratchOf(n);
    const blocks = column.blocks;
    for (let b = 0; b < blocks.length; b++) {
      const start = b * BLOCK;
      const size = Math.min(BLOCK, n - start);
      const block = blocks[b];
      if (block instanceof Float64Array) {
        scratch.set(size === BLOCK ? block : block.subarray(0, size), start);
      } else {
        const scale = column.scale;
        for (let i = 0; i < size; i++) scratch[start + i] = block[i] / scale;
      }
    }
    return scratch;
  }

  /** Halves the timeline's resolution: slice pairs merge, width doubles. */
  #widenTimeline(): void {
    this.#sliceWidth *= 2;
    this.#slice = TIMELINE_SLICES / 2;
    for (const counters of [this.#all, ...this.#groups]) {
      for (const slices of [counters.sliceTraces, counters.sliceErrors]) {
        for (let i = 0; i < TIMELINE_SLICES / 2; i++) {
          slices[i] = slices[2 * i] + slices[2 * i + 1];
        }
        slices.fill(0, TIMELINE_SLICES / 2);
      }
    }
  }
}

function count(
  counters: Counters,
  error: boolean,
  tag: string | undefined,
  exceptionType: string | undefined,
  slice: number,
  maxExceptionTypes: number,
): void {
  counters.size++;
  counters.sliceTraces[slice]++;
  if (error) {
    counters.errors++;
    counters.sliceErrors[slice]++;
    if (++counters.run > counters.longestRun) {
      counters.longestRun = counters.run;
    }
    if (exceptionType !== undefined) {
      const exceptions = counters.exceptions;
      const known = exceptions.get(exceptionType);
      if (known !== undefined) exceptions.set(exceptionType, known + 1);
      else if (exceptions.size < maxExceptionTypes) {
        exceptions.set(exceptionType, 1);
      } else {
        exceptions.set("(other)", (exceptions.get("(other)") ?? 0) + 1);
      }
    }
  } else {
    counters.run = 0;
  }
  if (tag !== undefined) {
    if (tag === counters.lastTag) {
      counters.tagCounts[counters.lastTagIndex]++;
      return;
    }
    let index = counters.tagIndex.get(tag);
    if (index === undefined) {
      index = counters.tagCounts.length;
      counters.tagIndex.set(tag, index);
      counters.tagCounts.push(0);
      counters.tagNames.push(tag);
    }
    counters.tagCounts[index]++;
    counters.lastTag = tag;
    counters.lastTagIndex = index;
  }
}

/** The figures of one group; reorders `durations`. */
function detailsOf(
  counters: Counters,
  durations: Float64Array,
  lags: readonly number[],
  sliceWidth: number,
): TraceDetails {
  const n = durations.length;
  const exceptions = [...counters.exceptions]
    .map(([type, count]) => ({ type, count }))
    .sort((a, b) => b.count - a.count || (a.type < b.type ? -1 : 1))
    .slice(0, 5);
  const branchTags = counters.tagNames
    .map((tag, i) => ({ tag, count: counters.tagCounts[i] }))
    .sort((a, b) => b.count - a.count || (a.tag < b.tag ? -1 : 1));
  let latency: LatencySummary | undefined;
  let histogram: TraceDetails["histogram"] = { edges: [], counts: [] };
  if (n > 0) {
    const top = max(durations);
    if (n === 1) {
      latency = { p50: top, p95: top, p99: top, max: top };
    } else {
      // Python's exclusive quantiles reach past the largest value on small
      // samples; a report shows durations that occurred, so cap them.
      const [p50, p95, p99] = exclusiveQuantiles(durations, [50, 95, 99])
        .map((q) => Math.min(q, top));
      latency = { p50, p95, p99, max: top };
    }
    histogram = histogramOf(durations, top);
  }
  let lag: LagSummary | undefined;
  if (lags.length > 0) {
    const samples = Float64Array.from(lags);
    const mean = sum(samples) / samples.length;
    const top = max(samples);
    const p95 = samples.length === 1
      ? top
      : Math.min(top, exclusiveQuantiles(samples, [95])[0]);
    lag = { mean, p95, max: top, samples: samples.length };
  }
  let last = 0;
  for (let i = 0; i < TIMELINE_SLICES; i++) {
    if (counters.sliceTraces[i] > 0) last = i + 1;
  }
  return {
    traces: counters.size,
    errors: counters.errors,
    exceptions,
    latency,
    lag,
    histogram,
    timeline: {
      width: sliceWidth,
      traces: Array.from(counters.sliceTraces.subarray(0, last)),
      errors: Array.from(counters.sliceErrors.subarray(0, last)),
    },
    branchTags,
  };
}

function histogramOf(
  durations: Float64Array,
  top: number,
): TraceDetails["histogram"] {
  let low = Infinity;
  for (let i = 0; i < durations.length; i++) {
    const d = durations[i];
    if (d > 0 && d < low) low = d;
  }
  if (!Number.isFinite(low) || top <= 0) {
    return { edges: [0, top > 0 ? top : 1], counts: [durations.length] };
  }
  const logScale = top / low > 20;
  const edges: number[] = [];
  for (let i = 0; i <= HISTOGRAM_BINS; i++) {
    edges.push(
      logScale
        ? low * Math.pow(top / low, i / HISTOGRAM_BINS)
        : (top * i) / HISTOGRAM_BINS,
    );
  }
  const counts = new Array<number>(HISTOGRAM_BINS).fill(0);
  const logLow = Math.log(low);
  const logSpan = Math.log(top) - logLow;
  for (let i = 0; i < durations.length; i++) {
    const d = durations[i];
    let bin: number;
    if (logScale) {
      bin = d <= low
        ? 0
        : Math.floor(((Math.log(d) - logLow) / logSpan) * HISTOGRAM_BINS);
    } else {
      bin = Math.floor((d / top) * HISTOGRAM_BINS);
    }
    counts[bin >= HISTOGRAM_BINS ? HISTOGRAM_BINS - 1 : bin < 0 ? 0 : bin]++;
  }
  return { edges, counts };
}
