/**
 * What does `bench()` from `@pss/pss/bench` add to each call it times? The
 * same function registered twice, side by side: once with `Deno.bench`
 * directly (the floor), once through the wrapper. Two sizes: a call of
 * about 20 µs, which the wrapper times and records, and a call of about
 * 50 ns, which it finds clock-bound after warm-up and only counts.
 *
 *     npx deno bench -A bench/stability_bench.ts
 *
 * `deno bench` only (Bun has no `Deno.bench` to compare against).
 *
 * @module
 */

import { bench } from "../src/bench/mod.ts";

/** Results land here so the JIT cannot delete the work. */
const sink = new Float64Array(1);

/** Integer arithmetic in a loop the JIT cannot fold away: about 1 ns a step. */
function work(steps: number): void {
  let x = sink[0] | 0;
  for (let i = 0; i < steps; i++) x = (x * 31 + i) | 0;
  sink[0] = x;
}

/** About 20 µs. */
function work20us(): void {
  work(20_000);
}

/** About 50 ns. */
function work50ns(): void {
  work(40);
}

const SLOW = "a 20 µs call";
const FAST = "a 50 ns call";

Deno.bench({
  name: "Deno.bench, unwrapped (floor)",
  group: SLOW,
  baseline: true,
  fn: work20us,
});
bench({ name: "bench() from @pss/pss/bench", group: SLOW, fn: work20us });

Deno.bench({
  name: "Deno.bench, unwrapped (floor)",
  group: FAST,
  baseline: true,
  fn: work50ns,
});
bench({ name: "bench() (clock-bound)", group: FAST, fn: work50ns });
