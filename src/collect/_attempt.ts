/**
 * The engine's way out for one batch: attempts with a timeout each, capped
 * exponential backoff between them, and giving up (counted by the caller)
 * after the last retry or at a deadline.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import {
  ExportInDoubtError,
  PermanentExportError,
  type TraceExporter,
} from "./exporter.ts";
import type { Outcome, ResolvedBatchOptions } from "./batch_options.ts";
import type { TraceQueue } from "./_queue.ts";
import type { FailureReporter } from "./_report.ts";
import { unrefTimer } from "../runtime/timer.ts";

/** Retries of an export during shutdown. */
const SHUTDOWN_RETRIES = 3;

/** How an attempt failed; `abandoned` when its signal aborted first. */
export interface AttemptFailure {
  error: unknown;
  abandoned: boolean;
}

/**
 * Runs `exporter.export(batch, signal)` until it settles, `timeoutMs`
 * passes, or `controller` aborts (the engine's close deadline): then the
 * signal aborts and the export is abandoned, never awaited again.
 *
 * @returns `undefined` when the batch was stored, else how it failed.
 */
export async function attemptExport(
  exporter: TraceExporter,
  batch: readonly Trace[],
  controller: AbortController,
  timeout: { ms: number; message: string },
): Promise<AttemptFailure | undefined> {
  const timer = unrefTimer(setTimeout(() => {
    controller.abort(
      Object.assign(new Error(timeout.message), { code: "timeout" }),
    );
  }, timeout.ms));
  const aborted = new Promise<never>((_, reject) => {
    controller.signal.addEventListener(
      "abort",
      () => reject(controller.signal.reason),
      { once: true },
    );
  });
  aborted.catch(() => {});
  try {
    await Promise.race([exporter.export(batch, controller.signal), aborted]);
    return undefined;
  } catch (error) {
    return { error, abandoned: controller.signal.aborted };
  } finally {
    clearTimeout(timer);
  }
}

/** An unref'd wait that can be cut short. */
export interface Wait {
  done: Promise<void>;
  /** Ends the wait now. */
  wake(): void;
}

/** Waits `ms` on an unref'd timer (the process may exit meanwhile). */
export function wait(ms: number): Wait {
  let wake!: () => void;
  const done = new Promise<void>((resolve) => {
    const timer = unrefTimer(setTimeout(resolve, ms));
    wake = () => {
      clearTimeout(timer);
      resolve();
    };
  });
  return { done, wake };
}

/** The abort reason `BatchSender.expire()` gives. */
function isDeadline(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === "deadline";
}

/**
 * Sends batches one at a time, each until it is stored or given up; a
 * deadline (`expire()`) cuts the running attempt or backoff short.
 */
export class BatchSender {
  readonly #name: string;
  readonly #o: ResolvedBatchOptions;
  readonly #reporter: FailureReporter;
  readonly #queue: TraceQueue;
  /** Aborts the running attempt (export timeout or a deadline). */
  #attempt: AbortController | undefined;
  #wakeBackoff: (() => void) | undefined;
  /**
   * Shutting down (close(), or the process ran out of work): a few retries,
   * then give up, so a dead destination does not hold the exit. A flush()
   * waits for retries up to its deadline instead.
   */
  shuttingDown = false;
  /** Set when a deadline passed: give everything up at once. */
  expired = false;

  constructor(
    name: string,
    options: ResolvedBatchOptions,
    reporter: FailureReporter,
    queue: TraceQueue,
  ) {
    this.#name = name;
    this.#o = options;
    this.#reporter = reporter;
    this.#queue = queue;
  }

  /** The deadline passed: abandon the running attempt, skip any backoff. */
  expire(deadlineMs: number): void {
    this.expired = true;
    this.#attempt?.abort(
      Object.assign(
        new Error(
          `${this.#name} stopped waiting at its ${deadlineMs} ms shutdown deadline`,
        ),
        { code: "deadline" },
      ),
    );
    this.#wakeBackoff?.();
  }

  /** Exports `batch`, retrying, until it is stored or given up. */
  async send(batch: Trace[]): Promise<Outcome> {
    const o = this.#o;
    let lastError: unknown;
    /** An abandoned attempt, or one that failed after sending, may land. */
    let inDoubt = false;
    for (let attempt = 0;; attempt++) {
      if (attempt > 0 && !(await this.#backOff(attempt, lastError))) break;
      const controller = new AbortController();
      this.#attempt = controller;
      const result = await attemptExport(o.exporter, batch, controller, {
        ms: o.exportTimeoutMs,
        message: `${this.#name} export timed out after ${o.exportTimeoutMs} ms`,
      });
      this.#attempt = undefined;
      if (result === undefined) {
        this.#reporter.succeeded();
        return "sent";
      }
      inDoubt ||= result.abandoned ||
        result.error instanceof ExportInDoubtError;
      // The engine's own deadline cut this attempt short: that is why the
      // batch ends, not why it failed. Keep the destination's cause (for
      // stats() and the give-up report) when there was one.
      if (isDeadline(result.error) && lastError !== undefined) continue;
      lastError = result.error;
      this.#reporter.failed(batch.length, result.error, attempt);
    }
    this.#reporter.gaveUp(batch.length, lastError, inDoubt);
    return inDoubt ? "unconfirmed" : "failed";
  }

  /** Waits before retry number `attempt`; `false` when the batch is given up. */
  async #backOff(attempt: number, lastError: unknown): Promise<boolean> {
    const o = this.#o;
    const cap = this.shuttingDown
      ? Math.min(o.maxRetries, SHUTDOWN_RETRIES)
      : o.maxRetries;
    if (attempt > cap || this.expired) return false;
    if (lastError instanceof PermanentExportError) return false;
    if (this.#queue.full) return false; // fresher traces win
    const backoff = wait(
      Math.min(o.retryMaxMs, o.retryBaseMs * 2 ** (attempt - 1)),
    );
    this.#wakeBackoff = backoff.wake;
    await backoff.done;
    this.#wakeBackoff = undefined;
    return !this.expired;
  }
}
