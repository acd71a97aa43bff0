/**
 * What does `bench()` from `@pss/pss/bench` add to each call it times? The
 * same function registered twice, side by side: once with `Deno.bench`
 * directly (the floor), once through the wrapper. Two sizes: a JSON round
 * trip of about 20 µs, which the wrapper times and records, and a sort of
 * 16 numbers under 1 µs, which it finds clock-bound after warm-up and then
 * only counts.
 *
 *     npx deno bench -A bench/stability_bench.ts
 *
 * Bun has no `Deno.bench`: `npx bun bench/stability_bench.ts` times the same
 * two functions bare and wrapped, alternating call by call, and prints the
 * ratio of their medians.
 *
 * @module
 */

import { bench } from "../src/bench/mod.ts";
import {
  BenchRecorder,
  measureClockCost,
  recordCalls,
} from "../src/bench/_recorder.ts";

/** Results land here so the JIT cannot delete the work. */
const sink = new Float64Array(1);

const doc = {
  items: Array.from({ length: 60 }, (_, i) => ({
    id: i,
    name: `item-${i}`,
    tags: ["a", "b"],
    price: i * 1.5,
  })),
};

/** A JSON round trip of a 60-item document: about 20 µs. */
function roundTrip(): void {
  sink[0] += JSON.parse(JSON.stringify(doc)).items.length;
}

const numbers = Float64Array.from({ length: 16 }, (_, i) => (i * 7919) % 16);

/** A sort of 16 numbers: under 1 µs. */
function sort16(): void {
  sink[0] += numbers.slice().sort()[8];
}

const SLOW = "a 20 µs call (JSON round trip)";
const FAST = "a sub-µs call (sort 16 numbers)";

const deno = (globalThis as {
  Deno?: { bench(definition: object): void };
}).Deno;

if (deno !== undefined) {
  deno.bench({
    name: "Deno.bench, unwrapped (floor)",
    group: SLOW,
    baseline: true,
    fn: roundTrip,
  });
  bench({ name: "bench() from @pss/pss/bench", group: SLOW, fn: roundTrip });
  deno.bench({
    name: "Deno.bench, unwrapped (floor)",
    group: FAST,
    baseline: true,
    fn: sort16,
  });
  bench({ name: "bench(), clock-bound", group: FAST, fn: sort16 });
} else {
  alternate();
}

/**
 * Bun: each function bare and wrapped, one call of each in turn (so load
 * drift hits both alike), 20,000 rounds; medians and their ratio.
 */
function alternate(): void {
  const clockCostMs = measureClockCost();
  const context = { start() {}, end() {} };
  console.log("| case | bare, median | wrapped, median | ratio |");
  console.log("|---|---:|---:|---:|");
  for (const [name, fn] of [[SLOW, roundTrip], [FAST, sort16]] as const) {
    const recorder = new BenchRecorder(name, undefined, {
      reservoirSize: 10_000,
      warmupCalls: 3,
      warmupMs: 10,
      clockFactor: 20,
      clockCostMs,
    });
    const wrapped = recordCalls(fn, recorder);
    const bare: number[] = [];
    const timed: number[] = [];
    for (let round = 0; round < 20_000; round++) {
      let started = performance.now();
      fn();
      bare.push(performance.now() - started);
      started = performance.now();
      wrapped(context);
      timed.push(performance.now() - started);
    }
    const median = (xs: number[]): number =>
      xs.sort((a, b) => a - b)[xs.length >>> 1] * 1e6;
    const [b, w] = [median(bare), median(timed)];
    console.log(
      `| ${name}${recorder.phase === "clockBound" ? ", clock-bound" : ""} | ${
        b.toFixed(0)
      } ns | ${w.toFixed(0)} ns | ${(w / b).toFixed(3)}× |`,
    );
  }
  if (sink[0] === 0.5) console.log(sink[0]);
}
