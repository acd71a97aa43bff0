/**
 * `pss compare` over two benchmark stability files (`PSS_BENCH_JSON`, the
 * `format: "pss-bench"` documents of `@pss/pss/bench`): each benchmark
 * becomes one row of the comparison, keyed by its file (its path in the
 * project), group and name.
 *
 * @module
 */

import type { PssReport } from "../score/report.ts";
import type { ComparedSide } from "./compare.ts";
import { emptyReport } from "../score/_columns.ts";

interface BenchRowLike {
  name?: unknown;
  group?: unknown;
  file?: unknown;
  pss?: unknown;
  breakdown?: unknown;
  samples?: unknown;
}

/**
 * Whether a JSON text is a benchmark stability file: it starts with an
 * object whose `format` is `"pss-bench"`. Looks only at the text's head, so
 * a trace file of any size is never parsed here.
 *
 * @param head The first bytes of the file, as text.
 * @returns Whether the file is a `pss-bench` document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isBenchJson } from "./bench_compare.ts";
 * assert.equal(isBenchJson('{\n  "format": "pss-bench", "version": 1 }'), true);
 * assert.equal(isBenchJson('{"name":"op","duration":0.1}'), false);
 * ```
 */
export function isBenchJson(head: string): boolean {
  return /^\s*\{\s*"format"\s*:\s*"pss-bench"/.test(head);
}

/** One scored benchmark of a stability file. */
interface BenchEntry {
  file: string | undefined;
  group: string | undefined;
  name: string;
  report: PssReport;
}

/**
 * A benchmark stability file, read: its scored benchmarks. Those without a
 * score (clock-bound, or failed before a measured call) are left out.
 */
export interface BenchFile {
  /** The scored benchmarks. */
  readonly entries: readonly BenchEntry[];
}

/**
 * Reads a benchmark stability file.
 *
 * @param text The whole JSON text of the file.
 * @param source The file's name, for messages.
 * @returns Its scored benchmarks.
 * @throws {Error} When the text is not a `pss-bench` document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readBenchFile } from "./bench_compare.ts";
 * const breakdown = {
 *   timingStability: 0.9, memoryStability: 1, errorVolatility: 1,
 *   branchingEntropy: 1, concurrencyChaos: 1,
 * };
 * const file = readBenchFile(JSON.stringify({
 *   format: "pss-bench", version: 1,
 *   benchmarks: [
 *     { name: "parse", group: "json", file: null, pss: 97, breakdown, samples: 500 },
 *     { name: "tiny", group: null, file: null, pss: null, breakdown: null, samples: 0 },
 *   ],
 * }), "head.json");
 * assert.deepEqual(file.entries.map((entry) => entry.name), ["parse"]);
 * ```
 */
export function readBenchFile(text: string, source: string): BenchFile {
  let document: { format?: unknown; benchmarks?: unknown };
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `${source} is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (document?.format !== "pss-bench" || !Array.isArray(document.benchmarks)) {
    throw new Error(`${source} is not a pss-bench file`);
  }
  const entries: BenchEntry[] = [];
  for (const raw of document.benchmarks as BenchRowLike[]) {
    if (
      typeof raw?.pss !== "number" || raw.breakdown === null ||
      typeof raw.breakdown !== "object" || typeof raw.name !== "string"
    ) continue;
    entries.push({
      file: nonEmpty(raw.file),
      group: nonEmpty(raw.group),
      name: raw.name,
      report: {
        pss: raw.pss,
        breakdown: raw.breakdown as PssReport["breakdown"],
        traceCount: typeof raw.samples === "number" ? raw.samples : 0,
        systemTraceCount: 0,
        skippedCount: 0,
      },
    });
  }
  return { entries };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * Turns two benchmark stability files (a base and a head) into the two
 * sides of a comparison, one row per benchmark, named `file › group › name`
 * (the parts it has).
 *
 * The files are matched by their path in the project: files written by pss
 * name modules relative to the working directory already, and absolute ones
 * (older files, or modules outside it) lose the directory all of a side's
 * absolute modules share, so that two checkouts in different directories
 * compare benchmark by benchmark. When every benchmark of both sides comes
 * from one module, the module is left out of the names.
 *
 * The overall score of a side is its least stable benchmark, so the overall
 * gate fails exactly when the worst benchmark drops.
 *
 * @param base The baseline's file.
 * @param head The head's file.
 * @returns The two sides, for `compareReports`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benchSides, readBenchFile } from "./bench_compare.ts";
 * const breakdown = {
 *   timingStability: 0.9, memoryStability: 1, errorVolatility: 1,
 *   branchingEntropy: 1, concurrencyChaos: 1,
 * };
 * const file = (dir: string, pss: number) =>
 *   readBenchFile(JSON.stringify({
 *     format: "pss-bench", version: 1,
 *     benchmarks: [
 *       { name: "parse", group: "json", file: `file://${dir}/bench/a_bench.ts`, pss, breakdown, samples: 500 },
 *       { name: "walk", group: null, file: `file://${dir}/bench/b_bench.ts`, pss, breakdown, samples: 500 },
 *     ],
 *   }), dir);
 * const [base, head] = benchSides(file("/ci/main", 97), file("/ci/pr", 90));
 * assert.deepEqual(head.rows.map((row) => row.name), ["a_bench.ts › json › parse", "b_bench.ts › walk"]);
 * assert.deepEqual(base.rows.map((row) => row.name), head.rows.map((row) => row.name));
 * assert.equal(head.report.pss, 90);
 * ```
 */
export function benchSides(
  base: BenchFile,
  head: BenchFile,
): [ComparedSide, ComparedSide] {
  const files = [base, head].map((side) => projectFiles(side.entries));
  const all = new Set(files.flat());
  const named = all.size > 1;
  return [base, head].map((side, i) =>
    sideOf(side.entries, files[i], named)
  ) as [ComparedSide, ComparedSide];
}

function sideOf(
  entries: readonly BenchEntry[],
  files: readonly (string | undefined)[],
  withFile: boolean,
): ComparedSide {
  const rows = entries.map((entry, i) => ({
    name: [withFile ? files[i] : undefined, entry.group, entry.name]
      .filter((part) => part !== undefined)
      .join(" › "),
    report: entry.report,
  }));
  const worst = rows.reduce<PssReport | undefined>(
    (least, row) =>
      least === undefined || row.report.pss < least.pss ? row.report : least,
    undefined,
  );
  const report: PssReport = worst === undefined ? emptyReport() : {
    ...worst,
    traceCount: rows.reduce((sum, row) => sum + row.report.traceCount, 0),
  };
  return { report, rows };
}

/**
 * Each entry's module as a path in the project: relative paths as they
 * are; absolute ones without the directory all of them share.
 */
function projectFiles(
  entries: readonly BenchEntry[],
): (string | undefined)[] {
  const paths = entries.map((entry) => absolutePath(entry.file));
  const absolute = paths.filter((path) => path !== undefined);
  if (absolute.length === 0) return entries.map((entry) => entry.file);
  // The directory shared by all: the common leading segments, never the
  // last one (the file's own name).
  let shared = absolute[0].split("/").slice(0, -1);
  for (const path of absolute) {
    const segments = path.split("/");
    let n = 0;
    while (
      n < shared.length && n < segments.length - 1 && shared[n] === segments[n]
    ) n++;
    shared = shared.slice(0, n);
  }
  const prefix = shared.join("/").length + 1;
  return entries.map((entry, i) =>
    paths[i] === undefined ? entry.file : paths[i].slice(prefix)
  );
}

/** A module's absolute path, with `/`, or `undefined` when it is relative. */
function absolutePath(file: string | undefined): string | undefined {
  if (file === undefined) return undefined;
  if (file.startsWith("file://")) {
    try {
      return decodeURIComponent(new URL(file).pathname);
    } catch {
      return undefined;
    }
  }
  const path = file.replaceAll("\\", "/");
  if (path.startsWith("/")) return path;
  return /^[a-z]:\//i.test(path) ? `/${path}` : undefined;
}
