import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  applyConfig,
  CONFIG_ENV_VARS,
  loadConfig,
} from "../../src/config/load.ts";
import { DEFAULT_CONFIG, PssConfigError } from "../../src/score/config.ts";
import {
  getGlobalCollector,
  MemoryCollector,
  setGlobalCollector,
} from "../../src/collect/memory.ts";
import {
  getInstrumentationSettings,
  resetInstrumentation,
} from "../../src/instrument/settings.ts";
import type { Collector } from "../../src/collect/collector.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const PROJECT = join(ROOT, "tests", "testdata", "config", "project");
const isBun = "Bun" in globalThis;

let dir = "";

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "pss-config-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    typeof content === "string" ? content : JSON.stringify(content),
  );
  return path;
}

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

/** Asserts that `promise` rejects with a PssConfigError whose message is `message`. */
async function rejectsWith(
  promise: Promise<unknown>,
  message: string | RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof PssConfigError, String(error));
    if (typeof message === "string") assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  });
}

describe("loadConfig()", () => {
  test("gives pypss's defaults when there are no files and no variables", async () => {
    const config = await loadConfig({ cwd: dir, env: {} });
    assert.deepEqual(config.score, DEFAULT_CONFIG);
    assert.equal(config.sampleRate, 1);
    assert.equal(config.errorSampleRate, 1);
    assert.equal(config.maxTraces, 10_000);
    assert.deepEqual(config.sources, []);
    assert.deepEqual(config.warnings, []);
  });

  test("reads pss.json with camelCase and pypss snake_case keys", async () => {
    const path = await write("pss.json", {
      wTs: 0.5,
      mem_spike_threshold_ratio: 2,
      sample_rate: 0.1,
      maxTraces: 500,
    });
    const config = await loadConfig({ cwd: dir, env: {} });
    assert.equal(config.score.wTs, 0.5);
    assert.equal(config.score.memSpikeThresholdRatio, 2);
    assert.equal(config.score.alpha, DEFAULT_CONFIG.alpha);
    assert.equal(config.sampleRate, 0.1);
    assert.equal(config.maxTraces, 500);
    assert.deepEqual(config.sources, [path]);
    assert.ok(Object.isFrozen(config.score));
  });

  test("merges package.json, deno.jsonc (with comments) and pss.json, later files winning", async () => {
    const config = await loadConfig({ cwd: PROJECT, env: {} });
    assert.equal(config.sampleRate, 0.25); // deno.jsonc over package.json
    assert.equal(config.maxTraces, 50_000); // package.json only
    assert.equal(config.score.wTs, 0.4); // package.json only
    assert.equal(config.score.alpha, 2.5); // pss.json over deno.jsonc
    assert.equal(config.score.beta, DEFAULT_CONFIG.beta); // commented out
    assert.equal(config.errorSampleRate, 0.9);
    assert.deepEqual(config.sources, [
      `${join(PROJECT, "package.json")} ("pss" key)`,
      `${join(PROJECT, "deno.jsonc")} ("pss" key)`,
      join(PROJECT, "pss.json"),
    ]);
  });

  test("lets environment variables override every file", async () => {
    await write("pss.json", { sampleRate: 0.5, alpha: 3, wCc: 0.2 });
    const config = await loadConfig({
      cwd: dir,
      env: {
        PSS_SAMPLE_RATE: "0.05",
        PSS_W_CC: " 0.3 ",
        PSS_MAX_TRACES: "1e5",
        PSS_ALPHA: "", // empty counts as unset
        PSS_REQUIRE_REDIS: "1", // not a setting: ignored
      },
    });
    assert.equal(config.sampleRate, 0.05);
    assert.equal(config.score.wCc, 0.3);
    assert.equal(config.maxTraces, 100_000);
    assert.equal(config.score.alpha, 3);
    assert.deepEqual(config.sources, [
      join(dir, "pss.json"),
      "environment (PSS_W_CC, PSS_SAMPLE_RATE, PSS_MAX_TRACES)",
    ]);
  });

  test("reads a pss.json that starts with a UTF-8 byte-order mark", async () => {
    await write("pss.json", '\uFEFF{ "alpha": 3, "sample_rate": 0.5 }');
    const config = await loadConfig({ cwd: dir, manifests: false, env: {} });
    assert.equal(config.score.alpha, 3);
    assert.equal(config.sampleRate, 0.5);
    assert.deepEqual(config.sources, [join(dir, "pss.json")]);
  });

  test("warns about a misspelled PSS_* variable, naming the closest setting", async () => {
    const warnings: string[] = [];
    const config = await loadConfig({
      cwd: dir,
      manifests: false,
      env: {
        PSS_SAMPL_RATE: "0.5",
        PSS_W_TSS: "0.4",
        PSS_REQUIRE_REDIS: "1", // another tool's variable: not reported
        OTHER_SAMPLE_RATE: "1",
      },
      onWarning: (message) => warnings.push(message),
    });
    assert.equal(config.sampleRate, 1);
    assert.deepEqual(warnings, [
      "pss: environment variable PSS_SAMPL_RATE is not a setting and was ignored (did you mean 'PSS_SAMPLE_RATE'?)",
      "pss: environment variable PSS_W_TSS is not a setting and was ignored (did you mean 'PSS_W_TS'?)",
    ]);
    assert.deepEqual(config.warnings, warnings);
  });

  test("finds a misspelled variable in the process environment", async () => {
    process.env.PSS_MAX_TRACE = "10";
    try {
      const config = await loadConfig({
        cwd: dir,
        manifests: false,
        onWarning: () => {},
      });
      assert.deepEqual(config.warnings, [
        "pss: environment variable PSS_MAX_TRACE is not a setting and was ignored (did you mean 'PSS_MAX_TRACES'?)",
      ]);
    } finally {
      delete process.env.PSS_MAX_TRACE;
    }
  });

  test("reads the process environment when no env is given", async () => {
    const names = [CONFIG_ENV_VARS.errorSampleRate, CONFIG_ENV_VARS.gamma];
    const saved = names.map((name) => process.env[name]);
    process.env[CONFIG_ENV_VARS.errorSampleRate] = "0.75";
    process.env[CONFIG_ENV_VARS.gamma] = "4";
    try {
      const config = await loadConfig({ cwd: dir, manifests: false });
      assert.equal(config.errorSampleRate, 0.75);
      assert.equal(config.score.gamma, 4);
    } finally {
      names.forEach((name, i) => {
        if (saved[i] === undefined) delete process.env[name];
        else process.env[name] = saved[i];
      });
    }
  });

  test("prefers deno.json over deno.jsonc, and reads package.json before it", async () => {
    await write("package.json", { pss: { alpha: 5, beta: 2 } });
    await write("deno.json", '{ "pss": { "alpha": 4, }, // jsonc\n}');
    await write("deno.jsonc", { pss: { alpha: 9 } });
    const config = await loadConfig({ cwd: dir, env: {} });
    assert.equal(config.score.alpha, 4);
    assert.equal(config.score.beta, 2);
  });

  test('ignores manifests without a "pss" key, and all manifests with manifests: false', async () => {
    await write("package.json", { name: "x", dependencies: {} });
    await write("deno.json", { pss: { alpha: 4 } });
    assert.deepEqual((await loadConfig({ cwd: dir, env: {} })).sources, [
      `${join(dir, "deno.json")} ("pss" key)`,
    ]);
    const without = await loadConfig({ cwd: dir, env: {}, manifests: false });
    assert.equal(without.score.alpha, DEFAULT_CONFIG.alpha);
    assert.deepEqual(without.sources, []);
  });

  test("reads the file `path` names, relative to cwd, instead of pss.json", async () => {
    await write("pss.json", { alpha: 3 });
    await write("ci.json", { alpha: 7 });
    const config = await loadConfig({ cwd: dir, path: "ci.json", env: {} });
    assert.equal(config.score.alpha, 7);
    assert.deepEqual(config.sources, [join(dir, "ci.json")]);
  });

  test("rejects a `path` that does not exist", async () => {
    const missing = join(dir, "nope.json");
    await rejectsWith(
      loadConfig({ cwd: dir, path: missing, env: {} }),
      `Invalid pss configuration as the settings file must exist: got ${
        JSON.stringify(missing)
      }`,
    );
  });

  test("rejects invalid JSON in pss.json, naming the file", async () => {
    const path = await write("pss.json", '{ "alpha": 3, }');
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      new RegExp(
        `^Invalid pss configuration \\(from ${
          escapeRegExp(path)
        }\\) as the file must be valid JSON: got "`,
      ),
    );
  });

  test("rejects invalid JSONC in deno.json, naming the file", async () => {
    const path = await write("deno.json", '{ "pss": { /* unclosed } }');
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      new RegExp(
        `^Invalid pss configuration \\(from ${
          escapeRegExp(path)
        }\\) as the file must be valid JSONC`,
      ),
    );
  });

  test('rejects a file that is not an object, and a "pss" key that is not one', async () => {
    const path = await write("pss.json", "[1, 2]");
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      `Invalid pss configuration (from ${path}) as the file must hold a JSON object: got [1,2]`,
    );
    await rm(path);
    const manifest = await write("package.json", { pss: 0.5 });
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      `Invalid pss configuration (from ${manifest}) as the "pss" key must hold an object: got 0.5`,
    );
  });

  test("rejects an unknown key, naming it and suggesting the closest setting", async () => {
    const path = await write("pss.json", { wTz: 0.5 });
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      `Invalid pss configuration (from ${path}) as 'wTz' is not a known setting (did you mean 'wTs'?): got 0.5`,
    );
    await write("pss.json", { colour: "red" });
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      `Invalid pss configuration (from ${path}) as 'colour' is not a known setting: got "red"`,
    );
  });

  test('rejects an unknown key in a manifest\'s "pss" object', async () => {
    const path = await write("package.json", { pss: { sampel_rate: 0.5 } });
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      `Invalid pss configuration (from ${path} ("pss" key)) as 'sampel_rate' is not a known setting (did you mean 'sampleRate'?): got 0.5`,
    );
  });

  const badValues: [string, Record<string, unknown>, string][] = [
    [
      "a sampleRate that is not a number",
      { sampleRate: "abc" },
      `as 'sampleRate' must be a number from 0 to 1: got "abc"`,
    ],
    [
      "a sampleRate above 1",
      { sampleRate: 1.5 },
      "as 'sampleRate' must be a number from 0 to 1: got 1.5",
    ],
    [
      "a negative errorSampleRate",
      { errorSampleRate: -0.1 },
      "as 'errorSampleRate' must be a number from 0 to 1: got -0.1",
    ],
    [
      "a maxTraces of 0",
      { maxTraces: 0 },
      "as 'maxTraces' must be a positive integer: got 0",
    ],
    [
      "a fractional maxTraces",
      { maxTraces: 10.5 },
      "as 'maxTraces' must be a positive integer: got 10.5",
    ],
    [
      "a weight given as a string",
      { wTs: "0.3" },
      `as 'wTs' must be a finite number: got "0.3"`,
    ],
    [
      "a negative weight",
      { wBe: -1 },
      "as 'wBe' must be a weight ≥ 0: got -1",
    ],
    [
      "a tail percentile index out of range",
      { scoreLatencyTailPercentile: 99 },
      "as 'scoreLatencyTailPercentile' must be an integer from 1 to 98: got 99",
    ],
    [
      "a null",
      { alpha: null },
      "as 'alpha' must be a finite number: got null",
    ],
  ];
  for (const [what, content, message] of badValues) {
    test(`rejects ${what}, naming the file and the value`, async () => {
      const path = await write("pss.json", content);
      await rejectsWith(
        loadConfig({ cwd: dir, env: {} }),
        `Invalid pss configuration (from ${path}) ${message}`,
      );
    });
  }

  test("names the snake_case key a bad value was written under", async () => {
    const path = await write("pss.json", { w_ts: -1 });
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      `Invalid pss configuration (from ${path}, key 'w_ts') as 'wTs' must be a weight ≥ 0: got -1`,
    );
  });

  test("rejects a setting written twice, as camelCase and snake_case", async () => {
    const path = await write("pss.json", { wTs: 0.3, w_ts: 0.4 });
    await rejectsWith(
      loadConfig({ cwd: dir, env: {} }),
      `Invalid pss configuration (from ${path}) as 'wTs' is set twice, as 'wTs' and as 'w_ts': got 0.4`,
    );
  });

  test("rejects a bad environment variable, naming it and its text", async () => {
    await rejectsWith(
      loadConfig({ cwd: dir, env: { PSS_SAMPLE_RATE: "abc" } }),
      `Invalid pss configuration (from environment variable PSS_SAMPLE_RATE) as 'sampleRate' must be a number from 0 to 1: got "abc"`,
    );
    await rejectsWith(
      loadConfig({ cwd: dir, env: { PSS_MAX_TRACES: "0x10" } }),
      `Invalid pss configuration (from environment variable PSS_MAX_TRACES) as 'maxTraces' must be a positive integer: got "0x10"`,
    );
    await rejectsWith(
      loadConfig({ cwd: dir, env: { PSS_LOOP_LAG_FACTOR: "-2" } }),
      `Invalid pss configuration (from environment variable PSS_LOOP_LAG_FACTOR) as 'loopLagFactor' must be ≥ 0: got -2`,
    );
  });

  test("rejects weights that are all zero once every source is merged", async () => {
    const path = await write("pss.json", { wTs: 0, wMs: 0, wEv: 0, wBe: 0 });
    await rejectsWith(
      loadConfig({ cwd: dir, env: { PSS_W_CC: "0" } }),
      `Invalid pss configuration (from ${path}, environment (PSS_W_CC)) as at least one weight must be > 0: got 0`,
    );
  });

  test("names one environment variable per setting, PSS_ and upper snake case", () => {
    assert.equal(CONFIG_ENV_VARS.wTs, "PSS_W_TS");
    assert.equal(CONFIG_ENV_VARS.sampleRate, "PSS_SAMPLE_RATE");
    assert.equal(CONFIG_ENV_VARS.errorSampleRate, "PSS_ERROR_SAMPLE_RATE");
    assert.equal(CONFIG_ENV_VARS.maxTraces, "PSS_MAX_TRACES");
    assert.equal(
      CONFIG_ENV_VARS.scoreLatencyTailPercentile,
      "PSS_SCORE_LATENCY_TAIL_PERCENTILE",
    );
    assert.equal(
      Object.keys(CONFIG_ENV_VARS).length,
      Object.keys(DEFAULT_CONFIG).length + 3,
    );
  });
});

describe("loadConfig() without permissions", () => {
  /** Runs a script calling loadConfig in a fresh subprocess of this runtime. */
  async function runLoader(
    flags: string[],
    env: Record<string, string>,
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const script = await write(
      "load.ts",
      [
        `import { loadConfig } from ${
          JSON.stringify(
            new URL("../../src/config/load.ts", import.meta.url).href,
          )
        };`,
        `const config = await loadConfig({ onWarning: () => {} });`,
        `console.log(JSON.stringify(config));`,
        "",
      ].join("\n"),
    );
    await write("pss.json", { alpha: 3 });
    const command = join(ROOT, "node_modules", ".bin", isBun ? "bun" : "deno");
    const argv = isBun
      ? [script]
      : ["run", "--no-check", "--no-prompt", ...flags, script];
    const child = spawn(command, argv, {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const code = await new Promise<number | null>((resolve) =>
      child.on("close", (c: number | null) => resolve(c))
    );
    return { code, stdout, stderr };
  }

  test(
    "falls back to the defaults with a warning when Deno may read neither files nor variables",
    { skip: isBun && "Bun has no permission sandbox" },
    async () => {
      const { code, stdout, stderr } = await runLoader([], {
        PSS_SAMPLE_RATE: "0.5",
      });
      assert.equal(code, 0, stderr);
      const config = JSON.parse(stdout);
      assert.equal(config.score.alpha, DEFAULT_CONFIG.alpha);
      assert.equal(config.sampleRate, 1);
      assert.deepEqual(config.sources, []);
      assert.deepEqual(config.warnings, [
        `pss: settings in ${join(dir, "package.json")}, ${
          join(dir, "deno.json")
        }, ${
          join(dir, "pss.json")
        } were not read: no read permission (on Deno, run with --allow-read)`,
        "pss: environment variables PSS_* were not read: no permission (on Deno, run with --allow-env=PSS_*)",
      ]);
    },
  );

  test("reads files and PSS_* variables when the process may read them", async () => {
    const { code, stdout, stderr } = await runLoader(
      [`--allow-read=${ROOT},${dir}`, "--allow-env=PSS_*"],
      { PSS_SAMPLE_RATE: "0.5" },
    );
    assert.equal(code, 0, stderr);
    const config = JSON.parse(stdout);
    assert.equal(config.score.alpha, 3);
    assert.equal(config.sampleRate, 0.5);
    assert.deepEqual(config.warnings, []);
  });
});

describe("applyConfig()", () => {
  test("puts the sampling rates in force and resizes the global in-memory collector, keeping its traces", () => {
    const previous = setGlobalCollector(new MemoryCollector({ maxTraces: 10 }));
    try {
      getGlobalCollector().add({ name: "kept", duration: 0.1 });
      applyConfig({ sampleRate: 0.5, errorSampleRate: 0.75, maxTraces: 20 });
      const settings = getInstrumentationSettings();
      assert.equal(settings.sampleRate, 0.5);
      assert.equal(settings.errorSampleRate, 0.75);
      const collector = getGlobalCollector();
      assert.ok(collector instanceof MemoryCollector);
      assert.equal(collector.capacity, 20);
      assert.deepEqual(collector.snapshot(), [{ name: "kept", duration: 0.1 }]);
    } finally {
      resetInstrumentation();
      setGlobalCollector(previous);
    }
  });

  test("leaves a global collector of another kind alone", () => {
    const own: Collector = {
      add: () => {},
      traces: () => Promise.resolve([]),
      clear: () => Promise.resolve(),
      flush: () => Promise.resolve(),
      close: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
    const previous = setGlobalCollector(own);
    try {
      applyConfig({ sampleRate: 1, errorSampleRate: 1, maxTraces: 5 });
      assert.equal(getGlobalCollector(), own);
    } finally {
      resetInstrumentation();
      setGlobalCollector(previous);
    }
  });

  test("rejects an out-of-range value before changing anything", () => {
    assert.throws(
      () => applyConfig({ sampleRate: 2, errorSampleRate: 1, maxTraces: 5 }),
      PssConfigError,
    );
    assert.equal(getInstrumentationSettings().sampleRate, 1);
  });
});
