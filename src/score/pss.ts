/**
 * The Program Stability Score: one pass over the traces, five pillars, one
 * weighted integer (docs/scoring.md).
 *
 * @module
 */

import { isScorableTrace, type Trace } from "../trace.ts";
import { type PssConfig, resolveConfig } from "./config.ts";
import type { PssBreakdown, PssReport } from "./report.ts";
import { roundPypss } from "./round.ts";
import { isPlain, isTruthyError, scoreColumns } from "./_columns.ts";

/**
 * The key of a pillar in {@linkcode PssBreakdown}.
 *
 * @example
 * ```ts
 * import { computePss, type PillarKey } from "@pss/pss";
 * import { PILLARS } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1 }, { name: "op", duration: 0.1, error: true }]);
 * const keys: PillarKey[] = PILLARS.map((pillar) => pillar.key);
 * const weakest = keys.reduce((a, b) => (report.breakdown[b] < report.breakdown[a] ? b : a));
 * assert.equal(weakest, "errorVolatility");
 * ```
 */
export type PillarKey = keyof PssBreakdown;

/**
 * Everything a report needs to show one pillar.
 *
 * @example
 * ```ts
 * import { type PillarInfo, PILLARS } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const first: PillarInfo = PILLARS[0];
 * assert.equal(first.label, "Timing Stability");
 * ```
 */
export interface PillarInfo {
  /** The key in {@linkcode PssBreakdown}. */
  readonly key: PillarKey;
  /** The key in pypss's JSON output. */
  readonly pypssKey: string;
  /** The name pypss prints in its text report. */
  readonly label: string;
  /** The two-letter abbreviation used in docs/scoring.md. */
  readonly abbreviation: string;
}

/**
 * The five pillars in pypss's order (timing, memory, errors, branching,
 * concurrency), for rendering breakdowns.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { PILLARS } from "@pss/pss/score";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1 }]);
 * const lines = PILLARS.map((p) => `${p.label}: ${report.breakdown[p.key].toFixed(2)}`);
 * assert.equal(lines[0], "Timing Stability: 1.00");
 * assert.equal(lines.length, 5);
 * ```
 */
export const PILLARS: readonly PillarInfo[] = Object.freeze(
  [
    Object.freeze({
      key: "timingStability",
      pypssKey: "timing_stability",
      label: "Timing Stability",
      abbreviation: "TS",
    }),
    Object.freeze({
      key: "memoryStability",
      pypssKey: "memory_stability",
      label: "Memory Stability",
      abbreviation: "MS",
    }),
    Object.freeze({
      key: "errorVolatility",
      pypssKey: "error_volatility",
      label: "Error Volatility",
      abbreviation: "EV",
    }),
    Object.freeze({
      key: "branchingEntropy",
      pypssKey: "branching_entropy",
      label: "Branching Entropy",
      abbreviation: "BE",
    }),
    Object.freeze({
      key: "concurrencyChaos",
      pypssKey: "concurrency_chaos",
      label: "Concurrency Chaos",
      abbreviation: "CC",
    }),
  ] as const,
);

/** First capacity of the column arrays when the input length is unknown. */
const INITIAL_CAPACITY = 1024;

/** First capacity of a per-name group's column arrays. */
const GROUP_CAPACITY = 16;

/**
 * The regular traces of one group: durations, memory and wait times in
 * typed arrays that grow by doubling; errors and branch tags reduced to
 * counters on the way. `size` entries of each array are in use.
 */
class Columns {
  size = 0;
  durations: Float64Array;
  memory: Float64Array;
  waits: Float64Array;
  errors = 0;
  run = 0;
  longestRun = 0;
  skipped = 0;
  tagIndex: Map<string, number> = new Map();
  tagCounts: number[] = [];
  lastTag = "";
  lastTagIndex = -1;

  constructor(capacity: number, reuse?: ColumnBuffers) {
    const size = Math.max(1, capacity);
    this.durations = reuse?.durations ?? new Float64Array(size);
    this.memory = reuse?.memory ?? new Float64Array(size);
    this.waits = reuse?.waits ?? new Float64Array(size);
  }
}

/** The three column arrays, kept between calls of `computePss`. */
interface ColumnBuffers {
  durations: Float64Array;
  memory: Float64Array;
  waits: Float64Array;
}

/**
 * The column arrays of the last `computePss`, for the next one to reuse:
 * scoring a million traces needs 24 MB of columns, and allocating them
 * anew each time makes the engine collect (and trace every live object)
 * far more often. Held weakly, so a collection frees them; only
 * `computePss` takes them, and it takes them out while it runs.
 */
let spareBuffers: WeakRef<ColumnBuffers> | undefined;

function takeSpareBuffers(capacity: number): ColumnBuffers | undefined {
  const spare = spareBuffers?.deref();
  if (spare === undefined || spare.durations.length < capacity) {
    return undefined;
  }
  spareBuffers = undefined;
  return spare;
}

/** The loop-lag samples of system traces, shared by every group. */
interface SystemSamples {
  lags: number[];
  skipped: number;
  /** Well-formed system traces without a lag: read, used by no pillar. */
  unused: number;
}

function grown(data: Float64Array, capacity: number): Float64Array {
  const next = new Float64Array(capacity);
  next.set(data);
  return next;
}

/** Takes a system trace: its lag when present; counts it when rejected. */
function addSystemTrace(trace: Trace, system: SystemSamples): void {
  if (!isScorableTrace(trace)) {
    system.skipped++;
    return;
  }
  const metadata = trace.metadata;
  if (
    metadata !== null && typeof metadata === "object" &&
    Object.hasOwn(metadata, "lag")
  ) {
    system.lags.push(metadata.lag as number);
  } else {
    system.unused++;
  }
}

/**
 * The single pass of docs/scoring.md, section 3. With `byName`, regular traces go to one
 * group per `name`; otherwise all go to the group "". The current group's
 * state lives in local variables (this loop is the hot path of scoring a
 * million traces) and is written back whenever the name changes, and at the
 * end. Entries that are not objects count as skipped system traces.
 */
function extract(
  traces: Iterable<Trace>,
  byName: boolean,
): { groups: Map<string, Columns>; system: SystemSamples } {
  const isArray = Array.isArray(traces);
  const array = isArray ? traces as readonly Trace[] : [];
  const iterator = isArray ? undefined : traces[Symbol.iterator]();
  const system: SystemSamples = { lags: [], skipped: 0, unused: 0 };
  const groups = new Map<string, Columns>();

  const capacity = byName
    ? GROUP_CAPACITY
    : isArray
    ? array.length
    : INITIAL_CAPACITY;
  let group = new Columns(
    capacity,
    byName ? undefined : takeSpareBuffers(capacity),
  );
  let hasGroup = !byName;
  let groupName = "";
  if (!byName) groups.set("", group);
  // The current group's state, in locals rather than fields or closure
  // variables: this loop is the hot path of scoring a million traces.
  let size = 0;
  let durations = group.durations;
  let memories = group.memory;
  let waits = group.waits;
  let errors = 0;
  let run = 0;
  let longestRun = 0;
  let skipped = 0;
  let tagIndex = group.tagIndex;
  let tagCounts = group.tagCounts;
  let lastTag = "";
  let lastTagIndex = -1;

  let position = 0;
  while (true) {
    let trace: Trace;
    if (isArray) {
      if (position >= array.length) break;
      trace = array[position++];
    } else {
      const next = iterator!.next();
      if (next.done) break;
      trace = next.value;
    }
    if (trace === null || typeof trace !== "object") {
      system.skipped++;
      continue;
    }
    if (trace.systemMetric) {
      addSystemTrace(trace, system);
      continue;
    }
    if (byName) {
      const name = typeof trace.name === "string" ? trace.name : "";
      if (!hasGroup || name !== groupName) {
        if (hasGroup) {
          group.size = size;
          group.durations = durations;
          group.memory = memories;
          group.waits = waits;
          group.errors = errors;
          group.run = run;
          group.longestRun = longestRun;
          group.skipped = skipped;
          group.lastTag = lastTag;
          group.lastTagIndex = lastTagIndex;
        }
        let next = groups.get(name);
        if (next === undefined) {
          next = new Columns(GROUP_CAPACITY);
          groups.set(name, next);
        }
        group = next;
        groupName = name;
        hasGroup = true;
        size = group.size;
        durations = group.durations;
        memories = group.memory;
        waits = group.waits;
        errors = group.errors;
        run = group.run;
        longestRun = group.longestRun;
        skipped = group.skipped;
        tagIndex = group.tagIndex;
        tagCounts = group.tagCounts;
        lastTag = group.lastTag;
        lastTagIndex = group.lastTagIndex;
      }
    }

    const duration = trace.duration;
    const memory = trace.memory;
    const wait = trace.waitTime;
    // Fast path for well-formed traces; anything else is decided by the
    // codec's own rule, so there is one definition of "scorable".
    if (
      !(isPlain(duration) && isPlain(memory) && isPlain(wait)) &&
      !isScorableTrace(trace)
    ) {
      skipped++;
      continue;
    }
    if (size === durations.length) {
      const capacity = size * 2;
      durations = grown(durations, capacity);
      memories = grown(memories, capacity);
      waits = grown(waits, capacity);
    }
    durations[size] = duration === undefined ? 0 : duration;
    memories[size] = memory === undefined ? 0 : memory;
    waits[size] = wait === undefined ? 0 : wait;
    size++;

    const error = trace.error;
    if (
      error === true ||
      (error !== undefined && error !== false && isTruthyError(error))
    ) {
      errors++;
      if (++run > longestRun) longestRun = run;
    } else {
      run = 0;
    }

    const tag = trace.branchTag;
    if (typeof tag === "string" && tag !== "") {
      if (tag === lastTag) {
        tagCounts[lastTagIndex]++;
      } else {
        let index = tagIndex.get(tag);
        if (index === undefined) {
          index = tagCounts.length;
          tagIndex.set(tag, index);
          tagCounts.push(0);
        }
        tagCounts[index]++;
        lastTag = tag;
        lastTagIndex = index;
      }
    }
  }
  if (hasGroup) {
    group.size = size;
    group.durations = durations;
    group.memory = memories;
    group.waits = waits;
    group.errors = errors;
    group.run = run;
    group.longestRun = longestRun;
    group.skipped = skipped;
    group.lastTag = lastTag;
    group.lastTagIndex = lastTagIndex;
  }
  return { groups, system };
}

/** The score of one group from its columns and the shared system samples. */
function score(
  columns: Columns,
  system: SystemSamples,
  config: Readonly<PssConfig>,
): PssReport {
  return scoreColumns(
    {
      size: columns.size,
      durations: columns.durations,
      memory: columns.memory,
      waits: columns.waits,
      errors: columns.errors,
      longestRun: columns.longestRun,
      tagCounts: columns.tagCounts,
    },
    system.lags,
    columns.skipped + system.skipped,
    config,
    system.unused,
  );
}

/**
 * Scores a set of traces as pypss 1.3.1's `compute_pss_from_traces` does:
 * the same integer `pss` and each pillar within 1e-9 (docs/scoring.md).
 *
 * One pass over `traces`, in order, without copying the input: durations,
 * memory and wait times go into typed arrays, errors and branch tags into
 * counters, and the percentiles and median come from selection rather than
 * sorting (about 40 times faster than pypss on a million traces). System
 * traces contribute only their `metadata.lag`. Malformed traces (see
 * `isScorableTrace`) are skipped and counted in `skippedCount`, never thrown.
 * Never returns NaN: with nothing to score (no regular trace and no lag
 * sample) the result is 0 with every pillar 0, as in pypss.
 *
 * @param traces Any iterable of traces: an array, a collector snapshot, a
 * generator reading a file.
 * @param config Settings to change from pypss's defaults.
 * @returns The report: `pss` (0–100), the unrounded `breakdown`, and counts.
 * @throws {PssConfigError} When `config` is invalid (before reading any
 * trace).
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const report = computePss([
 *   { name: "op", duration: 0.10 },
 *   { name: "op", duration: 0.11 },
 *   { name: "op", duration: 0.50, error: true },
 * ]);
 * assert.equal(report.pss, 58);
 * assert.ok(report.breakdown.errorVolatility < 0.5); // one failure in three
 * ```
 */
export function computePss(
  traces: Iterable<Trace>,
  config: Partial<PssConfig> = {},
): PssReport {
  const resolved = resolveConfig(config);
  const { groups, system } = extract(traces, false);
  const columns = groups.get("")!;
  const report = score(columns, system, resolved);
  const { durations, memory, waits } = columns;
  spareBuffers = new WeakRef({ durations, memory, waits });
  return report;
}

/**
 * The report of one trace name, as {@linkcode computePssByName} lists them.
 *
 * @example
 * ```ts
 * import { computePssByName, type NamedPssReport } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const rows: NamedPssReport[] = computePssByName([{ name: "op", duration: 0.1 }]);
 * assert.equal(rows[0].name, "op");
 * ```
 */
export interface NamedPssReport {
  /** The trace `name` this report covers. */
  name: string;
  /** Its score. */
  report: PssReport;
}

/**
 * Scores each trace `name` separately, in one pass: the rows of a
 * per-operation report table, sorted by name (UTF-16 code unit order).
 *
 * System traces (event-loop lag) have no operation of their own: loop lag
 * delays every operation, so each name's Concurrency Chaos includes all lag
 * samples, and each report's `systemTraceCount` counts them all. Skipped
 * traces count in their own name's report; skipped system traces and entries
 * that are not objects count in every report. A name whose traces were all
 * rejected still gets a row (score 0, `skippedCount` > 0). Only system
 * traces, or no traces, give an empty list.
 *
 * @param traces Any iterable of traces.
 * @param config Settings to change from pypss's defaults.
 * @returns One row per name, sorted by name.
 * @throws {PssConfigError} When `config` is invalid.
 *
 * @example
 * ```ts
 * import { computePssByName } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const rows = computePssByName([
 *   { name: "db.query", duration: 0.012 },
 *   { name: "cache.get", duration: 0.001 },
 *   { name: "db.query", duration: 0.015 },
 * ]);
 * assert.deepEqual(rows.map(({ name, report }) => [name, report.pss]), [
 *   ["cache.get", 100],
 *   ["db.query", 87],
 * ]);
 * ```
 */
export function computePssByName(
  traces: Iterable<Trace>,
  config: Partial<PssConfig> = {},
): NamedPssReport[] {
  const resolved = resolveConfig(config);
  const { groups, system } = extract(traces, true);
  const names = [...groups.keys()].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
  return names.map((name) => ({
    name,
    report: score(groups.get(name)!, system, resolved),
  }));
}

/**
 * pypss's JSON form of a report.
 *
 * @example
 * ```ts
 * import { computePss, renderReportJson } from "@pss/pss";
 * import type { PypssReportJson } from "@pss/pss/report";
 * import assert from "node:assert/strict";
 * const json: PypssReportJson = JSON.parse(renderReportJson(computePss([{ name: "op", duration: 0.1 }])));
 * assert.equal(json.pss, 100);
 * assert.equal(json.breakdown.timing_stability, 1);
 * ```
 */
export interface PypssReportJson {
  /** The integer score, 0–100. */
  pss: number;
  /** Each pillar rounded to 2 decimals, in pypss's key order. */
  breakdown: {
    /** Timing Stability. */
    timing_stability: number;
    /** Memory Stability. */
    memory_stability: number;
    /** Error Volatility. */
    error_volatility: number;
    /** Branching Entropy. */
    branching_entropy: number;
    /** Concurrency Chaos. */
    concurrency_chaos: number;
  };
}

/**
 * Converts a report to exactly what pypss's `compute_pss_from_traces`
 * returns: `{ pss, breakdown: { timing_stability, … } }` with snake_case keys
 * in pypss's order and each pillar rounded like Python's `round(x, 2)`, so
 * `JSON.stringify` of it can be compared with pypss output.
 *
 * @param report A report from {@linkcode computePss}.
 * @returns The pypss-shaped object.
 *
 * @example
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { toPypssJson } from "./pss.ts";
 * import assert from "node:assert/strict";
 * const report = computePss([{ name: "op", duration: 0.1, error: true }]);
 * assert.equal(
 *   JSON.stringify(toPypssJson(report)),
 *   '{"pss":84,"breakdown":{"timing_stability":1,"memory_stability":1,"error_volatility":0.18,"branching_entropy":1,"concurrency_chaos":1}}',
 * );
 * ```
 */
export function toPypssJson(report: PssReport): PypssReportJson {
  const b = report.breakdown;
  return {
    pss: report.pss,
    breakdown: {
      timing_stability: roundPypss(b.timingStability, 2),
      memory_stability: roundPypss(b.memoryStability, 2),
      error_volatility: roundPypss(b.errorVolatility, 2),
      branching_entropy: roundPypss(b.branchingEntropy, 2),
      concurrency_chaos: roundPypss(b.concurrencyChaos, 2),
    },
  };
}
