/**
 * The batching engine every shipping collector is built on: a bounded queue,
 * one export in flight, retries with capped exponential backoff, a timeout
 * per export, counters that add up, and a shutdown with a deadline. Where
 * the traces go is a {@linkcode TraceExporter} it is given.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import type { Collector, TraceObserver } from "./collector.ts";
import {
  type BatchCollectorOptions,
  type BatchCollectorStats,
  BatchCounters,
  resolveBatchOptions,
  type ResolvedBatchOptions,
} from "./batch_options.ts";
import { TraceQueue } from "./_queue.ts";
import { BatchSender, wait } from "./_attempt.ts";
import { FlushWaiters, whenIdle } from "./_lifetime.ts";
import { type TimerHandle, unrefTimer } from "../runtime/timer.ts";
import { FailureReporter } from "./_report.ts";

export {
  BATCH_OPTION_KEYS,
  type BatchCollectorOptions,
  type BatchCollectorStats,
  type BatchOptions,
  type ExportFailure,
} from "./batch_options.ts";

/**
 * The batching engine: give it an exporter, add traces, and it ships them.
 *
 * `add()` puts the trace in a bounded ring buffer (O(1), synchronous, never
 * throws; a full queue drops and counts). One export runs at a time, in
 * order: when `batchSize` traces wait, when the unref'd `flushIntervalMs`
 * timer fires, or on `flush()`/`close()`. A failed or timed-out export is
 * retried with capped exponential backoff. `close()` ends within
 * `closeTimeoutMs` whatever the destination does. Timers never keep the
 * process alive; an awaited `flush()` or `close()` does until it resolves.
 * `traces()` resolves to `[]` (an exporter is write-only); the file and
 * Redis collectors read their destinations back.
 *
 * @example A destination of your own is a small exporter
 * ```ts
 * import { BatchCollector } from "@pss/pss";
 * import assert from "node:assert/strict";
 * let stored = 0;
 * await using collector = new BatchCollector({
 *   exporter: {
 *     export(batch) {
 *       stored += batch.length;
 *       return Promise.resolve();
 *     },
 *   },
 *   batchSize: 2,
 * });
 * collector.add({ name: "a" });
 * collector.add({ name: "b" });
 * await collector.flush();
 * assert.equal(stored, 2);
 * assert.equal(collector.stats().sent, 2);
 * ```
 */
export class BatchCollector implements Collector {
  readonly #name: string;
  readonly #o: ResolvedBatchOptions;
  readonly #reporter: FailureReporter;
  readonly #queue: TraceQueue;
  readonly #sender: BatchSender;
  readonly #count = new BatchCounters();
  /** Traces that entered the queue, and that left it for an export. */
  #enqueued = 0;
  #dequeued = 0;
  #inFlight = 0;
  /** Export partial batches until this many traces have been dequeued. */
  #drainUntil = 0;
  readonly #waiters = new FlushWaiters();
  #pumping = false;
  #kickScheduled = false;
  #idle: (() => void)[] = [];
  #timer: TimerHandle | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** The flush of a process that ran out of work, while it runs. */
  #idleFlush: Promise<void> | undefined;
  #queueFullReported = false;
  #removeExitHook: (() => void) | undefined;

  /**
   * Sets up the queue; exports start when traces arrive.
   *
   * @param options See {@linkcode BatchCollectorOptions}.
   * @param name Names the collector in messages.
   * @throws {PssConfigError} When an option is unknown or out of range.
   */
  constructor(options: BatchCollectorOptions, name = "BatchCollector") {
    const o = resolveBatchOptions(name, options);
    this.#name = name;
    this.#o = o;
    this.#reporter = new FailureReporter(name, o.onError);
    this.#queue = new TraceQueue(
      o.maxQueueSize,
      (error) => this.#reporter.report(error),
    );
    this.#sender = new BatchSender(name, o, this.#reporter, this.#queue);
    this.#removeExitHook = o.flushOnExit
      ? whenIdle(this, BatchCollector.#flushOnIdle)
      : undefined;
  }

  /**
   * Records a trace for export. Synchronous, O(1), never throws. When the
   * queue is full, or after `close()`, the trace is dropped and counted.
   *
   * @param trace The trace to export.
   */
  add(trace: Trace): void {
    this.#count.added++;
    if (this.#closed) {
      this.#count.closed++;
      return;
    }
    const queue = this.#queue;
    if (queue.full) {
      this.#count.queueFull++;
      if (!this.#queueFullReported) {
        this.#queueFullReported = true;
        this.#reporter.queueFull(queue.capacity);
      }
      return;
    }
    queue.push(trace);
    this.#enqueued++;
    if (queue.size >= this.#o.batchSize) this.#kick();
    else if (this.#timer === undefined) this.#armTimer();
  }

  /**
   * Calls `observer` with every trace queued from now on (not with dropped
   * ones). An observer that throws is reported to `onError`.
   *
   * @param observer Called synchronously inside `add`.
   * @returns A function that removes the observer.
   */
  observe(observer: TraceObserver): () => void {
    return this.#queue.observe(observer);
  }

  /**
   * Reports a problem to `onError` (by default a warning limited per
   * cause), never to the host.
   *
   * @param error What went wrong.
   */
  protected reportError(error: unknown): void {
    this.#reporter.report(error);
  }

  /**
   * What the destination holds: `[]`, as an exporter is write-only (the
   * file and Redis collectors read theirs back).
   *
   * @returns The traces read back.
   */
  traces(): Promise<Trace[]> {
    return Promise.resolve([]);
  }

  /**
   * Flushes (the file and Redis collectors also empty their destinations).
   *
   * @returns Resolves when flushed.
   */
  clear(): Promise<void> {
    return this.flush();
  }

  /**
   * Resolves when every trace added before the call has been sent or given
   * up (and counted), or when `closeTimeoutMs` has passed (what is left
   * stays queued). Never rejects; the process stays alive while it waits.
   *
   * @returns Resolves when done.
   */
  flush(): Promise<void> {
    const target = this.#enqueued;
    if (this.#settled() >= target) return Promise.resolve();
    const done = this.#waiters.add(target, this.#o.closeTimeoutMs);
    if (target > this.#drainUntil) this.#drainUntil = target;
    this.#kick();
    return done;
  }

  /**
   * Flushes within `closeTimeoutMs`, then shuts the exporter down.
   * Idempotent; never rejects. What is not delivered by the deadline is
   * given up and counted (`dropped.flushFailed`, or `unconfirmed` for an
   * export still running); later `add()`s count in `dropped.closed`.
   *
   * @returns Resolves when everything is sent or given up.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = this.#sender.shuttingDown = true;
    this.#clearTimer();
    this.#removeExitHook?.();
    this.#removeExitHook = undefined;
    const deadline = performance.now() + this.#o.closeTimeoutMs;
    this.#waiters.hold();
    try {
      await this.#drain();
      const shutdown = this.#o.exporter.shutdown?.();
      if (shutdown !== undefined) {
        await Promise.race([
          Promise.resolve(shutdown).catch((error) =>
            this.#reporter.report(error)
          ),
          wait(Math.max(0, deadline - performance.now())).done,
        ]);
      }
    } catch (error) {
      this.#reporter.report(error);
    } finally {
      this.#waiters.release();
    }
  }

  /**
   * The shutdown deadline of close() and of the idle flush: flush within
   * `closeTimeoutMs`, then give up what is left, counted (the running
   * export `unconfirmed`, the queue `flushFailed`).
   */
  async #drain(): Promise<void> {
    this.#waiters.hold();
    try {
      await this.flush();
      if (this.#settled() >= this.#enqueued) return;
      this.#sender.expire(this.#o.closeTimeoutMs);
      if (!this.#pumping) this.#giveUpQueue();
      else await new Promise<void>((resolve) => this.#idle.push(resolve));
    } finally {
      this.#waiters.release();
    }
  }

  /** Same as {@linkcode BatchCollector.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * The collector's counters, as a new object.
   *
   * @returns See {@linkcode BatchCollectorStats}.
   */
  stats(): BatchCollectorStats {
    return this.#count.stats(
      this.#queue.size,
      this.#inFlight,
      this.#reporter.last,
    );
  }

  #settled(): number {
    return this.#dequeued - this.#inFlight;
  }

  #kick(): void {
    if (this.#kickScheduled || this.#pumping) return;
    this.#kickScheduled = true;
    queueMicrotask(() => {
      this.#kickScheduled = false;
      void this.#pump();
    });
  }

  #armTimer(): void {
    this.#timer = unrefTimer(setTimeout(() => {
      this.#timer = undefined;
      if (this.#enqueued > this.#drainUntil) this.#drainUntil = this.#enqueued;
      this.#kick();
    }, this.#o.flushIntervalMs));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const queue = this.#queue;
    try {
      while (
        queue.size > 0 && !this.#sender.expired &&
        (queue.size >= this.#o.batchSize || this.#dequeued < this.#drainUntil)
      ) {
        const batch = queue.take(this.#o.maxExportBatchSize);
        this.#dequeued += batch.length;
        this.#inFlight = batch.length;
        this.#queueFullReported = false;
        const outcome = await this.#sender.send(batch);
        this.#inFlight = 0;
        this.#count.settle(outcome, batch.length);
        if (outcome !== "sent" && this.#sender.shuttingDown) {
          this.#giveUpQueue();
        }
        this.#waiters.settle(this.#settled());
      }
      if (this.#sender.expired) this.#giveUpQueue();
    } finally {
      this.#pumping = false;
      this.#waiters.settle(this.#settled());
      for (const resolve of this.#idle.splice(0)) resolve();
      if (queue.size > 0 && this.#timer === undefined && !this.#closed) {
        this.#armTimer();
      }
    }
  }

  /** Gives up everything queued, counted as failed (never sent). */
  #giveUpQueue(): void {
    const count = this.#queue.clear();
    this.#dequeued += count;
    this.#count.flushFailed += count;
    if (count > 0) this.#waiters.settle(this.#settled());
  }

  static #flushOnIdle = (collector: BatchCollector): boolean =>
    collector.#onIdle();

  /**
   * The process has no work left: flush what can be flushed, within the
   * same deadline as close(), then go back to normal (the process usually
   * exits; if it goes on, so does the collector).
   */
  #onIdle(): boolean {
    if (this.#closed || this.#settled() >= this.#enqueued) return false;
    if (this.#idleFlush !== undefined) return true;
    const sender = this.#sender;
    sender.shuttingDown = true;
    this.#idleFlush = this.#drain().finally(() => {
      this.#idleFlush = undefined;
      if (this.#closed) return;
      sender.shuttingDown = sender.expired = false;
    });
    return true;
  }
}
