/**
 * The engine's bounded FIFO of traces: a ring buffer, O(1) to add, that
 * hands out batches oldest first.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import type { TraceObserver } from "./collector.ts";

/** A bounded ring buffer of traces, and who watches what enters it. */
export class TraceQueue {
  readonly capacity: number;
  readonly #ring: (Trace | undefined)[];
  readonly #onObserverError: (error: unknown) => void;
  #observers: TraceObserver[] = [];
  #head = 0;
  #size = 0;

  constructor(capacity: number, onObserverError: (error: unknown) => void) {
    this.capacity = capacity;
    this.#ring = new Array(capacity);
    this.#onObserverError = onObserverError;
  }

  /** Calls `observer` with every trace pushed from now on. */
  observe(observer: TraceObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  /** How many traces wait. */
  get size(): number {
    return this.#size;
  }

  /** Whether no trace fits any more. */
  get full(): boolean {
    return this.#size === this.capacity;
  }

  /** Appends `trace`; the caller checks `full` first. */
  push(trace: Trace): void {
    let slot = this.#head + this.#size;
    if (slot >= this.capacity) slot -= this.capacity;
    this.#ring[slot] = trace;
    this.#size++;
    if (this.#observers.length === 0) return;
    for (const observer of this.#observers) {
      try {
        observer(trace);
      } catch (error) {
        this.#onObserverError(error);
      }
    }
  }

  /** Removes and returns the oldest `max` traces (fewer if fewer wait). */
  take(max: number): Trace[] {
    const count = Math.min(this.#size, max);
    const batch = new Array<Trace>(count);
    let index = this.#head;
    for (let i = 0; i < count; i++) {
      batch[i] = this.#ring[index] as Trace;
      this.#ring[index] = undefined;
      if (++index === this.capacity) index = 0;
    }
    this.#head = index;
    this.#size -= count;
    return batch;
  }

  /** Empties the queue; returns how many traces it held. */
  clear(): number {
    const count = this.#size;
    this.#ring.fill(undefined);
    this.#head = 0;
    this.#size = 0;
    return count;
  }
}
