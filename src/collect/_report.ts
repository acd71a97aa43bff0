/**
 * How the engine tells about failures: every report goes to `onError` (by
 * default a warning limited per cause), and the last export failure is
 * kept apart from "queue is full" for `stats()`.
 *
 * @module
 */

import { causeOf } from "./exporter.ts";
import type { ExportFailure } from "./batch_options.ts";
import { messageOf } from "../_message.ts";
import { createWarner, type Warner } from "../_warn.ts";

/** The reports of one collector. */
export class FailureReporter {
  readonly #name: string;
  readonly #onError: (error: unknown) => void;
  /** The default reporter, when no `onError` was given. */
  readonly #warner: Warner | undefined;
  /** The last export failure. */
  last: ExportFailure | undefined;
  /** Failed attempts since the last export that succeeded. */
  #failing = 0;
  /** The cause last reported for the batch being retried. */
  #batchCause: string | undefined;

  constructor(name: string, onError: ((error: unknown) => void) | undefined) {
    this.#name = name;
    if (onError !== undefined) this.#onError = onError;
    else {
      const warner = createWarner({ prefix: `[pss] ${name}` });
      this.#warner = warner;
      this.#onError = (error) => warner.warn(causeOf(error), error);
    }
  }

  /** Hands `error` to `onError`; never throws. */
  report(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // The hook must not break the export loop or reach the host.
    }
  }

  /**
   * An attempt failed. A batch's first failure is reported at once, and so
   * is a retry that fails for a new cause (a full disk that becomes a
   * permission error); the warner limits each cause on its own, so a new
   * cause is never hidden behind an old one.
   */
  failed(size: number, error: unknown, attempt: number): void {
    const cause = causeOf(error);
    const message = messageOf(error);
    this.last = { cause, message, at: Date.now() };
    this.#failing++;
    if (attempt > 0 && cause === this.#batchCause) return;
    this.#batchCause = cause;
    this.report(
      Object.assign(
        new Error(
          `${this.#name} could not export ${size} traces (retrying): ${message}`,
          { cause: error },
        ),
        { code: cause },
      ),
    );
  }

  /** An export succeeded: after failures, say so (a note, not onError's). */
  succeeded(): void {
    this.#batchCause = undefined;
    if (this.#failing === 0) return;
    const failures = this.#failing;
    this.#failing = 0;
    this.#warner?.warn(
      "recovered",
      `exports work again after ${failures} failed attempts`,
    );
  }

  /**
   * A batch was given up after its last attempt. Its own cause key, so the
   * warner does not hold it back behind the "retrying" report of the same
   * failure.
   */
  gaveUp(size: number, error: unknown, inDoubt: boolean): void {
    this.#batchCause = undefined;
    this.report(
      Object.assign(
        new Error(
          `${this.#name} gave up a batch of ${size} traces${
            inDoubt ? " (an abandoned export of it may still arrive)" : ""
          }: ${messageOf(error)}`,
          { cause: error },
        ),
        { code: `gave-up:${causeOf(error)}` },
      ),
    );
  }

  /** The queue started dropping (reported after `add()` returns). */
  queueFull(capacity: number): void {
    const failing = this.last === undefined
      ? ""
      : ` (exports failing: ${this.last.message})`;
    const error = Object.assign(
      new Error(
        `${this.#name} queue is full (${capacity} traces): dropping new traces${failing}`,
      ),
      { code: "queue-full" },
    );
    queueMicrotask(() => this.report(error));
  }
}
