/**
 * Per-call recording of one benchmark: every call is timed with
 * `performance.now()`, the first calls are set aside as warm-up, and the
 * measured ones go into a fixed-size uniform reservoir, so memory stays the
 * same whether the function is called a hundred times or two million.
 *
 * @module
 */

import { messageOf } from "../_message.ts";

/** The settings every recorder of one run shares. */
export interface RecorderSettings {
  /** How many measured durations are kept (the reservoir's size). */
  readonly reservoirSize: number;
  /** Calls always set aside as warm-up. */
  readonly warmupCalls: number;
  /** Milliseconds of calls always set aside as warm-up. */
  readonly warmupMs: number;
  /** A call must take this many times the clock's cost to be scored. */
  readonly clockFactor: number;
  /** What one timing (two clock reads) costs, in milliseconds. */
  readonly clockCostMs: number;
}

/** Where a recorder is: warming up, recording, or only counting calls. */
export type RecorderPhase = "warmup" | "record" | "clockBound";

/** Durations of the last warm-up calls kept to judge the call's cost. */
const WARMUP_WINDOW = 64;

/** Errored calls whose durations are kept (more are only counted). */
const MAX_ERROR_SAMPLES = 1000;

/**
 * The recording of one benchmark. `finish` is the only method on the hot
 * path: arithmetic and typed-array stores, no allocation, never throws.
 */
export class BenchRecorder {
  /** The benchmark's name. */
  readonly name: string;
  /** The benchmark's group, if any. */
  readonly group: string | undefined;
  /** The settings it was created with. */
  readonly settings: RecorderSettings;
  /** The current phase. */
  phase: RecorderPhase = "warmup";
  /** The module the benchmark was defined in, once known. */
  origin: string | undefined;

  /** Warm-up calls so far. */
  warmupCalls = 0;
  /** Their total time, ms. */
  warmupTotalMs = 0;
  /** Median of the last warm-up calls, ms, once warm-up is over. */
  warmupMedianMs = Number.NaN;
  /** Measured (recorded) calls. */
  calls = 0;
  /** Calls made after the benchmark was found clock-bound (not timed). */
  passCalls = 0;
  /** Sum of the measured durations, ms (exact, over every measured call). */
  totalMs = 0;
  /** Shortest measured duration, ms. */
  minMs = Infinity;
  /** Longest measured duration, ms. */
  maxMs = -Infinity;
  /** Calls that threw (or rejected), in any phase. */
  errors = 0;
  /** The first error's message. */
  firstError: string | undefined;
  /** Durations of errored calls (up to 1000), ms. */
  readonly errorDurations: number[] = [];

  /** Start of the measured section set by `b.start()`, NaN when not set. */
  markStart = Number.NaN;
  /** End of the measured section set by `b.end()`, NaN when not set. */
  markEnd = Number.NaN;

  readonly #samples: Float64Array;
  #seen = 0;
  #next = 0;
  #w = 1;
  #random: () => number;
  readonly #window = new Float64Array(WARMUP_WINDOW);

  /**
   * Creates an empty recording.
   *
   * @param name The benchmark's name.
   * @param group Its group.
   * @param settings Shared settings.
   * @param seed Seed of the reservoir's random choices (a run is repeatable).
   */
  constructor(
    name: string,
    group: string | undefined,
    settings: RecorderSettings,
    seed = 0x9e3779b9,
  ) {
    this.name = name;
    this.group = group;
    this.settings = settings;
    this.#samples = new Float64Array(settings.reservoirSize);
    this.#random = xorshift(seed);
  }

  /** How many durations the reservoir holds. */
  get size(): number {
    return Math.min(this.#seen, this.#samples.length);
  }

  /** A copy of the kept durations, ms (a uniform sample of the measured calls). */
  samples(): Float64Array {
    return this.#samples.slice(0, this.size);
  }

  /**
   * Records one call that ran from `started` to `ended` (ms, same clock);
   * `b.start()`/`b.end()` marks narrow it. Resets the marks.
   *
   * @param started When the call began.
   * @param ended When it returned or settled.
   * @param error What it threw, when `failed`.
   * @param failed Whether it threw or rejected.
   */
  finish(
    started: number,
    ended: number,
    failed: boolean,
    error?: unknown,
  ): void {
    const from = this.markStart === this.markStart ? this.markStart : started;
    const to = this.markEnd === this.markEnd ? this.markEnd : ended;
    this.markStart = Number.NaN;
    this.markEnd = Number.NaN;
    const ms = to > from ? to - from : 0;
    if (failed) this.#fail(ms, error);
    if (this.phase === "warmup") {
      this.#warm(ms);
      return;
    }
    if (failed) return;
    this.calls++;
    this.totalMs += ms;
    if (ms < this.minMs) this.minMs = ms;
    if (ms > this.maxMs) this.maxMs = ms;
    this.#offer(ms);
  }

  /**
   * Counts a call made while clock-bound (not timed).
   *
   * @param error What it threw, when `failed`.
   * @param failed Whether it threw or rejected.
   */
  pass(failed: boolean, error?: unknown): void {
    this.passCalls++;
    if (failed) this.#fail(Number.NaN, error);
  }

  #fail(ms: number, error: unknown): void {
    if (this.errors++ === 0) this.firstError = messageOf(error);
    if (ms === ms && this.errorDurations.length < MAX_ERROR_SAMPLES) {
      this.errorDurations.push(ms);
    }
  }

  #warm(ms: number): void {
    this.#window[this.warmupCalls % WARMUP_WINDOW] = ms;
    this.warmupCalls++;
    this.warmupTotalMs += ms;
    const { warmupCalls, warmupMs, clockFactor, clockCostMs } = this.settings;
    if (this.warmupCalls < warmupCalls || this.warmupTotalMs < warmupMs) {
      return;
    }
    const kept = this.#window.slice(
      0,
      Math.min(this.warmupCalls, WARMUP_WINDOW),
    ).sort();
    this.warmupMedianMs = kept[kept.length >>> 1];
    // A call that costs about as much as reading the clock twice would be
    // scored on the clock's jitter, not its own: count it, time it no more.
    this.phase = this.warmupMedianMs < clockFactor * clockCostMs
      ? "clockBound"
      : "record";
  }

  /** Algorithm L (Li, 1994): a uniform sample with few random draws. */
  #offer(ms: number): void {
    const samples = this.#samples;
    const k = samples.length;
    const seen = this.#seen++;
    if (seen < k) {
      samples[seen] = ms;
      if (seen === k - 1) {
        this.#w = Math.exp(Math.log(this.#random()) / k);
        this.#skip();
      }
      return;
    }
    if (seen !== this.#next) return;
    samples[Math.floor(this.#random() * k)] = ms;
    this.#w *= Math.exp(Math.log(this.#random()) / k);
    this.#skip();
  }

  #skip(): void {
    const gap = Math.floor(
      Math.log(this.#random()) / Math.log1p(-this.#w),
    );
    this.#next = (this.#seen - 1) + gap + 1;
  }
}

/** xorshift32 mapped into the open interval (0, 1). */
function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
}

/** The context a benchmark function receives (`Deno.BenchContext`'s shape). */
export interface BenchContextLike {
  /** The benchmark's name. */
  readonly name?: string;
  /** The module it was defined in. */
  readonly origin?: string;
  /** Starts the measured section. */
  start(): void;
  /** Ends the measured section. */
  end(): void;
}

/** A context that forwards to the runner's and marks the recorder. */
function markingContext(
  recorder: BenchRecorder,
  inner: BenchContextLike,
): BenchContextLike {
  return {
    [Symbol.toStringTag]: "BenchContext",
    name: inner.name ?? recorder.name,
    origin: inner.origin ?? "",
    start(): void {
      inner.start();
      recorder.markStart = performance.now();
    },
    end(): void {
      recorder.markEnd = performance.now();
      inner.end();
    },
  } as BenchContextLike;
}

/**
 * Wraps `fn` so every call is recorded. An `async function` gets an async
 * wrapper (Deno awaits only those) timed until it settles; anything else a
 * plain wrapper timed until it returns, so sync stays sync. The result and
 * the error pass through untouched.
 *
 * @param fn The benchmark's function.
 * @param recorder Where calls are recorded.
 * @returns The function to hand to the runner.
 */
export function recordCalls(
  // deno-lint-ignore no-explicit-any
  fn: (this: unknown, context: any) => unknown,
  recorder: BenchRecorder,
): (context: BenchContextLike) => unknown {
  let inner: BenchContextLike | undefined;
  let marking: BenchContextLike | undefined;
  const contextFor = (context: BenchContextLike): BenchContextLike => {
    if (context !== inner) {
      inner = context;
      marking = markingContext(recorder, context);
      if (
        recorder.origin === undefined && typeof context?.origin === "string"
      ) {
        recorder.origin = context.origin;
      }
    }
    return marking!;
  };
  if (isAsyncFunction(fn)) {
    return async function recorded(this: unknown, context: BenchContextLike) {
      const b = contextFor(context);
      if (recorder.phase === "clockBound") {
        try {
          const result = await fn.call(this, b);
          recorder.pass(false);
          return result;
        } catch (error) {
          recorder.pass(true, error);
          throw error;
        }
      }
      const started = performance.now();
      try {
        const result = await fn.call(this, b);
        recorder.finish(started, performance.now(), false);
        return result;
      } catch (error) {
        recorder.finish(started, performance.now(), true, error);
        throw error;
      }
    };
  }
  return function recorded(this: unknown, context: BenchContextLike) {
    const b = contextFor(context);
    if (recorder.phase === "clockBound") {
      try {
        const result = fn.call(this, b);
        recorder.passCalls++;
        return result;
      } catch (error) {
        recorder.pass(true, error);
        throw error;
      }
    }
    const started = performance.now();
    try {
      const result = fn.call(this, b);
      recorder.finish(started, performance.now(), false);
      return result;
    } catch (error) {
      recorder.finish(started, performance.now(), true, error);
      throw error;
    }
  };
}

const AsyncFunction = (async () => {}).constructor;

/** Whether `fn` is an `async function` (what Deno checks to await it). */
export function isAsyncFunction(fn: unknown): boolean {
  return typeof fn === "function" && fn.constructor === AsyncFunction;
}

/**
 * What one timing costs: two `performance.now()` reads and a subtraction,
 * as the wrapper does per call, in ms: the median of 15 rounds of 2,000.
 *
 * @returns The cost in milliseconds.
 */
export function measureClockCost(): number {
  const rounds: number[] = [];
  let sink = 0;
  for (let round = 0; round < 15; round++) {
    const n = 2000;
    const begin = performance.now();
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      sink += performance.now() - started;
    }
    rounds.push((performance.now() - begin) / n);
  }
  rounds.sort((a, b) => a - b);
  // `sink` is ≥ 0 always; the comparison keeps the loop's work observable.
  return sink < 0 ? 0 : rounds[rounds.length >>> 1];
}
