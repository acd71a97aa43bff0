/**
 * Process-wide instrumentation settings (sampling, error reporting, what
 * each trace measures) and the counters of what instrumentation skipped or
 * could not do.
 *
 * @module
 */

import { PssConfigError } from "../score/config.ts";
import {
  checkKnownKeys,
  functionOption,
  positiveNumber,
  rate,
} from "../_options.ts";
import { createWarner, type Warner } from "../_warn.ts";
import { causeOf } from "../collect/exporter.ts";
import { messageOf } from "../_message.ts";

/**
 * Where an instrumentation failure happened; see {@linkcode InstrumentationSettings.onError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   configureInstrumentation,
 *   getInstrumentationSettings,
 *   type InstrumentationErrorSource,
 *   MemoryCollector,
 *   monitorBlock,
 * } from "@pss/pss";
 * class FullCollector extends MemoryCollector {
 *   override add(): void { throw new Error("disk full"); }
 * }
 * const before = getInstrumentationSettings();
 * const sources: InstrumentationErrorSource[] = [];
 * configureInstrumentation({ onError: (_error, source) => sources.push(source) });
 * monitorBlock("save", { collector: new FullCollector() }).end();
 * assert.deepEqual(sources, ["collector"]);
 * configureInstrumentation(before); // the settings as they were
 * ```
 */
export type InstrumentationErrorSource =
  | "collector"
  | "random"
  | "probe"
  | "options";

/**
 * Settings every monitor reads when it starts. Change them with
 * {@linkcode configureInstrumentation}.
 *
 * @example
 * ```ts
 * import { getInstrumentationSettings } from "@pss/pss";
 * import assert from "node:assert/strict";
 * assert.equal(getInstrumentationSettings().sampleRate, 1);
 * ```
 */
export interface InstrumentationSettings {
  /**
   * Fraction of calls that are recorded, from 0 to 1 (pypss:
   * `sample_rate`). A call is drawn once, when it starts; a call drawn out
   * costs one `random()` and records nothing.
   * @default {1}
   */
  readonly sampleRate: number;
  /**
   * Fraction of failing calls that are recorded, from 0 to 1, whatever
   * `sampleRate` decided (pypss: `error_sample_rate`). The same draw `u` is
   * compared with both rates: a call that succeeds is kept when
   * `u < sampleRate`, one that fails when `u < errorSampleRate`.
   * @default {1}
   */
  readonly errorSampleRate: number;
  /** Source of uniform numbers in [0, 1) for sampling (inject a seeded one in tests). @default {Math.random} */
  readonly random: () => number;
  /**
   * Called when instrumentation fails without failing the host (a collector
   * whose `add` throws, a `random` that throws; source `"options"`: an
   * invalid or unknown option of a `monitorBlock`/`monitorAsync` call, a
   * `PssConfigError` reported once per problem while the global setting
   * applies, or `withTags` tags that are not an object). Must not throw; if it does, the error is counted and dropped.
   * @default {a `console.warn` at the first failure of each kind (where, and the error's code or class), then at most one a minute for that kind, with the count held back}
   */
  readonly onError: (
    error: unknown,
    source: InstrumentationErrorSource,
  ) => void;
  /**
   * Whether synchronous blocks read the process CPU time at start and end
   * (about 0.3–0.7 µs per read) to record `cpuTime` and
   * `waitTime = max(0, duration − cpuTime)`. When off, or when the runtime
   * cannot tell, sync traces carry `waitTime: 0` and no `cpuTime`.
   * @default {false}
   */
  readonly cpu: boolean;
  /** Whether traces carry `memory` (the cached RSS; see `memoryMaxAgeMs`). @default {true} */
  readonly memory: boolean;
  /**
   * Oldest RSS reading a trace may carry, in milliseconds. A background
   * refresher re-reads RSS every `memoryMaxAgeMs / 2` while monitors are in
   * use; a monitor that ends with an older reading (the event loop was
   * blocked) reads RSS itself.
   * @default {100}
   */
  readonly memoryMaxAgeMs: number;
  /**
   * Whether traces carry `filename` and `lineno` of the code that started
   * the monitor. Costs a stack capture (several µs) per recorded call.
   * @default {false}
   */
  readonly captureSource: boolean;
}

/**
 * Options for {@linkcode configureInstrumentation}: any subset of the settings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configureInstrumentation, getInstrumentationSettings, type InstrumentationOptions } from "@pss/pss";
 * const before = getInstrumentationSettings();
 * const production: InstrumentationOptions = { sampleRate: 0.1, errorSampleRate: 1, cpu: true };
 * configureInstrumentation(production);
 * assert.equal(getInstrumentationSettings().sampleRate, 0.1);
 * configureInstrumentation(before); // the settings as they were
 * ```
 */
export type InstrumentationOptions = Partial<InstrumentationSettings>;

/**
 * Counters of what instrumentation skipped or could not do since the
 * process started.
 *
 * @example
 * ```ts
 * import { instrumentationStats } from "@pss/pss";
 * import assert from "node:assert/strict";
 * assert.equal(instrumentationStats().collectorErrors, 0);
 * ```
 */
export interface InstrumentationStats {
  /** Calls not recorded because sampling drew them out. */
  sampledOut: number;
  /** Traces a collector's `add` threw on (the trace is lost). */
  collectorErrors: number;
  /** Other failures reported to `onError` (a throwing `random`, a probe, a bad option). */
  otherErrors: number;
  /** Times `onError` itself threw. */
  onErrorFailures: number;
}

/**
 * The default `onError`: the library's one warning limiter, keyed by where
 * the failure happened and what it was, so a new kind of failure (a bad
 * option after a failing collector) is printed at once instead of waiting
 * behind the first one's minute.
 */
let warner: Warner = createWarner({ prefix: "[pss] instrumentation" });

function warnPerCause(
  error: unknown,
  source: InstrumentationErrorSource,
): void {
  warner.warn(`${source}:${causeOf(error)}`, `${source}: ${messageOf(error)}`);
}

const DEFAULTS: InstrumentationSettings = Object.freeze({
  sampleRate: 1,
  errorSampleRate: 1,
  random: Math.random,
  onError: warnPerCause,
  cpu: false,
  memory: true,
  memoryMaxAgeMs: 100,
  captureSource: false,
});

/**
 * The live settings and derived flags read on the hot path. Internal:
 * replaced whole by {@linkcode configureInstrumentation}.
 */
export interface ActiveSettings extends InstrumentationSettings {
  /** Whether any draw is needed (some rate below 1). */
  readonly sampling: boolean;
  /** Whether blocks need extra state by default (`cpu` or `captureSource`). */
  readonly extra: boolean;
  /** Neither `sampling` nor `extra`: a block without options is plain. */
  readonly plain: boolean;
}

function activate(settings: InstrumentationSettings): ActiveSettings {
  const sampling = settings.sampleRate < 1 || settings.errorSampleRate < 1;
  const extra = settings.cpu || settings.captureSource;
  return Object.freeze({
    ...settings,
    sampling,
    extra,
    plain: !sampling && !extra,
  });
}

/** The settings in force (internal; read through {@linkcode getInstrumentationSettings}). */
export let active: ActiveSettings = activate(DEFAULTS);

/** The counters (internal; read through {@linkcode instrumentationStats}). */
export const stats: InstrumentationStats = {
  sampledOut: 0,
  collectorErrors: 0,
  otherErrors: 0,
  onErrorFailures: 0,
};

/** Every key {@linkcode configureInstrumentation} accepts. */
const SETTING_KEYS: readonly (keyof InstrumentationSettings)[] = [
  "sampleRate",
  "errorSampleRate",
  "random",
  "onError",
  "cpu",
  "memory",
  "memoryMaxAgeMs",
  "captureSource",
];

const OWNER = "configureInstrumentation";

function booleanOption(field: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw new PssConfigError(
      field,
      value,
      `${OWNER}'s '${field}' must be a boolean`,
    );
  }
  return value;
}

/**
 * Changes process-wide instrumentation settings; fields left out keep their
 * current value. Monitors already running keep the settings they started
 * with (except `onError`, read when a failure happens).
 *
 * @param options The settings to change.
 * @returns The settings now in force.
 * @throws {PssConfigError} When a key is unknown (naming the closest known
 * one) or a field has the wrong type or range; nothing
 * changes then.
 *
 * @example Keep 10 % of successful calls and every failing one
 * ```ts
 * import { configureInstrumentation } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const settings = configureInstrumentation({ sampleRate: 0.1, errorSampleRate: 1 });
 * assert.equal(settings.sampleRate, 0.1);
 * assert.throws(() => configureInstrumentation({ sampleRate: 2 }), /sampleRate/);
 * ```
 */
export function configureInstrumentation(
  options: InstrumentationOptions,
): InstrumentationSettings {
  if (options === undefined) {
    throw new PssConfigError(
      "options",
      options,
      `${OWNER}'s options must be an object`,
    );
  }
  checkKnownKeys(OWNER, options, SETTING_KEYS);
  const next = { ...getInstrumentationSettings() };
  if (options.sampleRate !== undefined) {
    next.sampleRate = rate(OWNER, "sampleRate", options.sampleRate);
  }
  if (options.errorSampleRate !== undefined) {
    next.errorSampleRate = rate(
      OWNER,
      "errorSampleRate",
      options.errorSampleRate,
    );
  }
  if (options.random !== undefined) {
    next.random = functionOption(OWNER, "random", options.random);
  }
  if (options.onError !== undefined) {
    next.onError = functionOption(OWNER, "onError", options.onError);
  }
  for (const field of ["cpu", "memory", "captureSource"] as const) {
    if (options[field] !== undefined) {
      next[field] = booleanOption(field, options[field]);
    }
  }
  if (options.memoryMaxAgeMs !== undefined) {
    next.memoryMaxAgeMs = positiveNumber(
      OWNER,
      "memoryMaxAgeMs",
      options.memoryMaxAgeMs,
    );
  }
  active = activate(next);
  return getInstrumentationSettings();
}

/**
 * The instrumentation settings in force.
 *
 * @returns A frozen copy.
 *
 * @example
 * ```ts
 * import { getInstrumentationSettings } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const { sampleRate, errorSampleRate } = getInstrumentationSettings();
 * assert.deepEqual([sampleRate, errorSampleRate], [1, 1]); // the defaults
 * ```
 */
export function getInstrumentationSettings(): InstrumentationSettings {
  return Object.freeze({
    sampleRate: active.sampleRate,
    errorSampleRate: active.errorSampleRate,
    random: active.random,
    onError: active.onError,
    cpu: active.cpu,
    memory: active.memory,
    memoryMaxAgeMs: active.memoryMaxAgeMs,
    captureSource: active.captureSource,
  });
}

/**
 * Restores the default settings and zeroes the counters (for tests).
 *
 * @returns The default settings.
 *
 * @example
 * ```ts
 * import { configureInstrumentation } from "@pss/pss";
 * import assert from "node:assert/strict";
 * import { resetInstrumentation } from "./settings.ts";
 * configureInstrumentation({ sampleRate: 0 });
 * assert.equal(resetInstrumentation().sampleRate, 1);
 * ```
 */
export function resetInstrumentation(): InstrumentationSettings {
  active = activate(DEFAULTS);
  stats.sampledOut = 0;
  stats.collectorErrors = 0;
  stats.otherErrors = 0;
  stats.onErrorFailures = 0;
  warner = createWarner({ prefix: "[pss] instrumentation" });
  reportedProblems.clear();
  reportedCount = 0;
  return getInstrumentationSettings();
}

/**
 * Counters of what instrumentation skipped or could not do.
 *
 * @returns A copy of the counters.
 *
 * @example
 * ```ts
 * import { instrumentationStats } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const { collectorErrors, sampledOut } = instrumentationStats();
 * assert.deepEqual([collectorErrors, sampledOut], [0, 0]); // nothing recorded yet
 * ```
 */
export function instrumentationStats(): InstrumentationStats {
  return { ...stats };
}

/**
 * Counts a failure and hands it to `onError`; never throws (internal).
 *
 * @param error What was thrown.
 * @param source Where.
 */
export function reportError(
  error: unknown,
  source: InstrumentationErrorSource,
): void {
  if (source === "collector") stats.collectorErrors++;
  else stats.otherErrors++;
  try {
    active.onError(error, source);
  } catch {
    stats.onErrorFailures++;
  }
}

/** Option problems already reported: the keys of each owner. */
const reportedProblems = new Map<string, Set<string>>();
let reportedCount = 0;

/** At most this many distinct problems are remembered (and reported). */
const MAX_REPORTED_PROBLEMS = 100;

/**
 * Reports an invalid option met on the hot path to `onError` (source
 * `"options"`), once per owner and key; never throws (internal). Repeats
 * cost two lookups: the error is built only the first time, by
 * `describe(owner, key, value)` (a module-level function, so a call makes
 * no closure), since building one, with the closest known name for a typo,
 * costs microseconds.
 */
export function reportOptionProblem(
  owner: string,
  key: string,
  value: unknown,
  describe: (owner: string, key: string, value: unknown) => unknown,
): void {
  let keys = reportedProblems.get(owner);
  if (keys !== undefined && keys.has(key)) return;
  if (reportedCount >= MAX_REPORTED_PROBLEMS) return;
  if (keys === undefined) reportedProblems.set(owner, keys = new Set());
  keys.add(key);
  reportedCount++;
  let error: unknown;
  try {
    error = describe(owner, key, value);
  } catch (caught) {
    error = caught;
  }
  if (error !== undefined) reportError(error, "options");
}
