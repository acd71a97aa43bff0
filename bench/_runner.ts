/**
 * Runs a list of benchmarks under `Deno.bench` (Deno) or, where that does
 * not exist (Bun), with a small round-robin runner that runs every bench of
 * the list in turn (so noise hits them alike) and prints each median with
 * its ratio to its group's baseline; and the traces they ship. Shared by the
 * collector benchmarks.
 *
 * @module
 */

import { bench } from "../src/bench/mod.ts";
import type { Trace } from "../src/trace.ts";

/**
 * `count` realistic traces, every field set, as the collector benchmarks
 * ship them (the same payloads for a collector and for its floor).
 *
 * @param count How many.
 * @returns The traces.
 */
export function benchTraces(count: number): Trace[] {
  return Array.from({ length: count }, (_, i) => ({
    traceId: `bench-${i}`,
    name: `op.${i % 20}`,
    module: "bench",
    duration: 0.001 + (i % 100) * 1e-5,
    cpuTime: 0.0008,
    waitTime: 0.0002,
    memory: 50_000_000 + i,
    memoryDiff: i % 7,
    error: i % 50 === 0,
    branchTag: i % 2 === 0 ? "hit" : "miss",
    timestamp: 1_700_000_000 + i / 1000,
    asyncOp: true,
    metadata: { route: "/api/items", attempt: 1 },
  }));
}

/** The timing handle a bench function receives (a subset of `Deno.BenchContext`). */
export interface Bench {
  /** Starts the measured section. */
  start(): void;
  /** Ends the measured section. */
  end(): void;
}

/** A bench body. */
export type BenchFn = (b: Bench) => Promise<void> | void;

/** One benchmark, in the shape of `Deno.bench`'s options. */
export interface BenchDefinition {
  /** Shown in the report. */
  name: string;
  /** Benches compared with each other. */
  group: string;
  /** The floor of its group: every ratio is to it. */
  baseline?: boolean;
  /** The measured work. */
  fn: BenchFn;
}

/** Options of {@linkcode runBenches}. */
export interface RunBenchesOptions {
  /** Measured runs per bench. @default {40} */
  runs?: number;
  /** Unmeasured runs first. @default {5} */
  warmup?: number;
  /** Extra text after a median, such as a throughput. @default {none} */
  describe?: (definition: BenchDefinition, medianMs: number) => string;
  /** Called once every bench has run (Deno: when the process unloads). */
  done?: () => void | Promise<void>;
}

const deno = (globalThis as {
  Deno?: {
    bench?(options: BenchDefinition & { n?: number; warmup?: number }): void;
  };
}).Deno;

/**
 * Registers `list` with `Deno.bench`, or runs it with the round-robin
 * runner where `Deno.bench` does not exist.
 *
 * @param list The benches, floors marked `baseline`.
 * @param options See {@linkcode RunBenchesOptions}.
 */
export async function runBenches(
  list: BenchDefinition[],
  options: RunBenchesOptions = {},
): Promise<void> {
  const runs = options.runs ?? 40;
  const warmup = options.warmup ?? 5;
  // `deno run -A bench/x_bench.ts --round-robin` runs Bun's way on Deno too:
  // every case in turn, round after round, so a loaded machine's spikes hit
  // a collector and its floor alike.
  const roundRobin = (globalThis as { Deno?: { args?: string[] } }).Deno?.args
    ?.includes("--round-robin") ?? false;
  if (deno?.bench !== undefined && !roundRobin) {
    for (const definition of list) {
      bench({ ...definition, n: runs, warmup });
    }
    // Deno.bench runs after the module is evaluated; clean up at the end.
    if (options.done !== undefined) {
      const done = options.done;
      let called = false;
      globalThis.addEventListener("beforeunload", () => {
        if (called) return;
        called = true;
        void done();
      });
    }
    return;
  }
  const times = new Map<BenchDefinition, number[]>(list.map((d) => [d, []]));
  for (let run = 0; run < warmup + runs; run++) {
    for (const definition of list) {
      let started = 0;
      let elapsed = 0;
      await definition.fn({
        start: () => started = performance.now(),
        end: () => elapsed = performance.now() - started,
      });
      if (run >= warmup) times.get(definition)!.push(elapsed);
    }
  }
  const median = (values: number[]): number =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const definition of list) {
    const ms = median(times.get(definition)!);
    const baseline = list.find((d) =>
      d.group === definition.group && d.baseline
    )!;
    const floor = median(times.get(baseline)!);
    const extra = options.describe?.(definition, ms) ?? "";
    console.log(
      `${definition.group} | ${definition.name}: median ${
        ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`
      }${extra}${
        definition.baseline ? "" : `, ${(floor / ms).toFixed(2)}x floor`
      }`,
    );
  }
  await options.done?.();
}
