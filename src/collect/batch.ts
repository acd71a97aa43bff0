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
  causeOf,
  ExportInDoubtError,
  PermanentExportError,
} from "./exporter.ts";
import type { TraceExporter } from "./exporter.ts";
import { PssConfigError } from "../score/config.ts";
import { type TimerHandle, unrefTimer } from "../runtime/timer.ts";
import { runtime } from "../runtime/adapter.ts";
import { messageOf } from "../_message.ts";
import { createWarner, type Warner } from "../_warn.ts";
import {
  checkKnownKeys,
  functionOption,
  positiveInteger,
  positiveNumber,
} from "../_options.ts";

/** Retries of an export that a `flush()` or `close()` is waiting for. */
const WAITED_RETRIES = 3;

/**
 * The engine's options, shared by every shipping collector.
 *
 * @example
 * ```ts
 * import type { BatchOptions } from "@pss/pss";
 * const options: BatchOptions = { batchSize: 200, closeTimeoutMs: 2000 };
 * console.log(options.batchSize); // 200
 * ```
 */
export interface BatchOptions {
  /**
   * How many traces may wait for export. When the queue is full, `add()`
   * drops the new trace and counts it in `stats().dropped.queueFull`.
   * @default {10000}
   */
  maxQueueSize?: number;
  /**
   * How many queued traces start an export without waiting for the timer.
   * @default {100}
   */
  batchSize?: number;
  /**
   * How many traces one export may carry when a backlog has built up; at
   * least `batchSize`.
   * @default {batchSize}
   */
  maxExportBatchSize?: number;
  /**
   * How long a partial batch may wait before it is exported, in milliseconds.
   * @default {1000}
   */
  flushIntervalMs?: number;
  /**
   * How many times a failed export is retried before its traces are given
   * up (counted in `stats().dropped.flushFailed`). Whatever this says, a
   * failing batch is given up once the queue is full (fresher traces win),
   * and retried at most 3 times while a `flush()` or `close()` waits.
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
   * How long one export may take, in milliseconds. A slower export is
   * abandoned (its signal aborts) and retried.
   * @default {10000}
   */
  exportTimeoutMs?: number;
  /**
   * The deadline of `close()` and `flush()`, in milliseconds. When it
   * passes, `flush()` resolves (what is left stays queued), and `close()`
   * gives up what it could not deliver: traces never sent count in
   * `dropped.flushFailed`, those of an export still running (which may yet
   * arrive) in `unconfirmed`.
   * @default {5000}
   */
  closeTimeoutMs?: number;
  /**
   * Receives every failure: an export that failed (it will be retried), a
   * batch given up, the queue starting to drop. Must not throw.
   * @default {a console.warn: the first of each cause at once, then at most one a minute per cause}
   */
  onError?: (error: unknown) => void;
  /**
   * Whether to flush when the process runs out of work (a script that ends
   * without `close()`). This does not cover `exit()` calls or signals: see
   * `flushOnSignals`.
   * @default {true}
   */
  flushOnExit?: boolean;
}

/**
 * Options of {@linkcode BatchCollector}: the engine's options and the
 * exporter it ships to.
 *
 * @example
 * ```ts
 * import { BatchCollector, type BatchCollectorOptions } from "@pss/pss";
 * const options: BatchCollectorOptions = {
 *   exporter: { export: () => Promise.resolve() },
 *   batchSize: 50,
 * };
 * await using collector = new BatchCollector(options);
 * collector.add({ name: "op" });
 * ```
 */
export interface BatchCollectorOptions extends BatchOptions {
  /**
   * Where batches go. Required.
   * @default {none: required}
   */
  exporter: TraceExporter;
}

/**
 * Every option key of {@linkcode BatchOptions}, for collectors that check
 * their own options' names.
 */
export const BATCH_OPTION_KEYS: readonly string[] = [
  "maxQueueSize",
  "batchSize",
  "maxExportBatchSize",
  "flushIntervalMs",
  "maxRetries",
  "retryBaseMs",
  "retryMaxMs",
  "exportTimeoutMs",
  "closeTimeoutMs",
  "onError",
  "flushOnExit",
];

/**
 * The last failure of an export.
 *
 * @example
 * ```ts
 * import type { ExportFailure } from "@pss/pss";
 * const failure: ExportFailure = { cause: "ENOSPC", message: "No space left on device", at: Date.now() };
 * console.log(failure.cause); // ENOSPC
 * ```
 */
export interface ExportFailure {
  /** A short key of the cause: an error code (`ENOSPC`), Redis's first word (`NOAUTH`). */
  cause: string;
  /** The failure's message. */
  message: string;
  /** When it happened, in milliseconds since the epoch. */
  at: number;
}

/**
 * Counters of a {@linkcode BatchCollector}. At any moment `added === sent +
 * unconfirmed + dropped.queueFull + dropped.flushFailed + dropped.closed +
 * queued + inFlight`. A trace counted `sent` was stored; one counted
 * `dropped` was not; `unconfirmed` ones were given up after an export of
 * theirs was abandoned, which may or may not have stored them.
 *
 * @example
 * ```ts
 * import { BatchCollector, type BatchCollectorStats } from "@pss/pss";
 * const collector = new BatchCollector({
 *   exporter: { export: () => Promise.reject(new Error("down")) },
 *   maxRetries: 0,
 *   onError: () => {},
 * });
 * collector.add({ name: "op" });
 * await collector.close();
 * const stats: BatchCollectorStats = collector.stats();
 * console.log(stats.sent, stats.dropped.flushFailed, stats.lastError); // 0 1 down
 * ```
 */
export interface BatchCollectorStats {
  /** Traces given to `add()`. */
  added: number;
  /** Traces waiting in the queue. */
  queued: number;
  /** Traces in the export running or waiting to be retried. */
  inFlight: number;
  /** Traces the destination stored. */
  sent: number;
  /**
   * Traces given up after an export of theirs was abandoned (timed out, or
   * cut at the close deadline): it may or may not have stored them.
   */
  unconfirmed: number;
  /** Traces not stored, by reason. */
  dropped: {
    /** Added while the queue was full. */
    queueFull: number;
    /** Given up after the last retry, or at shutdown. */
    flushFailed: number;
    /** Added after `close()`. */
    closed: number;
  };
  /** The message of the last export failure (never "queue is full"). */
  lastError: string | undefined;
  /** The last export failure, with its cause and time. */
  lastFailure: ExportFailure | undefined;
}

/** What a waiter of `flush()` waits for. */
interface FlushWaiter {
  /** Resolve once this many traces (counted from the start) are settled. */
  target: number;
  resolve: () => void;
}

/** How one batch ended. */
type Outcome = "sent" | "failed" | "unconfirmed";

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
 * console.log(stored, collector.stats().sent); // 2 2
 * ```
 */
export class BatchCollector implements Collector {
  readonly #name: string;
  readonly #exporter: TraceExporter;
  readonly #capacity: number;
  readonly #batchSize: number;
  readonly #maxExport: number;
  readonly #flushIntervalMs: number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #exportTimeoutMs: number;
  readonly #closeTimeoutMs: number;
  readonly #onError: (error: unknown) => void;
  /** The default reporter, when no `onError` was given. */
  readonly #warner: Warner | undefined;

  readonly #ring: (Trace | undefined)[];
  #head = 0;
  #size = 0;

  #added = 0;
  #enqueued = 0;
  #dequeued = 0;
  #inFlight = 0;
  #sent = 0;
  #unconfirmed = 0;
  #droppedQueueFull = 0;
  #droppedFlushFailed = 0;
  #droppedClosed = 0;
  #lastFailure: ExportFailure | undefined;
  /** Failed attempts since the last export that succeeded. */
  #failing = 0;

  /** Export partial batches until this many traces have been dequeued. */
  #drainUntil = 0;
  #waiters: FlushWaiter[] = [];
  #observers: TraceObserver[] = [];
  #pumping = false;
  #kickScheduled = false;
  #timer: TimerHandle | undefined;
  #keepAlive: TimerHandle | undefined;
  #shuttingDown = false;
  /** Set when close()'s deadline passed: give everything up at once. */
  #expired = false;
  /** Aborts the running attempt (export timeout or close deadline). */
  #attempt: AbortController | undefined;
  #wakeBackoff: (() => void) | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
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
    checkKnownKeys(name, options, [...BATCH_OPTION_KEYS, "exporter"]);
    const exporter = options?.exporter;
    if (typeof exporter?.export !== "function") {
      throw new PssConfigError(
        "exporter",
        exporter,
        `${name}'s 'exporter' must be an object with an export(batch, signal) method`,
      );
    }
    this.#name = name;
    this.#exporter = exporter;
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
    const maxRetries = options.maxRetries ?? Infinity;
    this.#maxRetries = maxRetries === Infinity || maxRetries === 0
      ? maxRetries
      : positiveInteger(name, "maxRetries", maxRetries);
    const ms = (field: keyof BatchOptions, value: unknown, fallback: number) =>
      positiveNumber(name, field, value ?? fallback);
    this.#flushIntervalMs = ms(
      "flushIntervalMs",
      options.flushIntervalMs,
      1000,
    );
    this.#retryBaseMs = ms("retryBaseMs", options.retryBaseMs, 100);
    this.#retryMaxMs = ms("retryMaxMs", options.retryMaxMs, 5000);
    this.#exportTimeoutMs = ms("exportTimeoutMs", options.exportTimeoutMs, 1e4);
    this.#closeTimeoutMs = ms("closeTimeoutMs", options.closeTimeoutMs, 5000);
    if (options.onError !== undefined) {
      functionOption(name, "onError", options.onError);
      this.#onError = options.onError;
    } else {
      const warner = createWarner({ prefix: `[pss] ${name}` });
      this.#warner = warner;
      this.#onError = (error) => warner.warn(causeOf(error), error);
    }
    this.#ring = new Array(this.#capacity);
    if (options.flushOnExit ?? true) {
      // The hook holds the collector weakly and goes when it is collected,
      // so collectors dropped without close() do not pile up.
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
   * Records a trace for export. Synchronous, O(1), never throws. When the
   * queue is full, or after `close()`, the trace is dropped and counted.
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
   * Calls `observer` with every trace queued from now on (not with dropped
   * ones). An observer that throws is reported to `onError`.
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
   * Reports a problem to `onError` (by default a warning limited per
   * cause), never to the host.
   *
   * @param error What went wrong.
   */
  protected reportError(error: unknown): void {
    this.#report(error);
  }

  /**
   * What the destination holds. An exporter is write-only, so the engine
   * resolves to `[]`; the file and Redis collectors read theirs back.
   *
   * @returns The traces read back.
   */
  traces(): Promise<Trace[]> {
    return Promise.resolve([]);
  }

  /**
   * Flushes. (An exporter cannot be emptied; the file and Redis collectors
   * empty their destinations.)
   *
   * @returns Resolves when flushed.
   */
  clear(): Promise<void> {
    return this.flush();
  }

  /**
   * Resolves when every trace added before the call has been sent or given
   * up (and counted), or when `closeTimeoutMs` has passed (what is left
   * stays queued and counted). Never rejects. While it waits, the process
   * stays alive.
   *
   * @returns Resolves when done.
   */
  flush(): Promise<void> {
    const target = this.#enqueued;
    if (this.#settled() >= target) return Promise.resolve();
    const done = new Promise<void>((resolve) => {
      const waiter = { target, resolve };
      this.#waiters.push(waiter);
      const timer = unrefTimer(setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        if (this.#waiters.length === 0) this.#releaseProcess();
        resolve();
      }, this.#closeTimeoutMs));
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.#holdProcess();
    if (target > this.#drainUntil) this.#drainUntil = target;
    this.#kick();
    return done;
  }

  /**
   * Flushes within `closeTimeoutMs`, then shuts the exporter down.
   * Idempotent: every call returns the same promise, which never rejects.
   * What could not be delivered by the deadline is given up and counted
   * (`dropped.flushFailed`, or `unconfirmed` for an export still running);
   * traces added afterwards count in `dropped.closed`.
   *
   * @returns Resolves when everything is sent or given up.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    this.#shuttingDown = true;
    this.#clearTimer();
    this.#removeExitHook?.();
    this.#removeExitHook = undefined;
    exitHooks.unregister(this);
    const deadline = performance.now() + this.#closeTimeoutMs;
    this.#holdProcess();
    try {
      await this.flush();
      if (this.#settled() < this.#enqueued) {
        // The deadline passed: stop waiting for the destination.
        this.#expired = true;
        this.#attempt?.abort(
          new Error(`${this.#name} closed after ${this.#closeTimeoutMs} ms`),
        );
        this.#wakeBackoff?.();
        if (!this.#pumping) this.#giveUpQueue();
        await this.#whenIdle();
      }
      const shutdown = this.#exporter.shutdown?.();
      if (shutdown !== undefined) {
        const left = Math.max(0, deadline - performance.now());
        await Promise.race([
          Promise.resolve(shutdown).catch((error) => this.#report(error)),
          sleepUnref(left),
        ]);
      }
    } catch (error) {
      this.#report(error);
    } finally {
      this.#releaseProcess();
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
    return {
      added: this.#added,
      queued: this.#size,
      inFlight: this.#inFlight,
      sent: this.#sent,
      unconfirmed: this.#unconfirmed,
      dropped: {
        queueFull: this.#droppedQueueFull,
        flushFailed: this.#droppedFlushFailed,
        closed: this.#droppedClosed,
      },
      lastError: this.#lastFailure?.message,
      lastFailure: this.#lastFailure === undefined
        ? undefined
        : { ...this.#lastFailure },
    };
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
    }, this.#flushIntervalMs));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #shouldExport(): boolean {
    if (this.#size === 0 || this.#expired) return false;
    return this.#size >= this.#batchSize || this.#dequeued < this.#drainUntil;
  }

  #idle: (() => void)[] = [];

  #whenIdle(): Promise<void> {
    if (!this.#pumping) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#shouldExport()) {
        const batch = this.#take();
        const outcome = await this.#exportWithRetries(batch);
        this.#inFlight = 0;
        if (outcome === "sent") this.#sent += batch.length;
        else if (outcome === "unconfirmed") this.#unconfirmed += batch.length;
        else this.#droppedFlushFailed += batch.length;
        if (outcome !== "sent" && this.#shuttingDown) this.#giveUpQueue();
        this.#resolveWaiters();
      }
      if (this.#expired) this.#giveUpQueue();
    } finally {
      this.#pumping = false;
      this.#resolveWaiters();
      for (const resolve of this.#idle.splice(0)) resolve();
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

  /** Gives up everything queued, counted as failed (never sent). */
  #giveUpQueue(): void {
    const count = this.#size;
    if (count === 0) return;
    this.#ring.fill(undefined);
    this.#head = 0;
    this.#size = 0;
    this.#dequeued += count;
    this.#droppedFlushFailed += count;
    this.#resolveWaiters();
  }

  async #exportWithRetries(batch: Trace[]): Promise<Outcome> {
    let lastError: unknown;
    /** An abandoned attempt may still store the batch. */
    let inDoubt = false;
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) {
        // Someone waits for this export: keep flush() and close() bounded.
        const cap = this.#shuttingDown || this.#waiters.length > 0
          ? Math.min(this.#maxRetries, WAITED_RETRIES)
          : this.#maxRetries;
        if (attempt > cap || this.#expired) break;
        if (lastError instanceof PermanentExportError) break;
        // Once the queue is full, fresher traces win.
        if (this.#size >= this.#capacity) break;
        await this.#backoff(
          Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** (attempt - 1)),
        );
        if (this.#expired) break;
      }
      const result = await this.#exportOnce(batch);
      if (result === undefined) {
        if (this.#failing > 0) this.#recovered();
        return "sent";
      }
      lastError = result.error;
      inDoubt ||= result.abandoned ||
        result.error instanceof ExportInDoubtError;
      this.#failed(batch, result.error, attempt);
    }
    const outcome: Outcome = inDoubt ? "unconfirmed" : "failed";
    this.#report(
      new Error(
        `${this.#name} gave up a batch of ${batch.length} traces${
          outcome === "unconfirmed" ? " (its last export may still arrive)" : ""
        }: ${messageOf(lastError)}`,
        { cause: lastError },
      ),
    );
    return outcome;
  }

  /** Runs one attempt; `undefined` when it stored the batch. */
  async #exportOnce(
    batch: Trace[],
  ): Promise<{ error: unknown; abandoned: boolean } | undefined> {
    const controller = new AbortController();
    this.#attempt = controller;
    const timer = unrefTimer(setTimeout(() => {
      controller.abort(
        new Error(
          `${this.#name} export timed out after ${this.#exportTimeoutMs} ms`,
        ),
      );
    }, this.#exportTimeoutMs));
    const aborted = new Promise<never>((_, reject) => {
      controller.signal.addEventListener(
        "abort",
        () => reject(controller.signal.reason),
        { once: true },
      );
    });
    aborted.catch(() => {});
    try {
      await Promise.race([
        this.#exporter.export(batch, controller.signal),
        aborted,
      ]);
      return undefined;
    } catch (error) {
      return { error, abandoned: controller.signal.aborted };
    } finally {
      clearTimeout(timer);
      if (this.#attempt === controller) this.#attempt = undefined;
    }
  }

  #backoff(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wakeBackoff = undefined;
        resolve();
      };
      const timer = unrefTimer(setTimeout(wake, ms));
      this.#wakeBackoff = wake;
    });
  }

  #failed(batch: Trace[], error: unknown, attempt: number): void {
    const cause = causeOf(error);
    const message = messageOf(error);
    this.#lastFailure = { cause, message, at: Date.now() };
    this.#failing++;
    // The first failure of a batch is reported at once (the warner limits
    // each cause on its own); its retries only when the cause changes.
    if (attempt === 0) {
      this.#report(
        Object.assign(
          new Error(
            `${this.#name} could not export ${batch.length} traces (retrying): ${message}`,
            { cause: error },
          ),
          { code: cause },
        ),
      );
    }
  }

  /** Says so when exports work again (a note, not an error: not onError's). */
  #recovered(): void {
    const failures = this.#failing;
    this.#failing = 0;
    this.#warner?.warn(
      "recovered",
      `exports work again after ${failures} failed attempts`,
    );
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
    if (still.length === 0 && this.#closing === undefined) {
      this.#releaseProcess();
    }
  }

  /** A ref'd timer that keeps the process alive while someone awaits. */
  #holdProcess(): void {
    this.#keepAlive ??= setInterval(() => {}, 1 << 30);
  }

  #releaseProcess(): void {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }

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

  /** The process has no work left: flush what can be flushed. */
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
    const error = Object.assign(
      new Error(
        `${this.#name} queue is full (${this.#capacity} traces): dropping new traces${
          this.#lastFailure === undefined
            ? ""
            : ` (exports failing: ${this.#lastFailure.message})`
        }`,
      ),
      { code: "queue-full" },
    );
    queueMicrotask(() => this.#report(error));
  }

  #report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // The hook must not break the export loop or reach the host.
    }
  }
}

/** Detaches the exit hook of a collector collected without close(). */
const exitHooks = new FinalizationRegistry<() => void>((remove) => remove());

function sleepUnref(ms: number): Promise<void> {
  return new Promise((resolve) => unrefTimer(setTimeout(resolve, ms)));
}
