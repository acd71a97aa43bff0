/**
 * The cached resident set size that traces carry.
 *
 * Reading RSS is a system call (2.6–7.5 µs on Deno and Bun here), several
 * times the cost of the rest of a monitored call, so monitors never read it
 * on their own except when the cached value is stale. A background
 * refresher (an unref'd interval, started by the first monitor, stopped
 * when monitors go idle for two periods) re-reads it every
 * `memoryMaxAgeMs / 2`; a monitor that finds a reading older than
 * `memoryMaxAgeMs` (the event loop was blocked, so the refresher could not
 * run) reads RSS synchronously. Hence the guarantee: a trace's `memory` is
 * the process RSS sampled at most `memoryMaxAgeMs` before the block ended.
 *
 * @module
 */

import { runtime } from "../runtime/adapter.ts";
import { unrefTimer } from "../runtime/timer.ts";
import { active, reportError } from "./settings.ts";

let cached: number | undefined;
let readAt = -Infinity;
let usedSinceTick = false;
let timer: ReturnType<typeof setInterval> | undefined;
let timerPeriodMs = 0;
let reads = 0;

function read(now: number): void {
  try {
    cached = runtime.rssBytes();
  } catch (error) {
    cached = undefined;
    reportError(error, "probe");
  }
  readAt = now;
  reads++;
}

function tick(): void {
  if (!usedSinceTick) {
    stopMemoryRefresher();
    return;
  }
  usedSinceTick = false;
  read(performance.now());
}

function start(): void {
  const period = active.memoryMaxAgeMs / 2;
  if (timer !== undefined && timerPeriodMs === period) return;
  if (timer !== undefined) clearInterval(timer);
  timerPeriodMs = period;
  timer = unrefTimer(setInterval(tick, period));
}

/**
 * The process RSS in bytes, read at most `memoryMaxAgeMs` before `now`, or
 * `undefined` when the runtime cannot tell (internal hot path).
 *
 * @param now `performance.now()` at the end of the monitored block.
 */
export function cachedRssBytes(now: number): number | undefined {
  if (now - readAt > active.memoryMaxAgeMs || timer === undefined) {
    return refresh(now);
  }
  usedSinceTick = true;
  return cached;
}

/** The rare part of {@linkcode cachedRssBytes}, out of line so it inlines. */
function refresh(now: number): number | undefined {
  usedSinceTick = true;
  if (now - readAt > active.memoryMaxAgeMs) read(now);
  start();
  return cached;
}

/**
 * Stops the background RSS refresher. It starts again on the next
 * monitored call; stopping is only needed where a test checks for open
 * timers (the refresher is unref'd and never keeps a process alive).
 *
 * @example
 * ```ts
 * import { stopMemoryRefresher } from "./memory_cache.ts";
 * stopMemoryRefresher();
 * stopMemoryRefresher(); // idempotent (no result to check)
 * ```
 */
export function stopMemoryRefresher(): void {
  if (timer !== undefined) clearInterval(timer);
  timer = undefined;
  timerPeriodMs = 0;
  usedSinceTick = false;
}

/**
 * How many times RSS was read since the process started: lets a test or a
 * benchmark check that the hot path does not read it per call.
 *
 * @returns The number of RSS reads.
 *
 * @example
 * ```ts
 * import { MemoryCollector, monitorBlock } from "@pss/pss";
 * import assert from "node:assert/strict";
 * import { rssReadCount } from "./memory_cache.ts";
 * const collector = new MemoryCollector();
 * const before = rssReadCount();
 * for (let i = 0; i < 1000; i++) {
 *   using _ = monitorBlock("op", { collector });
 * }
 * assert.ok(rssReadCount() - before < 10); // cached, not read per call
 * ```
 */
export function rssReadCount(): number {
  return reads;
}
