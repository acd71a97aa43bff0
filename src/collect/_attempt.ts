/**
 * One export attempt with a timeout, and the waits between attempts: the
 * parts of the engine's retry loop that deal with time.
 *
 * @module
 */

import type { Trace } from "../trace.ts";
import type { TraceExporter } from "./exporter.ts";
import { unrefTimer } from "../runtime/timer.ts";
import { runtime } from "../runtime/adapter.ts";

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
    controller.abort(new Error(timeout.message));
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

/**
 * Who waits for `flush()`: each waiter resolves once enough traces are
 * settled, or at its deadline. While any waits, a ref'd timer keeps the
 * process alive (the engine's own timers are unref'd).
 */
export class FlushWaiters {
  #waiters: { target: number; resolve: () => void }[] = [];
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Holds the process even with no waiter (close() in progress). */
  held = false;

  /** Resolves once `target` traces are settled, or after `deadlineMs`. */
  add(target: number, deadlineMs: number): Promise<void> {
    this.hold();
    return new Promise<void>((resolve) => {
      const timer = unrefTimer(setTimeout(() => settle(), deadlineMs));
      const waiter = { target, resolve: () => settle() };
      const settle = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        if (this.#waiters.length === 0 && !this.held) this.release();
        resolve();
      };
      this.#waiters.push(waiter);
    });
  }

  /** Resolves the waiters whose target `settled` reaches. */
  settle(settled: number): void {
    for (const waiter of this.#waiters) {
      if (settled >= waiter.target) waiter.resolve();
    }
  }

  /** Keeps the process alive until {@linkcode FlushWaiters.release}. */
  hold(): void {
    this.#keepAlive ??= setInterval(() => {}, 1 << 30);
  }

  release(): void {
    if (this.#keepAlive !== undefined) clearInterval(this.#keepAlive);
    this.#keepAlive = undefined;
  }
}

/** Detaches the idle hook of a target collected without detaching it. */
const idleHooks = new FinalizationRegistry<() => void>((remove) => remove());

/**
 * Calls `onIdle(target)` whenever the process runs out of work (see
 * `runtime.process.onIdle`), holding `target` weakly: the hook goes when the
 * target is collected, so targets dropped without detaching do not pile up.
 *
 * @returns The detach function, or `undefined` where the runtime has no such
 * moment.
 */
export function whenIdle<T extends object>(
  target: T,
  onIdle: (target: T) => boolean,
): (() => void) | undefined {
  const ref = new WeakRef(target);
  const remove = runtime.process.onIdle(() => {
    const alive = ref.deref();
    return alive === undefined ? false : onIdle(alive);
  });
  if (remove === undefined) return undefined;
  // No closure here may capture `target`: closures of one call share their
  // context, and the listener above would then hold it strongly.
  const token = {};
  idleHooks.register(target, remove, token);
  return () => {
    idleHooks.unregister(token);
    remove();
  };
}
