/**
 * The engine and the process's lifetime: who keeps the process alive while
 * a `flush()` or a shutdown waits (the engine's own timers are unref'd), and
 * how the engine learns that the process ran out of work.
 *
 * @module
 */

import { unrefTimer } from "../runtime/timer.ts";
import { runtime } from "../runtime/adapter.ts";

/**
 * Who waits for `flush()`: each waiter resolves once enough traces are
 * settled, or at its deadline. While any waits, or any shutdown holds it, a
 * ref'd timer keeps the process alive.
 */
export class FlushWaiters {
  #waiters: { target: number; resolve: () => void }[] = [];
  #keepAlive: ReturnType<typeof setInterval> | undefined;
  /** Shutdowns in progress (close(), the idle flush): each holds the process. */
  #holds = 0;

  /** Resolves once `target` traces are settled, or after `deadlineMs`. */
  add(target: number, deadlineMs: number): Promise<void> {
    this.#keepAlive ??= setInterval(() => {}, 1 << 30);
    return new Promise<void>((resolve) => {
      const timer = unrefTimer(setTimeout(() => settle(), deadlineMs));
      const waiter = { target, resolve: () => settle() };
      const settle = (): void => {
        clearTimeout(timer);
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        this.#letGo();
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

  /** Keeps the process alive, even with no waiter, until `release()`. */
  hold(): void {
    this.#holds++;
    this.#keepAlive ??= setInterval(() => {}, 1 << 30);
  }

  /** Ends one `hold()`. */
  release(): void {
    this.#holds--;
    this.#letGo();
  }

  #letGo(): void {
    if (this.#waiters.length > 0 || this.#holds > 0) return;
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
