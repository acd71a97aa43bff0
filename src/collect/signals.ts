/**
 * Flushing collectors when the process is told to stop (SIGTERM from a
 * container runtime, SIGINT from Ctrl-C), then ending it as the signal
 * would have.
 *
 * @module
 */

import type { Collector } from "./collector.ts";
import { runtime } from "../runtime/adapter.ts";
import type { ExitSignal } from "../runtime/types.ts";
import { PssConfigError } from "../score/config.ts";
import { checkKnownKeys, positiveNumber } from "../_options.ts";

/**
 * A signal {@linkcode flushOnSignals} can handle.
 *
 * @example
 * ```ts
 * import { flushOnSignals, MemoryCollector, type ProcessSignal } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const signal: ProcessSignal = "SIGTERM";
 * using _signals = flushOnSignals([new MemoryCollector()], { signals: [signal] });
 * assert.throws(() => flushOnSignals([], { signals: ["SIGKILL" as ProcessSignal] }), /signals/);
 * ```
 */
export type ProcessSignal = ExitSignal;

/** The signals' numbers (Linux and macOS): an exit they cause reports 128 + n. */
const SIGNAL_NUMBERS: Readonly<Record<ProcessSignal, number>> = {
  SIGINT: 2,
  SIGTERM: 15,
};

/**
 * Options of {@linkcode flushOnSignals}.
 *
 * @example
 * ```ts
 * import { flushOnSignals, type FlushOnSignalsOptions, MemoryCollector } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const options: FlushOnSignalsOptions = { timeoutMs: 3000, signals: ["SIGTERM"] };
 * using _signals = flushOnSignals([new MemoryCollector()], options);
 * assert.throws(() => flushOnSignals([], { timeoutMs: -1 }), /timeoutMs/);
 * ```
 */
export interface FlushOnSignalsOptions {
  /**
   * How long to wait for the collectors' `close()` before exiting anyway,
   * in milliseconds (each collector's own `closeTimeoutMs` also bounds it).
   * @default {5000}
   */
  timeoutMs?: number;
  /**
   * Which signals to handle.
   * @default {["SIGTERM", "SIGINT"]}
   */
  signals?: readonly ProcessSignal[];
}

/**
 * On SIGTERM or SIGINT (by default), closes the given collectors, so that
 * what they hold is delivered, within `timeoutMs`, then ends the process
 * with exit code `128 + the signal's number` (143 for SIGTERM, 130 for
 * SIGINT), as the signal would have. A second signal while flushing ends
 * the process at once. Without this, a signal ends the process at once
 * and the queued traces are lost: collectors do not install signal
 * handlers themselves, because handling a signal replaces its default
 * action for the whole program.
 *
 * @param collectors The collectors to close.
 * @param options See {@linkcode FlushOnSignalsOptions}.
 * @returns A disposable that removes the listeners (`using` removes them at
 * the end of the scope: at the top of a module, that is when the module has
 * loaded, so keep the result there instead). The listeners never keep the
 * process alive.
 * @throws {PssConfigError} For an unknown option or signal.
 *
 * @example
 * ```ts
 * import { flushOnSignals, MemoryCollector } from "@pss/pss";
 * const collector = new MemoryCollector();
 * using _signals = flushOnSignals([collector], { timeoutMs: 2000 });
 * collector.add({ name: "op" }); // flushed if SIGTERM or SIGINT arrives (no result to check)
 * ```
 */
export function flushOnSignals(
  collectors: Iterable<Collector>,
  options: FlushOnSignalsOptions = {},
): Disposable {
  const owner = "flushOnSignals";
  checkKnownKeys(owner, options, ["timeoutMs", "signals"]);
  const timeoutMs = positiveNumber(
    owner,
    "timeoutMs",
    options.timeoutMs ?? 5000,
  );
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  for (const signal of signals) {
    if (!Object.hasOwn(SIGNAL_NUMBERS, signal)) {
      throw new PssConfigError(
        "signals",
        signal,
        `${owner}'s 'signals' must name ${
          Object.keys(SIGNAL_NUMBERS).join(", ")
        }`,
      );
    }
  }
  const list = [...collectors];
  let stopping = false;
  const removers: (() => void)[] = [];
  const onSignal = (signal: ProcessSignal): void => {
    const code = 128 + SIGNAL_NUMBERS[signal];
    if (stopping) return runtime.process.exit(code);
    stopping = true;
    const closed = Promise.allSettled(list.map((c) => {
      try {
        return c.close();
      } catch (error) {
        return Promise.reject(error);
      }
    }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    });
    void Promise.race([closed, late]).then(() => {
      clearTimeout(timer);
      runtime.process.exit(code);
    });
  };
  for (const signal of signals) {
    removers.push(
      runtime.process.addSignalListener(signal, () => onSignal(signal)),
    );
  }
  return {
    [Symbol.dispose](): void {
      for (const remove of removers.splice(0)) remove();
    },
  };
}
