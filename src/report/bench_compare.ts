/**
 * `pss compare` over two benchmark stability files (`PSS_BENCH_JSON`, the
 * `format: "pss-bench"` documents of `@pss/pss/bench`): each benchmark
 * becomes one row of the comparison, keyed by its file, group and name.
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

/**
 * Turns a benchmark stability file into one side of a comparison. Every
 * scored benchmark is a row named `file › group › name` (the parts it has);
 * benchmarks without a score (clock-bound, or failed before a measured call)
 * are left out. The overall score of a benchmark file is its least stable
 * benchmark, so the overall gate fails exactly when the worst benchmark
 * drops.
 *
 * @param text The whole JSON text of the file.
 * @param source The file's name, for messages.
 * @returns The side, for `compareReports`.
 * @throws {Error} When the text is not a `pss-bench` document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { benchSide } from "./bench_compare.ts";
 * const breakdown = {
 *   timingStability: 0.9, memoryStability: 1, errorVolatility: 1,
 *   branchingEntropy: 1, concurrencyChaos: 1,
 * };
 * const side = benchSide(JSON.stringify({
 *   format: "pss-bench", version: 1,
 *   benchmarks: [{ name: "parse", group: "json", file: null, pss: 97, breakdown, samples: 500 }],
 * }), "head.json");
 * assert.deepEqual(side.rows.map((row) => row.name), ["json › parse"]);
 * assert.equal(side.report.pss, 97);
 * ```
 */
export function benchSide(text: string, source: string): ComparedSide {
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
  const rows: { name: string; report: PssReport }[] = [];
  for (const raw of document.benchmarks as BenchRowLike[]) {
    if (
      typeof raw?.pss !== "number" || raw.breakdown === null ||
      typeof raw.breakdown !== "object" || typeof raw.name !== "string"
    ) continue;
    const name = [raw.file, raw.group, raw.name]
      .filter((part): part is string => typeof part === "string" && part !== "")
      .join(" › ");
    rows.push({
      name,
      report: {
        pss: raw.pss,
        breakdown: raw.breakdown as PssReport["breakdown"],
        traceCount: typeof raw.samples === "number" ? raw.samples : 0,
        systemTraceCount: 0,
        skippedCount: 0,
      },
    });
  }
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
