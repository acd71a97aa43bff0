/**
 * `startAsyncMonitoring`: sample event-loop lag in the background and record
 * it as `__event_loop_health__` system traces, which feed Concurrency Chaos.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import type { Collector } from "../collect/collector.ts";
import { globalCollector } from "../collect/memory.ts";
import { PssConfigError } from "../score/config.ts";
import { checkKnownKeys } from "../_options.ts";
import {
  createLagProbe,
  type LagProbe,
  type LagSource,
} from "../runtime/loop.ts";
import { unrefTimer } from "../runtime/timer.ts";
import { reportError } from "./settings.ts";
import { HOST_NAME, PROCESS_ID } from "./_process.ts";

/**
 * The name of the system traces the loop monitor records (as in pypss).
 *
 * @example
 * ```ts
 * import { LOOP_HEALTH_TRACE_NAME, MemoryCollector, startAsyncMonitoring } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * {
 *   using _monitor = startAsyncMonitoring({ intervalMs: 20, collector });
 *   await new Promise((resolve) => setTimeout(resolve, 50));
 * }
 * const samples = collector.snapshot().filter((t) => t.name === LOOP_HEALTH_TRACE_NAME);
 * assert.ok(samples.length > 0);
 * assert.ok(samples.every((t) => t.systemMetric));
 * ```
 */
export const LOOP_HEALTH_TRACE_NAME = "__event_loop_health__";

/**
 * Options for {@linkcode startAsyncMonitoring}.
 *
 * @example One sample a second, only lags of 1 ms or more, in their own collector
 * ```ts
 * import { type AsyncMonitoringOptions, MemoryCollector, startAsyncMonitoring } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const options: AsyncMonitoringOptions = {
 *   intervalMs: 1000,
 *   thresholdMs: 1,
 *   collector: new MemoryCollector({ maxTraces: 3600 }),
 * };
 * using monitor = startAsyncMonitoring(options);
 * assert.equal(monitor.stats().samples, 0); // the first sample comes after intervalMs
 * ```
 */
export interface AsyncMonitoringOptions {
  /**
   * How often a sample is taken, in milliseconds (pypss: 0.5 s). Each sample
   * covers the time since the previous one.
   * @default {500}
   */
  intervalMs?: number;
  /**
   * How often the event loop is checked inside an interval, in
   * milliseconds. A busy block of B ms reads as a lag between
   * B − `resolutionMs` and B. Measured with a 200 ms block at a random
   * moment: 20 ms read 182–201 ms, 50 ms read 157–200 ms, and one check per
   * 500 ms interval (pypss's way) read 1–177 ms. Each check is a timer
   * wake-up: idle, 20 ms costs about 9 ms of CPU per second on Deno and
   * 4 ms on Bun, 50 ms about 4 and 3 ms.
   * @default {20, or `intervalMs` when that is smaller}
   */
  resolutionMs?: number;
  /**
   * A sample is recorded only when its lag reaches this many milliseconds.
   * The default, 0, records every sample, so the mean lag that Concurrency
   * Chaos uses is the mean over the whole run. A threshold (pypss uses
   * 1 ms) keeps a healthy loop from adding traces, but then the mean covers
   * only the slow intervals and overstates the lag.
   * @default {0}
   */
  thresholdMs?: number;
  /**
   * Where the traces go. When left out, the global collector at the time of
   * each sample (so `setGlobalCollector` applies at once).
   * @default {globalCollector}
   */
  collector?: Collector;
}

/**
 * Counters of one loop monitor.
 *
 * @example
 * ```ts
 * import { startAsyncMonitoring } from "@pss/pss";
 * import assert from "node:assert/strict";
 * using monitor = startAsyncMonitoring();
 * const { samples, recorded } = monitor.stats();
 * assert.deepEqual([samples, recorded], [0, 0]);
 * ```
 */
export interface LoopMonitorStats {
  /** Samples taken (one per interval, plus the last one at `stop()`). */
  samples: number;
  /** Samples recorded as traces (lag at or above `thresholdMs`). */
  recorded: number;
  /** The largest lag of any sample, in seconds. */
  maxLag: number;
  /** The lag of the latest sample, in seconds (0 before the first). */
  lastLag: number;
}

/**
 * A running event-loop monitor. `stop()` (or the end of a `using` scope)
 * takes a last sample of the interval in progress and clears every timer.
 *
 * @example
 * ```ts
 * import { startAsyncMonitoring } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const monitor = startAsyncMonitoring({ intervalMs: 100 });
 * // ... the program runs
 * monitor.stop();
 * assert.equal(monitor.running, false);
 * ```
 */
export interface LoopMonitor extends Disposable {
  /** How lag is measured on this runtime. */
  readonly source: LagSource;
  /** Whether the monitor is still sampling. */
  readonly running: boolean;
  /** Counters since the monitor started. */
  stats(): LoopMonitorStats;
  /** Takes a last sample, then stops sampling and clears its timers. Idempotent. */
  stop(): void;
}

let asyncInFlight = 0;
let asyncStarted = 0;

/**
 * Counts one asynchronous block as started, for the `active_tasks` and
 * `churn_rate` the loop monitor reports. For instrumentation (such as
 * `monitorAsync`) to call; a block that calls it must call
 * {@linkcode asyncBlockEnded} once when it ends.
 *
 * @example
 * ```ts
 * import { MemoryCollector, startAsyncMonitoring } from "@pss/pss";
 * import assert from "node:assert/strict";
 * import { asyncBlockEnded, asyncBlockStarted } from "./loop_monitor.ts";
 * const collector = new MemoryCollector();
 * const monitor = startAsyncMonitoring({ thresholdMs: 0, collector });
 * asyncBlockStarted();
 * try {
 *   monitor.stop(); // takes a last sample while the block is open
 * } finally {
 *   asyncBlockEnded();
 * }
 * assert.equal(collector.snapshot().at(-1)?.metadata?.active_tasks, 1);
 * ```
 */
export function asyncBlockStarted(): void {
  asyncInFlight++;
  asyncStarted++;
}

/**
 * Counts one asynchronous block started with {@linkcode asyncBlockStarted}
 * as ended.
 *
 * @example
 * ```ts
 * import { MemoryCollector, startAsyncMonitoring } from "@pss/pss";
 * import assert from "node:assert/strict";
 * import { asyncBlockEnded, asyncBlockStarted } from "./loop_monitor.ts";
 * const collector = new MemoryCollector();
 * const monitor = startAsyncMonitoring({ thresholdMs: 0, collector });
 * asyncBlockStarted();
 * asyncBlockEnded();
 * monitor.stop(); // takes a last sample
 * assert.equal(collector.snapshot().at(-1)?.metadata?.active_tasks, 0);
 * ```
 */
export function asyncBlockEnded(): void {
  if (asyncInFlight > 0) asyncInFlight--;
}

const running = new Set<LoopMonitor>();

function checkMs(
  field: string,
  value: unknown,
  min: number,
  reason: string,
): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < min) {
    throw new PssConfigError(
      field,
      value,
      `'${field}' must be ${reason}`,
    );
  }
  return value;
}

/**
 * Starts sampling event-loop lag in the background (pypss:
 * `start_async_monitoring`).
 *
 * Every `intervalMs` the monitor takes one sample: its lag is the largest
 * delay, in seconds, with which the event loop ran a probe timer checked
 * every `resolutionMs` during the interval, that is, the longest the loop
 * was unresponsive. A sample whose lag reaches `thresholdMs` is recorded as
 * a system trace named `__event_loop_health__` with
 * `metadata: { lag, active_tasks, churn_rate }`; `computePss` penalises
 * Concurrency Chaos when the mean recorded lag exceeds 0.01 s.
 *
 * `active_tasks` is the number of asynchronous blocks in flight and
 * `churn_rate` the number started per second during the interval, as far
 * as instrumentation reports them through {@linkcode asyncBlockStarted}
 * (0 otherwise: JavaScript runtimes do not expose their pending tasks).
 * Neither counts in the score.
 *
 * A monitor records one trace per interval (7,200 an hour at the default
 * 500 ms). Samples of an idle loop read about 0.1–1 ms on Bun and 0.5–2 ms
 * on Deno (whose timers fire later). For long runs, raise `intervalMs` or
 * give the monitor its own collector, so lag samples do not crowd other
 * traces out of a bounded collector.
 * Unlike pypss, a sample is never recorded for its task counts alone.
 *
 * The timers are unref'd: a running monitor never keeps the process alive.
 * Several monitors may run at once, each with its own timers.
 *
 * @param options See {@linkcode AsyncMonitoringOptions}.
 * @returns The running monitor; dispose it or call `stop()`.
 * @throws {PssConfigError} When `intervalMs` or `resolutionMs` is below 1
 * or not finite, `thresholdMs` is negative, `collector` has no `add`, or
 * an option is unknown (naming the closest known one).
 *
 * @example Score a program's event-loop health
 * ```ts
 * import { computePss, MemoryCollector, startAsyncMonitoring } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector();
 * {
 *   using _monitor = startAsyncMonitoring({ intervalMs: 50, collector });
 *   await new Promise((resolve) => setTimeout(resolve, 120));
 * }
 * const chaos = computePss(collector.snapshot()).breakdown.concurrencyChaos;
 * assert.ok(chaos >= 0 && chaos <= 1); // 1 when the loop was never late
 * ```
 */
export function startAsyncMonitoring(
  options: AsyncMonitoringOptions = {},
): LoopMonitor {
  checkKnownKeys("startAsyncMonitoring", options, [
    "intervalMs",
    "resolutionMs",
    "thresholdMs",
    "collector",
  ]);
  const intervalMs = checkMs(
    "intervalMs",
    options.intervalMs ?? 500,
    1,
    "a finite number ≥ 1",
  );
  const resolutionMs = checkMs(
    "resolutionMs",
    options.resolutionMs ?? Math.min(20, intervalMs),
    1,
    "a finite number ≥ 1",
  );
  const thresholdMs = checkMs(
    "thresholdMs",
    options.thresholdMs ?? 0,
    0,
    "a finite number ≥ 0",
  );
  const collector = options.collector;
  if (
    collector !== undefined &&
    (collector === null || typeof collector.add !== "function")
  ) {
    throw new PssConfigError(
      "collector",
      collector,
      "'collector' must be a Collector",
    );
  }
  const monitor = new LoopMonitorImpl(
    createLagProbe(resolutionMs),
    intervalMs,
    thresholdMs,
    collector,
  );
  running.add(monitor);
  return monitor;
}

/**
 * Stops every loop monitor still running (pypss: `stop_async_monitoring`).
 *
 * @returns How many monitors were stopped.
 *
 * @example
 * ```ts
 * import { startAsyncMonitoring } from "@pss/pss";
 * import { stopAsyncMonitoring } from "./loop_monitor.ts";
 * import assert from "node:assert/strict";
 * const monitor = startAsyncMonitoring();
 * assert.equal(stopAsyncMonitoring(), 1);
 * assert.equal(monitor.running, false);
 * ```
 */
export function stopAsyncMonitoring(): number {
  const monitors = [...running];
  for (const monitor of monitors) monitor.stop();
  return monitors.length;
}

class LoopMonitorImpl implements LoopMonitor {
  readonly #probe: LagProbe;
  readonly #thresholdSeconds: number;
  readonly #collector: Collector | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #windowStart = performance.now();
  #startedAtWindow = asyncStarted;
  #samples = 0;
  #recorded = 0;
  #maxLag = 0;
  #lastLag = 0;

  constructor(
    probe: LagProbe,
    intervalMs: number,
    thresholdMs: number,
    collector: Collector | undefined,
  ) {
    this.#probe = probe;
    this.#thresholdSeconds = thresholdMs / 1000;
    this.#collector = collector;
    this.#timer = unrefTimer(setInterval(() => this.#sample(), intervalMs));
  }

  get source(): LagSource {
    return this.#probe.source;
  }

  get running(): boolean {
    return this.#timer !== undefined;
  }

  stats(): LoopMonitorStats {
    return {
      samples: this.#samples,
      recorded: this.#recorded,
      maxLag: this.#maxLag,
      lastLag: this.#lastLag,
    };
  }

  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    running.delete(this);
    this.#sample();
    this.#probe.stop();
  }

  [Symbol.dispose](): void {
    this.stop();
  }

  #sample(): void {
    try {
      const now = performance.now();
      const windowSeconds = (now - this.#windowStart) / 1000;
      this.#windowStart = now;
      const lag = this.#probe.takeMaxLagMs() / 1000;
      const started = asyncStarted - this.#startedAtWindow;
      this.#startedAtWindow = asyncStarted;
      this.#samples++;
      this.#lastLag = lag;
      if (lag > this.#maxLag) this.#maxLag = lag;
      if (!(lag >= this.#thresholdSeconds)) return;
      const trace: Trace = {
        name: LOOP_HEALTH_TRACE_NAME,
        module: "pss.system",
        duration: windowSeconds,
        cpuTime: 0,
        waitTime: lag,
        timestamp: Date.now() / 1000,
        host: HOST_NAME,
        pid: PROCESS_ID,
        asyncOp: true,
        systemMetric: true,
        metadata: {
          lag,
          active_tasks: asyncInFlight,
          churn_rate: windowSeconds > 0 ? started / windowSeconds : 0,
        },
      };
      try {
        (this.#collector ?? globalCollector).add(trace);
        this.#recorded++;
      } catch (error) {
        reportError(error, "collector");
      }
    } catch (error) {
      reportError(error, "probe");
    }
  }
}
