/**
 * The default, bounded in-memory collector.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import type { Collector, TraceObserver } from "./collector.ts";
import { checkKnownKeys, positiveInteger } from "../_options.ts";
import { PssConfigError } from "../score/config.ts";

/**
 * Options for {@linkcode MemoryCollector}.
 *
 * @example
 * ```ts
 * import { MemoryCollector, type MemoryCollectorOptions } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const options: MemoryCollectorOptions = { maxTraces: 2 };
 * const collector = new MemoryCollector(options);
 * for (const name of ["a", "b", "c"]) collector.add({ name });
 * assert.equal(collector.size, 2);
 * assert.equal(collector.evicted, 1); // the oldest, "a"
 * ```
 */
export interface MemoryCollectorOptions {
  /**
   * How many traces to keep; when full, the oldest trace is evicted (and
   * counted in {@linkcode MemoryCollector.evicted}), as pypss does.
   * @default {10000}
   */
  maxTraces?: number;
}

/**
 * Keeps the newest `maxTraces` traces in a ring buffer. `add` is O(1) and
 * allocation-free once the buffer is full.
 *
 * @example
 * ```ts
 * import { computePss, MemoryCollector } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const collector = new MemoryCollector({ maxTraces: 1000 });
 * collector.add({ name: "op", duration: 0.01 });
 * assert.equal(computePss(collector.snapshot()).pss, 100);
 * ```
 */
export class MemoryCollector implements Collector {
  readonly #capacity: number;
  readonly #ring: (Trace | undefined)[];
  #start = 0;
  #size = 0;
  #evicted = 0;
  #observers: TraceObserver[] = [];

  /**
   * Creates an empty collector.
   *
   * @param options See {@linkcode MemoryCollectorOptions}.
   * @throws {PssConfigError} When `maxTraces` is not a positive integer, or
   * an option is unknown (naming the closest known one).
   */
  constructor(options: MemoryCollectorOptions = {}) {
    checkKnownKeys("MemoryCollector", options, ["maxTraces"]);
    const capacity = positiveInteger(
      "MemoryCollector",
      "maxTraces",
      options.maxTraces ?? 10_000,
    );
    this.#capacity = capacity;
    this.#ring = new Array(capacity);
  }

  /** How many traces the collector keeps at most. */
  get capacity(): number {
    return this.#capacity;
  }

  /** How many traces it holds now. */
  get size(): number {
    return this.#size;
  }

  /** How many traces were evicted to make room since creation (or the last `clear`). */
  get evicted(): number {
    return this.#evicted;
  }

  /** Records a trace, evicting the oldest when full. Never throws. */
  add(trace: Trace): void {
    // Kept small (no modulo, few field reads): it runs inside every monitor.
    let next = this.#start + this.#size;
    if (next >= this.#capacity) next -= this.#capacity;
    this.#ring[next] = trace;
    if (this.#size < this.#capacity) this.#size++;
    else {
      this.#evicted++;
      if (++this.#start === this.#capacity) this.#start = 0;
    }
    if (this.#observers.length > 0) this.#notify(trace);
  }

  #notify(trace: Trace): void {
    for (const observer of this.#observers) {
      try {
        observer(trace);
      } catch {
        // An observer's failure must not reach the instrumented code.
      }
    }
  }

  /**
   * Calls `observer` with every trace added from now on.
   *
   * @returns A function that removes the observer.
   */
  observe(observer: TraceObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  /** The traces held now, oldest first, as a new array (synchronous). */
  snapshot(): Trace[] {
    const out = new Array<Trace>(this.#size);
    for (let i = 0; i < this.#size; i++) {
      out[i] = this.#ring[(this.#start + i) % this.#capacity] as Trace;
    }
    return out;
  }

  /** The traces held now, oldest first. */
  traces(): Promise<Trace[]> {
    return Promise.resolve(this.snapshot());
  }

  /** Drops every trace and resets the eviction count. */
  clear(): Promise<void> {
    this.#ring.fill(undefined);
    this.#start = 0;
    this.#size = 0;
    this.#evicted = 0;
    return Promise.resolve();
  }

  /** Nothing to ship: resolves at once. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to release: resolves at once. Traces stay readable. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** Same as {@linkcode MemoryCollector.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * The collector instrumentation uses when none is given (a live binding:
 * it follows {@linkcode setGlobalCollector}). Starts as a
 * {@linkcode MemoryCollector} with room for 10,000 traces, like pypss's
 * `global_collector`.
 *
 * @example
 * ```ts
 * import { computePss, globalCollector, monitorBlock } from "@pss/pss";
 * import assert from "node:assert/strict";
 * { using _ = monitorBlock("op"); } // no collector given: the global one
 * const report = computePss(await globalCollector.traces());
 * assert.equal(report.traceCount, 1);
 * ```
 */
export let globalCollector: Collector = new MemoryCollector();

/**
 * The collector instrumentation uses when none is given: a
 * {@linkcode MemoryCollector} with room for 10,000 traces unless replaced
 * with {@linkcode setGlobalCollector}.
 *
 * @returns The current global collector.
 *
 * @example
 * ```ts
 * import { computePss, globalCollector } from "@pss/pss";
 * import assert from "node:assert/strict";
 * import { getGlobalCollector } from "./memory.ts";
 * assert.equal(getGlobalCollector(), globalCollector);
 * const report = computePss(await getGlobalCollector().traces());
 * assert.equal(report.traceCount, 0);
 * ```
 */
export function getGlobalCollector(): Collector {
  return globalCollector;
}

/** The methods every collector has (the `Collector` contract). */
const COLLECTOR_METHODS = ["add", "traces", "clear", "flush", "close"] as const;

/**
 * Replaces the global collector used by instrumentation that names none.
 *
 * @param collector The new global collector.
 * @returns The previous one, so tests can restore it.
 * @throws {PssConfigError} When `collector` is not a collector (an object
 * with the `Collector` methods `add`, `traces`, `clear`, `flush` and
 * `close`); the global collector is unchanged then.
 *
 * @example
 * ```ts
 * import { globalCollector, MemoryCollector, setGlobalCollector } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const mine = new MemoryCollector({ maxTraces: 100_000 });
 * const previous = setGlobalCollector(mine);
 * assert.equal(globalCollector, mine); // a live binding
 * // ... later
 * setGlobalCollector(previous);
 * assert.equal(globalCollector, previous);
 * ```
 */
export function setGlobalCollector(collector: Collector): Collector {
  if (
    collector === null ||
    (typeof collector !== "object" && typeof collector !== "function")
  ) {
    throw new PssConfigError(
      "collector",
      collector,
      "setGlobalCollector's 'collector' must be a Collector",
    );
  }
  for (const method of COLLECTOR_METHODS) {
    let value: unknown;
    try {
      value = collector[method];
    } catch {
      value = undefined;
    }
    if (typeof value !== "function") {
      throw new PssConfigError(
        "collector",
        collector,
        `setGlobalCollector's 'collector' must be a Collector, with ${
          method === "add" ? "an" : "a"
        } '${method}' method`,
      );
    }
  }
  const previous = globalCollector;
  globalCollector = collector;
  return previous;
}
