/**
 * `loadConfig`: read pss settings from files and environment variables, the
 * way pypss reads `pypss.toml`, and `applyConfig` to put the
 * instrumentation ones in force.
 *
 * @module
 */

import {
  camelCase,
  checkKnownKeys,
  didYouMean,
  functionOption,
  positiveInteger,
  rate,
} from "../_options.ts";
import {
  DEFAULT_CONFIG,
  type PssConfig,
  PssConfigError,
  resolveConfig,
} from "../score/config.ts";
import {
  getGlobalCollector,
  MemoryCollector,
  setGlobalCollector,
} from "../collect/memory.ts";
import { configureInstrumentation } from "../instrument/settings.ts";
import { parseJsonc } from "./_jsonc.ts";
import { runtime } from "../runtime/adapter.ts";
import type { EnvironmentPort } from "../runtime/types.ts";

/**
 * The name of every setting a file or the environment can set: the
 * {@linkcode PssConfig} fields plus `sampleRate`, `errorSampleRate` and
 * `maxTraces`.
 *
 * @example
 * ```ts
 * import { CONFIG_ENV_VARS, type SettingName } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const setting: SettingName = "sampleRate";
 * assert.equal(CONFIG_ENV_VARS[setting], "PSS_SAMPLE_RATE");
 * ```
 */
export type SettingName =
  | keyof PssConfig
  | "sampleRate"
  | "errorSampleRate"
  | "maxTraces";

const INSTRUMENTATION_DEFAULTS = {
  sampleRate: 1,
  errorSampleRate: 1,
  maxTraces: 10_000,
} as const;

const SETTING_NAMES: readonly SettingName[] = [
  ...(Object.keys(DEFAULT_CONFIG) as (keyof PssConfig)[]),
  "sampleRate",
  "errorSampleRate",
  "maxTraces",
];

const SETTINGS = new Set<string>(SETTING_NAMES);

/**
 * The environment variable of every setting: `PSS_` and the setting's name
 * in upper snake case (`wTs` → `PSS_W_TS`, `sampleRate` →
 * `PSS_SAMPLE_RATE`, `memSpikeThresholdRatio` →
 * `PSS_MEM_SPIKE_THRESHOLD_RATIO`).
 *
 * @example Grant Deno exactly these variables
 * ```ts
 * import { CONFIG_ENV_VARS } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const flag = `--allow-env=${Object.values(CONFIG_ENV_VARS).join(",")}`;
 * assert.ok(flag.startsWith("--allow-env=PSS_W_TS,PSS_W_MS,"));
 * ```
 */
export const CONFIG_ENV_VARS: Readonly<Record<SettingName, string>> = Object
  .freeze(
    Object.fromEntries(
      SETTING_NAMES.map((name) => [
        name,
        `PSS_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`,
      ]),
    ) as Record<SettingName, string>,
  );

/**
 * Options for {@linkcode loadConfig}.
 *
 * @example
 * ```ts
 * import { loadConfig, type LoadConfigOptions } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/pss.json`, '{ "w_ts": 0.4, "sampleRate": 0.5 }');
 * const options: LoadConfigOptions = { cwd: dir, manifests: false, env: { PSS_MAX_TRACES: "5000" } };
 * const config = await loadConfig(options);
 * assert.equal(config.score.wTs, 0.4);
 * assert.equal(config.sampleRate, 0.5);
 * assert.equal(config.maxTraces, 5000);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface LoadConfigOptions {
  /**
   * The directory holding `pss.json`, `package.json` and `deno.json`.
   * @default {the current working directory}
   */
  cwd?: string;
  /**
   * A settings file to read instead of `pss.json` (relative to `cwd`). It
   * must exist.
   * @default {"pss.json", read only when it exists}
   */
  path?: string;
  /**
   * Whether to read the `"pss"` key of `package.json` and of `deno.json`
   * (or, when there is none, `deno.jsonc`) in `cwd`.
   * @default {true}
   */
  manifests?: boolean;
  /**
   * The environment variables to read the `PSS_*` settings from, or
   * `false` to read none.
   * @default {the process environment}
   */
  env?: Readonly<Record<string, string | undefined>> | false;
  /**
   * Called with each warning: a source skipped because the runtime's
   * permissions do not allow reading it, or a `PSS_*` variable that is
   * not a setting but close to one's name (a typo). The warnings are also
   * returned.
   * @default {console.warn}
   */
  onWarning?: (message: string) => void;
}

/** Every key of {@linkcode LoadConfigOptions}. */
const LOAD_OPTION_KEYS: readonly (keyof LoadConfigOptions)[] = [
  "cwd",
  "path",
  "manifests",
  "env",
  "onWarning",
];

/**
 * Settings read by {@linkcode loadConfig}.
 *
 * @example
 * ```ts
 * import { computePss, type LoadedConfig, loadConfig } from "@pss/pss";
 * import assert from "node:assert/strict";
 * const config: LoadedConfig = await loadConfig({ env: { PSS_ALPHA: "3" } });
 * assert.equal(config.score.alpha, 3);
 * assert.equal(config.sources.at(-1), "environment (PSS_ALPHA)");
 * assert.equal(computePss([{ name: "op", duration: 0.1 }], config.score).pss, 100);
 * ```
 */
export interface LoadedConfig {
  /** The scoring configuration, complete and validated: pass it to `computePss`. */
  score: Readonly<PssConfig>;
  /** Fraction of calls instrumentation records, 0 to 1 (pypss: `sample_rate`). */
  sampleRate: number;
  /** Fraction of failing calls instrumentation records, 0 to 1 (pypss: `error_sample_rate`). */
  errorSampleRate: number;
  /** How many traces the global in-memory collector keeps (pypss: `max_traces`). */
  maxTraces: number;
  /** Where values came from, in the order applied (empty: defaults only). */
  sources: string[];
  /** Sources skipped for lack of permission. */
  warnings: string[];
}

type Layer = Partial<Record<SettingName, number>>;

function suggestion(key: string): string {
  return didYouMean(key, SETTING_NAMES);
}

function checkSetting(
  name: SettingName,
  value: unknown,
  source: string,
): number {
  switch (name) {
    // No owner in the message: the source says where the value came from.
    case "sampleRate":
    case "errorSampleRate":
      return rate("", name, value, source);
    case "maxTraces":
      return positiveInteger("", name, value, source);
    default:
      // One field at a time, so the error names the source that set it.
      return resolveConfig({ [name]: value } as Partial<PssConfig>, source)[
        name
      ];
  }
}

function layerFromObject(
  object: Record<string, unknown>,
  source: string,
): Layer {
  const layer: Layer = {};
  const writtenAs = new Map<SettingName, string>();
  for (const [key, value] of Object.entries(object)) {
    if (key === "$schema") continue;
    const name = camelCase(key);
    if (!SETTINGS.has(name)) {
      throw new PssConfigError(
        key,
        value,
        `'${key}' is not a known setting${suggestion(key)}`,
        source,
      );
    }
    const setting = name as SettingName;
    const earlier = writtenAs.get(setting);
    if (earlier !== undefined) {
      throw new PssConfigError(
        setting,
        value,
        `'${setting}' is set twice, as '${earlier}' and as '${key}'`,
        source,
      );
    }
    writtenAs.set(setting, key);
    const where = key === name ? source : `${source}, key '${key}'`;
    layer[setting] = checkSetting(setting, value, where);
  }
  return layer;
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function isAbsolute(path: string): boolean {
  return /^(?:[/\\]|[A-Za-z]:[/\\])/.test(path);
}

function joinPath(dir: string, name: string): string {
  if (isAbsolute(name)) return name;
  return /[/\\]$/.test(dir) ? dir + name : `${dir}/${name}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

type JsonRead =
  | { kind: "json"; value: Record<string, unknown> }
  | { kind: "missing" }
  | { kind: "denied" };

/** Reads and parses one file. */
async function readJsonFile(
  host: EnvironmentPort,
  path: string,
  options: { jsonc: boolean; required: boolean },
): Promise<JsonRead> {
  const read = await host.readTextFile(path);
  switch (read.kind) {
    case "missing":
      if (options.required) {
        throw new PssConfigError(
          "path",
          path,
          "the settings file must exist",
        );
      }
      return read;
    case "denied":
      return read;
    case "error":
      throw new PssConfigError(
        "file",
        read.reason,
        "the file must be readable",
        path,
      );
  }
  let json: unknown;
  try {
    json = options.jsonc ? parseJsonc(read.text) : JSON.parse(read.text);
  } catch (error) {
    throw new PssConfigError(
      "file",
      error instanceof Error ? error.message : String(error),
      `the file must be valid ${options.jsonc ? "JSONC" : "JSON"}`,
      path,
    );
  }
  if (!isRecord(json)) {
    throw new PssConfigError(
      "file",
      json,
      "the file must hold a JSON object",
      path,
    );
  }
  return { kind: "json", value: json };
}

/**
 * Reads pss settings from, in order (a later source overrides an earlier
 * one):
 *
 * 1. the defaults (pypss 1.3.1's);
 * 2. the `"pss"` object of `package.json`, then of `deno.json` (or
 *    `deno.jsonc` when there is no `deno.json`; comments and trailing
 *    commas allowed), in `cwd`;
 * 3. `pss.json` in `cwd`, or the file `path` names;
 * 4. the environment variables of {@linkcode CONFIG_ENV_VARS}
 *    (`PSS_SAMPLE_RATE=0.1`, `PSS_W_TS=0.4`, …; an empty variable counts
 *    as unset).
 *
 * Files hold one flat JSON object whose keys are setting names, camelCase
 * (`"wTs"`) or pypss's snake_case (`"w_ts"`); a `"$schema"` key is
 * ignored. Every value is validated where it is read, and the error names
 * the file or variable, the key and the value.
 *
 * On Deno, a file or variable the granted permissions do not cover is
 * skipped with a warning (loading never prompts): grant
 * `--allow-read=.` for the files and `--allow-env=PSS_*` for the
 * variables.
 *
 * @param options See {@linkcode LoadConfigOptions}.
 * @returns The settings, validated, and where they came from.
 * @throws {PssConfigError} For an unknown or invalid option of
 * `loadConfig` itself (naming the closest known one); a file that is not
 * valid JSON (JSONC for `deno.json`), is not an object or cannot be read; a `path` that does not
 * exist; an unknown key (typo protection, with a suggestion); a key set
 * twice (camelCase and snake_case); a value of the wrong type or range; or
 * weights that are all zero once merged.
 *
 * @example Score with the project's settings
 * ```ts
 * import { computePss, loadConfig } from "@pss/pss";
 * import assert from "node:assert/strict";
 * // Here the environment is given; by default it is the process's own.
 * const config = await loadConfig({ env: { PSS_W_TS: "0.5" } });
 * assert.equal(config.score.wTs, 0.5);
 * const report = computePss([{ name: "op", duration: 0.1 }], config.score);
 * assert.equal(report.pss, 100);
 * ```
 */
export async function loadConfig(
  options: LoadConfigOptions = {},
): Promise<LoadedConfig> {
  checkKnownKeys("loadConfig", options, LOAD_OPTION_KEYS);
  const { cwd, path, env, onWarning = console.warn } = options;
  const manifests = options.manifests ?? true;
  if (cwd !== undefined && typeof cwd !== "string") {
    throw new PssConfigError("cwd", cwd, "'cwd' must be a string");
  }
  if (path !== undefined && typeof path !== "string") {
    throw new PssConfigError("path", path, "'path' must be a string");
  }
  if (env !== undefined && env !== false && !isRecord(env)) {
    throw new PssConfigError(
      "env",
      env,
      "'env' must be an object of strings or false",
    );
  }
  if (typeof manifests !== "boolean") {
    throw new PssConfigError(
      "manifests",
      manifests,
      "'manifests' must be a boolean",
    );
  }
  functionOption("loadConfig", "onWarning", onWarning);
  const host = runtime.env;
  const warnings: string[] = [];
  const warn = (message: string): void => {
    warnings.push(message);
    try {
      onWarning(message);
    } catch {
      // A failing warning hook must not stop loading.
    }
  };
  const sources: string[] = [];
  const layers: Layer[] = [];

  const dir = cwd ?? host.cwd();
  if (dir === undefined) {
    warn(
      "pss: settings files were not read: the current directory is unknown",
    );
  }
  const deniedFiles: string[] = [];
  const read = async (
    file: string,
    jsonc: boolean,
    required = false,
  ): Promise<JsonRead> => {
    const result = await readJsonFile(host, file, { jsonc, required });
    if (result.kind === "denied") deniedFiles.push(file);
    return result;
  };
  if (dir !== undefined && manifests) {
    const denoJson = joinPath(dir, "deno.json");
    for (
      const [file, jsonc] of [
        [joinPath(dir, "package.json"), false],
        [denoJson, true],
      ] as const
    ) {
      let where = file;
      let manifest = await read(file, jsonc);
      if (manifest.kind === "missing" && file === denoJson) {
        where = joinPath(dir, "deno.jsonc");
        manifest = await read(where, true);
      }
      if (manifest.kind !== "json" || !Object.hasOwn(manifest.value, "pss")) {
        continue;
      }
      const source = `${where} ("pss" key)`;
      const settings = manifest.value.pss;
      if (!isRecord(settings)) {
        throw new PssConfigError(
          "pss",
          settings,
          'the "pss" key must hold an object',
          where,
        );
      }
      layers.push(layerFromObject(settings, source));
      sources.push(source);
    }
  }
  if (dir !== undefined || (path !== undefined && isAbsolute(path))) {
    const file = path === undefined
      ? joinPath(dir as string, "pss.json")
      : joinPath(dir ?? "", path);
    const settings = await read(file, false, path !== undefined);
    if (settings.kind === "json") {
      layers.push(layerFromObject(settings.value, file));
      sources.push(file);
    }
  }
  if (deniedFiles.length > 0) {
    warn(
      `pss: settings in ${
        deniedFiles.join(", ")
      } were not read: no read permission (on Deno, run with --allow-read)`,
    );
  }
  if (env !== false) {
    const layer: Layer = {};
    const used: string[] = [];
    const denied: string[] = [];
    for (const name of SETTING_NAMES) {
      const variable = CONFIG_ENV_VARS[name];
      let raw: string | undefined;
      if (env === undefined) {
        const read = host.env(variable);
        if (read.kind === "denied") denied.push(variable);
        else if (read.kind === "value") raw = read.value;
      } else {
        const value = Object.hasOwn(env, variable) ? env[variable] : undefined;
        if (value !== undefined && typeof value !== "string") {
          throw new PssConfigError(
            variable,
            value,
            `'env.${variable}' must be a string`,
          );
        }
        raw = value;
      }
      if (raw === undefined || raw.trim() === "") continue;
      const text = raw.trim();
      const value = DECIMAL.test(text) ? Number(text) : raw;
      layer[name] = checkSetting(
        name,
        value,
        `environment variable ${variable}`,
      );
      used.push(variable);
    }
    if (denied.length > 0) {
      warn(
        `pss: environment variables ${
          denied.length === SETTING_NAMES.length ? "PSS_*" : denied.join(", ")
        } were not read: no permission (on Deno, run with --allow-env=PSS_*)`,
      );
    }
    if (used.length > 0) {
      layers.push(layer);
      sources.push(`environment (${used.join(", ")})`);
    }
    // A misspelled variable would otherwise be ignored in silence. Only
    // names close to a setting's are reported: other PSS_* variables may
    // belong to something else.
    const known = Object.values(CONFIG_ENV_VARS);
    const names = env === undefined ? host.envNames() : Object.keys(env);
    for (const variable of names ?? []) {
      if (!variable.startsWith("PSS_") || known.includes(variable)) continue;
      const suggestion = didYouMean(variable, known);
      if (suggestion !== "") {
        warn(
          `pss: environment variable ${variable} is not a setting and was ignored${suggestion}`,
        );
      }
    }
  }

  const merged: Layer = Object.assign({}, ...layers);
  const scoreOverrides: Partial<PssConfig> = {};
  for (const key of Object.keys(DEFAULT_CONFIG) as (keyof PssConfig)[]) {
    if (merged[key] !== undefined) scoreOverrides[key] = merged[key];
  }
  return {
    score: resolveConfig(
      scoreOverrides,
      sources.length > 0 ? sources.join(", ") : undefined,
    ),
    sampleRate: merged.sampleRate ?? INSTRUMENTATION_DEFAULTS.sampleRate,
    errorSampleRate: merged.errorSampleRate ??
      INSTRUMENTATION_DEFAULTS.errorSampleRate,
    maxTraces: merged.maxTraces ?? INSTRUMENTATION_DEFAULTS.maxTraces,
    sources,
    warnings,
  };
}

/**
 * Puts the instrumentation settings of a loaded configuration in force:
 * `sampleRate` and `errorSampleRate` through `configureInstrumentation`,
 * and `maxTraces` by replacing the global collector with a
 * `MemoryCollector` of that capacity (holding the traces the old one held,
 * newest kept) when the global collector is a `MemoryCollector` of another
 * capacity. A global collector you set yourself of another kind is left
 * alone. The scoring settings (`score`) are not global: pass them to
 * `computePss`.
 *
 * @param config What {@linkcode loadConfig} returned.
 * @throws {PssConfigError} When a value is out of range (only possible for
 * a hand-built `config`).
 *
 * @example
 * ```ts
 * import { applyConfig, getInstrumentationSettings, loadConfig } from "@pss/pss";
 * import assert from "node:assert/strict";
 * applyConfig(await loadConfig({ env: { PSS_SAMPLE_RATE: "0.25" } }));
 * assert.equal(getInstrumentationSettings().sampleRate, 0.25);
 * ```
 */
export function applyConfig(
  config: Pick<LoadedConfig, "sampleRate" | "errorSampleRate" | "maxTraces">,
): void {
  const maxTraces = checkSetting("maxTraces", config.maxTraces, "applyConfig");
  configureInstrumentation({
    sampleRate: config.sampleRate,
    errorSampleRate: config.errorSampleRate,
  });
  const current = getGlobalCollector();
  if (current instanceof MemoryCollector && current.capacity !== maxTraces) {
    const next = new MemoryCollector({ maxTraces });
    for (const trace of current.snapshot()) next.add(trace);
    setGlobalCollector(next);
  }
}
