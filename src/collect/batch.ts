/**
 * The batching engine every shipping collector is built on: a bounded queue,
 * a background export loop with one export in flight, retries with capped
 * exponential backoff, per-export timeouts, drop counters, and a best-effort
 * flush when the process runs out of work.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import type { Collector, TraceObserver } from "./collector.ts";
import { PssConfigError } from "../score/config.ts";
import { type TimerHandle, unrefTimer } from "../runtime/timer.ts";
import { runtime } from "../runtime/adapter.ts";
import { messageOf } from "../_message.ts";

/** Retries of an export that a `flush()` or `close()` is waiting for. */
const WAITED_RETRIES = 3;

/**
 * Options for {@linkcode BatchCollector}.
 *
 * @example
 * ```ts
 * import { BatchCollector, type BatchCollectorOptions, type Trace } from "@pss/pss";
 * class Shipper extends BatchCollector {
 *   protected override flushBatch(batch: Trace[]): Promise<void> {
 *     console.log(`shipping ${batch.length}`);
 *     return Promise.resolve();
 *   }
 *   override traces(): Promise<Trace[]> { return Promise.resolve([]); }
 *   override clear(): Promise<void> { return Promise.resolve(); }
 * }
 * const options: BatchCollectorOptions = { batchSize: 50, flushIntervalMs: 200, maxRetries: 5, onError: (error) => console.error("shipping failed:", error) };
 * await using shipper = new Shipper(options);
 * shipper.add({ name: "op", duration: 0.01 });
 * ```
 */
export interface BatchCollectorOptions {
  /**
   * How many traces may wait for export. When the queue is full, `add()`
   * drops the new trace and counts it in `stats().dropped.queueFull`.
   * @default {10000}
   */
  maxQueueSize?: number;
  /**
   * How many queued traces schedule an export without waiting for the
   * timer; also how many one export carries, unless `maxExportBatchSize`
   * allows more.
   * @default {100}
   */
  batchSize?: number;
  /**
   * How many traces one export may carry when a backlog has built up (a
   * burst, a slow destination, `flush()` of a full queue). Larger exports
   * amortise per-export costs such as a file lock or a round trip; a failed
   * export is retried and counted whole. At least `batchSize`.
   * @default {batchSize}
   */
  maxExportBatchSize?: number;
  /**
   * How long a partial batch may wait before it is exported, in milliseconds.
   * @default {1000}
   */
  flushIntervalMs?: number;
  /**
   * How many times a failed export is retried before its traces are given up
   * (and counted in `stats().dropped.flushFailed`). Whatever this says, a
   * failing export is given up as soon as the queue is full (fresher traces
   * win), and while a `flush()` or `close()` waits it is retried at most 3
   * times, so neither hangs while the destination is down. The default
   * keeps retrying in the background, so an outage loses nothing the queue
   * can hold.
   * @default {Infinity}
   */
  maxRetries?: number;
  /**
   * Backoff before the first retry, in milliseconds; it doubles per retry.
   * @default {100}
   */
  retryBaseMs?: number;
  /**
   * Longest backoff between two retries, in milliseconds.
   * @default {5000}
   */
  retryMaxMs?: number;
  /**
   * How long one export may take, in milliseconds. A slower export counts as
   * failed: its promise is abandoned (never awaited again) and the batch is
   * retried or given up, so a hung destination cannot stall the collector.
   * @default {10000}
   */
  exportTimeoutMs?: number;
  /**
   * Receives every failure (a batch given up, the queue starting to drop).
   * It must not throw; if it does, the error is swallowed.
   * @default {a console.warn, at most one every 10 seconds per collector}
   */
  onError?: (error: unknown) => void;
  /**
   * Whether to flush when the process runs out of work (Deno's
   * `beforeunload` event, Bun's `process` `beforeExit` event), so traces
   * added by a script that ends without `close()` still arrive. Neither
   * event fires on `Deno.exit()`/`process.exit()`, on signals, or on an
   * uncaught error.
   * @default {true}
   */
  flushOnExit?: boolean;
}

/**
 * Counters of a {@linkcode BatchCollector}. At any moment
 * `added === sent + dropped.queueFull + dropped.flushFailed + dropped.closed
 * + queued + inFlight`: no trace is lost without being counted.
 *
 * @example
 * ```ts
 * import { BatchCollector, type BatchCollectorStats, type Trace } from "@pss/pss";
 * class DownCollector extends BatchCollector {
 *   protected override flushBatch(): Promise<void> { return Promise.reject(new Error("down")); }
 *   override traces(): Promise<Trace[]> { return Promise.resolve([]); }
 *   override clear(): Promise<void> { return Promise.resolve(); }
 * }
 * const collector = new DownCollector({ maxRetries: 0, onError: () => {} });
 * collector.add({ name: "op" });
 * await collector.close();
 * const stats: BatchCollectorStats = collector.stats();
 * console.log(stats.added, stats.sent, stats.dropped.flushFailed, stats.lastError); // 1 0 1 down
 * ```
 */
export interface BatchCollectorStats {
  /** Traces given to `add()` since construction. */
  added: number;
  /** Traces waiting in the queue. */
  queued: number;
  /** Traces in the export that is running or waiting to be retried. */
  inFlight: number;
  /** Traces the destination accepted. */
  sent: number;
  /** Traces not exported, by reason. */
  dropped: {
    /** Added while the queue was full. */
    queueFull: number;
    /** Given up after the last retry, or on a failure during shutdown. */
    flushFailed: number;
    /** Added after `close()`. */
    closed: number;
  };
  /** The message of the last failure, if any. */
  lastError: string | undefined;
}

/** What a waiter of {@linkcode BatchCollector.flush} waits for. */
interface FlushWaiter {
  /** Resolve once this many traces (counted from the start) are settled. */
  target: number;
  resolve: () => void;
}

const WARN_INTERVAL_MS = 10_000;

/**
 * The engine of shipping collectors: subclasses implement `flushBatch` (send
 * one batch; reject on failure), `traces` and `clear`; the engine does the
 * rest.
 *
 * `add()` puts the trace in a bounded ring buffer (O(1), synchronous, never
 * throws, never blocks; a full queue drops and counts). A background loop
 * sends batches one at a time, in order: when `batchSize` traces wait, when
 * the unref'd `flushIntervalMs` timer fires, or on `flush()`/`close()`. A
 * failed or timed-out export is retried with capped exponential backoff;
 * the traces of a batch that finally fails are counted, never silently lost.
 * Timers never keep the process alive, but an awaited `flush()` or
 * `close()` does until it resolves.
 *
 * @example A collector that prints batches
 * ```ts
 * import { BatchCollector, type Trace } from "@pss/pss";
 * class ConsoleCollector extends BatchCollector {
 *   protected override flushBatch(batch: Trace[]): Promise<void> {
 *     console.log(`${batch.length} traces`);
 *     return Promise.resolve();
 *   }
 *   override traces(): Promise<Trace[]> { return Promise.resolve([]); }
 *   override clear(): Promise<void> { return Promise.resolve(); }
 * }
 * await using collector = new ConsoleCollector({ batchSize: 2 });
 * collector.add({ name: "a" });
 * collector.add({ name: "b" });
 * await collector.flush();
 * console.log(collector.stats().sent); // 2
 * ```
 */
export abstract class BatchCollector implements Collector {
  readonly #name: string;
  readonly #capacity: number;
  readonly #batchSize: number;
  readonly #maxExport: number;
  readonly #flushIntervalMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #exportTimeoutMs: number;
  readonly #onError: (error: unknown) => void;

  readonly #ring: (Trace | undefined)[];
  #head = 0;
  #size = 0;

  #added = 0;
  /** Traces that entered the queue; their order is their sequence number. */
  #enqueued = 0;
  /** Traces taken out of the queue into an export. */
  #dequeued = 0;
  #inFlight = 0;
  #sent = 0;
  #droppedQueueFull = 0;
  #droppedFlushFailed = 0;
  #droppedClosed = 0;
  #lastError: string | undefined;

  /** Export partial batches until this many traces have been dequeued. */
  #drainUntil = 0;
  #waiters: FlushWaiter[] = [];
  #observers: TraceObserver[] = [];
  #pumping = false;
  #kickScheduled = false;
  #timer: TimerHandle | undefined;
  #keepAlive: TimerHandle | undefined;
  #shuttingDown = false;
  #closed = false;
  #closing: Promise<void> | undefined;
  #queueFullReported = false;
  #lastWarnAt = -Infinity;
  #suppressedWarnings = 0;
  #removeExitHook: (() => void) | undefined;

  /**
   * Sets up the queue; exports start when traces arrive.
   *
   * @param options See {@linkcode BatchCollectorOptions}.
   * @param name Names the collector in error messages.
   * @throws {PssConfigError} When an option is out of range.
   */
  constructor(options: BatchCollectorOptions = {}, name = "BatchCollector") {
    this.#name = name;
    this.#capacity = positiveInteger(
      name,
      "maxQueueSize",
      options.maxQueueSize ?? 10_000,
    );
    this.#batchSize = positiveInteger(
      name,
      "batchSize",
      options.batchSize ?? 100,
    );
    this.#maxExport = positiveInteger(
      name,
      "maxExportBatchSize",
      options.maxExportBatchSize ?? this.#batchSize,
    );
    if (this.#maxExport < this.#batchSize) {
      throw new PssConfigError(
        "maxExportBatchSize",
        this.#maxExport,
        `${name}'s 'maxExportBatchSize' must be at least 'batchSize' (${this.#batchSize})`,
      );
    }
    this.#flushIntervalMs = positiveNumber(
      name,
      "flushIntervalMs",
      options.flushIntervalMs ?? 1000,
    );
    const maxRetries = options.maxRetries ?? Infinity;
    if (
      maxRetries !== Infinity &&
      (!Number.isSafeInteger(maxRetries) || maxRetries < 0)
    ) {
      throw new PssConfigError(
        "maxRetries",
        maxRetries,
        `${name}'s 'maxRetries' must be an integer ≥ 0 or Infinity`,
      );
    }
    this.#maxRetries = maxRetries;
    this.#retryBaseMs = positiveNumber(
      name,
      "retryBaseMs",
      options.retryBaseMs ?? 100,
    );
    this.#retryMaxMs = positiveNumber(
      name,
      "retryMaxMs",
      options.retryMaxMs ?? 5000,
    );
    this.#exportTimeoutMs = positiveNumber(
      name,
      "exportTimeoutMs",
      options.exportTimeoutMs ?? 10_000,
    );
    if (
      options.onError !== undefined && typeof options.onError !== "function"
    ) {
      throw new PssConfigError(
        "onError",
        options.onError,
        `${name}'s 'onError' must be a function`,
      );
    }
    this.#onError = options.onError ?? ((error) => this.#warn(error));
    this.#ring = new Array(this.#capacity);
    if (options.flushOnExit ?? true) {
      // The hook holds the collector weakly, and goes when it is collected:
      // collectors that are dropped without close() do not pile up. (One
      // with queued traces is held by its timer until they are flushed.)
      const remove = runtime.process.onIdle(
        BatchCollector.#idleHook(new WeakRef(this)),
      );
      if (remove !== undefined) {
        this.#removeExitHook = remove;
        exitHooks.register(this, remove, this);
      }
    }
  }

  /**
   * Records a trace for export. Synchronous, O(1), never blocks, never
   * throws. When the queue is full, or after `close()`, the trace is
   * dropped and counted.
   *
   * @param trace The trace to export.
   */
  add(trace: Trace): void {
    this.#added++;
    if (this.#closed) {
      this.#droppedClosed++;
      return;
    }
    if (this.#size === this.#capacity) {
      this.#droppedQueueFull++;
      if (!this.#queueFullReported) this.#reportQueueFull();
      return;
    }
    let slot = this.#head + this.#size;
    if (slot >= this.#capacity) slot -= this.#capacity;
    this.#ring[slot] = trace;
    this.#size++;
    this.#enqueued++;
    if (this.#size >= this.#batchSize) this.#kick();
    else if (this.#timer === undefined) this.#armTimer();
    if (this.#observers.length > 0) this.#notify(trace);
  }

  /**
   * Calls `observer` with every trace queued from now on (not with traces
   * dropped because the queue was full or the collector closed). An
   * observer that throws is reported to `onError`, never to `add`'s caller.
   *
   * @param observer Called synchronously inside `add`.
   * @returns A function that removes the observer.
   */
  observe(observer: TraceObserver): () => void {
    this.#observers = [...this.#observers, observer];
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer);
    };
  }

  #notify(trace: Trace): void {
    for (const observer of this.#observers) {
      try {
        observer(trace);
      } catch (error) {
        this.#report(error);
      }
    }
  }

  /**
   * Sends one batch to the destination. Resolve when the destination has
   * accepted it; reject (or throw) when it has not, and the engine retries.
   * Never called concurrently with itself, except after an export timed out
   * (the timed-out call is abandoned, not awaited). A retry passes the very
   * same array again, so a subclass can recognise it (for example to finish
   * a write that failed part-way).
   *
   * @param batch One to `batchSize` traces, oldest first.
   */
  protected abstract flushBatch(batch: Trace[]): Promise<void>;

  /**
   * Reports a problem of the subclass's own to `onError` (by default a
   * rate-limited `console.warn`), never to the host.
   *
   * @param error What went wrong.
   */
  protected reportError(error: unknown): void {
    this.#report(error);
  }

  /**
   * Everything the destination holds, oldest first.
   *
   * @returns The traces read back.
   */
  abstract traces(): Promise<Trace[]>;

  /**
   * Forgets what the destination holds.
   *
   * @returns Resolves when done.
   */
  abstract clear(): Promise<void>;

  /**
   * Resolves when every trace added before the call, including those in an
   * export already running, has been sent or given up (and counted). Never
   * rejects. While it waits, the process stays alive.
   *
   * @returns Resolves when done.
   */
  flush(): Promise<void> {
    const target = this.#enqueued;
    if (this.#settled() >= target) return Promise.resolve();
    const done = new Promise<void>((resolve) => {
      this.#waiters.push({ target, resolve });
    });
    this.#holdProcess();
    if (target > this.#drainUntil) this.#drainUntil = target;
    this.#kick();
    return done;
  }

  /**
   * Flushes, stops the timer and detaches from the process. Idempotent:
   * every call returns the same promise. Traces added afterwards are dropped
   * and counted in `stats().dropped.closed`. During shutdown a batch that
   * fails after its retries ends the shutdown: the traces still queued are
   * given up and counted, so `close()` stays bounded when the destination
   * is down.
   *
   * @returns Resolves when everything is sent or given up.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#shuttingDown = true;
    this.#clearTimer();
    this.#removeExitHook?.();
    this.#removeExitHook = undefined;
    exitHooks.unregister(this);
    this.#closing = this.flush();
    return this.#closing;
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
    return {
      added: this.#added,
      queued: this.#size,
      inFlight: this.#inFlight,
      sent: this.#sent,
      dropped: {
        queueFull: this.#droppedQueueFull,
        flushFailed: this.#droppedFlushFailed,
        closed: this.#droppedClosed,
      },
      lastError: this.#lastError,
    };
  }

  /** Traces out of the queue and out of flight: sent or given up. */
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
    }, this.#flushIntervalMs));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #shouldExport(): boolean {
    if (this.#size === 0) return false;
    return this.#size >= this.#batchSize ||
      this.#dequeued < this.#drainUntil;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#shouldExport()) {
        const batch = this.#take();
        const ok = await this.#exportWithRetries(batch);
        this.#inFlight = 0;
        if (ok) this.#sent += batch.length;
        else {
          this.#droppedFlushFailed += batch.length;
          if (this.#shuttingDown) this.#giveUpQueue();
        }
        this.#resolveWaiters();
      }
    } finally {
      this.#pumping = false;
      this.#resolveWaiters();
      if (this.#size > 0 && this.#timer === undefined && !this.#closed) {
        this.#armTimer();
      }
    }
  }

  #take(): Trace[] {
    const count = Math.min(this.#size, this.#maxExport);
    const batch = new Array<Trace>(count);
    let index = this.#head;
    for (let i = 0; i < count; i++) {
      batch[i] = this.#ring[index] as Trace;
      this.#ring[index] = undefined;
      if (++index === this.#capacity) index = 0;
    }
    this.#head = index;
    this.#size -= count;
    this.#dequeued += count;
    this.#inFlight = count;
    if (this.#size < this.#capacity) this.#queueFullReported = false;
    return batch;
  }

  /** Drops everything queued, counted as failed (shutdown with a dead destination). */
  #giveUpQueue(): void {
    const count = this.#size;
    if (count === 0) return;
    this.#ring.fill(undefined);
    this.#head = 0;
    this.#size = 0;
    this.#dequeued += count;
    this.#droppedFlushFailed += count;
  }

  async #exportWithRetries(batch: Trace[]): Promise<boolean> {
    let lastError: unknown;
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) {
        // Someone waits for this export: keep flush() and close() bounded.
        const cap = this.#shuttingDown || this.#waiters.length > 0
          ? Math.min(this.#maxRetries, WAITED_RETRIES)
          : this.#maxRetries;
        if (attempt > cap) break;
        // Keep a failing batch only while new traces still have room:
        // once the queue is full, fresher traces win.
        if (this.#size >= this.#capacity) break;
        const backoff = Math.min(
          this.#retryMaxMs,
          this.#retryBaseMs * 2 ** (attempt - 1),
        );
        await sleepUnref(backoff);
      }
      try {
        await this.#exportOnce(batch);
        return true;
      } catch (error) {
        lastError = error;
        this.#lastError = messageOf(error);
      }
    }
    this.#report(
      new Error(
        `${this.#name} gave up a batch of ${batch.length} traces: ${
          messageOf(lastError)
        }`,
        { cause: lastError },
      ),
    );
    return false;
  }

  #exportOnce(batch: Trace[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = unrefTimer(setTimeout(() => {
        reject(
          new Error(
            `${this.#name} export timed out after ${this.#exportTimeoutMs} ms`,
          ),
        );
      }, this.#exportTimeoutMs));
      let pending: Promise<void>;
      try {
        pending = Promise.resolve(this.flushBatch(batch));
      } catch (error) {
        clearTimeout(timer);
        reject(error);
        return;
      }
      pending.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #resolveWaiters(): void {
    if (this.#waiters.length === 0) return;
    const settled = this.#settled();
    const still: FlushWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (settled >= waiter.target) waiter.resolve();
      else still.push(waiter);
    }
    this.#waiters = still;
    if (still.length === 0) this.#releaseProcess();
  }

  /**
   * A ref'd timer that keeps the process alive while someone awaits a
   * flush, since the export loop's own timers are unref'd.
   */
  #holdProcess(): void {
    this.#keepAlive ??= setInterval(() => {}, 1 << 30);
  }

  #releaseProcess(): void {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }

  /**
   * The process has no work left: flush what can be flushed.
   *
   * @returns Whether a flush was started (and keeps the process alive).
   */
  /**
   * The exit hook, made outside the constructor: a closure made there would
   * share the constructor's context, which holds `this` strongly.
   */
  static #idleHook(ref: WeakRef<BatchCollector>): () => boolean {
    return () => {
      const collector = ref.deref();
      return collector === undefined ? false : collector.#onIdle();
    };
  }

  #onIdle(): boolean {
    if (this.#closed || this.#settled() >= this.#enqueued) return false;
    this.#shuttingDown = true;
    void this.flush().then(() => {
      this.#shuttingDown = this.#closed;
    });
    return true;
  }

  #reportQueueFull(): void {
    this.#queueFullReported = true;
    const message =
      `${this.#name} queue is full (${this.#capacity} traces): dropping new traces`;
    this.#lastError = message;
    queueMicrotask(() => this.#report(new Error(message)));
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // The hook must not break the export loop or reach the host.
    }
  }

  #warn(error: unknown): void {
    const now = Date.now();
    if (now - this.#lastWarnAt < WARN_INTERVAL_MS) {
      this.#suppressedWarnings++;
      return;
    }
    const suppressed = this.#suppressedWarnings;
    this.#lastWarnAt = now;
    this.#suppressedWarnings = 0;
    console.warn(
      `[pss] ${messageOf(error)}${
        suppressed > 0 ? ` (${suppressed} similar warnings suppressed)` : ""
      }`,
    );
  }
}

function positiveInteger(name: string, field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new PssConfigError(
      field,
      value,
      `${name}'s '${field}' must be a positive integer`,
    );
  }
  return value;
}

function positiveNumber(name: string, field: string, value: number): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new PssConfigError(
      field,
      value,
      `${name}'s '${field}' must be a finite number > 0`,
    );
  }
  return value;
}

function sleepUnref(ms: number): Promise<void> {
  return new Promise((resolve) => unrefTimer(setTimeout(resolve, ms)));
}

/** Detaches the exit hook of a collector that was collected without close(). */
const exitHooks = new FinalizationRegistry<() => void>((remove) => remove());
