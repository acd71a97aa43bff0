/**
 * A stability score for every benchmark.
 *
 * With `deno bench`, change one import and keep the file as it is:
 * `bench()` takes exactly what `Deno.bench()` takes, times each call, and
 * after Deno's table prints one more: each benchmark's PSS, timing
 * stability, CV, p50, p95, p99, p95/p50, max, samples and errors, the most
 * unstable first. `PSS_BENCH_FAIL_UNDER=<pss>` fails the run when a
 * benchmark scores below it; `PSS_BENCH_JSON=<path>` writes the table as
 * JSON. On Bun (no `deno bench`), `benchStability()` runs the benchmarks
 * itself and prints the same table.
 *
 * ```ts
 * import { bench } from "@pss/pss/bench";
 *
 * bench("parse a URL", () => {
 *   new URL("https://example.com/a/b?c=d");
 * }); // registers it with deno bench or bun (no result to check)
 * ```
 *
 * @module
 */

export {
  bench,
  benchStability,
  configureBench,
  PssBenchGateError,
} from "./bench.ts";
export type {
  BenchContext,
  BenchDefinition,
  BenchFunction,
  BenchPermissions,
  BenchStabilityOptions,
  BenchStabilityRunOptions,
} from "./bench.ts";
export type { BenchStabilityJson, BenchStabilityRow } from "./report.ts";
export type { PssBreakdown } from "../score/report.ts";
