import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import {
  bench,
  benchStability,
  type BenchStabilityJson,
  type BenchStabilityRow,
  configureBench,
  PssBenchGateError,
} from "../../src/bench/mod.ts";
import { PssConfigError } from "../../src/score/config.ts";
import { tempDir } from "../fixtures/spawn.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const isBun = "Bun" in globalThis;
const runtime = isBun ? "bun" : "deno";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the repository's pinned `runtime` with `args`, killed after 120 s. */
function run(
  command: "deno" | "bun",
  args: string[],
  env: Record<string, string>,
): Promise<Run> {
  const child = spawn(`${ROOT}node_modules/.bin/${command}`, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const timer = setTimeout(() => {
    if (child.pid !== undefined) process.kill(child.pid, "SIGKILL");
  }, 120_000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The rows, as cells by label, of the stability table that lists `marker`. */
function parseTable(stdout: string, marker = "steady"): Map<string, string[]> {
  const lines = stdout.split("\n");
  const tables: Map<string, string[]>[] = [];
  lines.forEach((line, index) => {
    if (!line.startsWith("pss stability (")) return;
    const rows = new Map<string, string[]>();
    for (const row of lines.slice(index + 3)) {
      if (!row.startsWith("| ")) break;
      const cells = row.slice(2, -2).split(" | ").map((cell) => cell.trim());
      rows.set(cells[0], cells);
    }
    tables.push(rows);
  });
  const table = tables.find((rows) => rows.has(marker));
  assert.ok(table !== undefined, `no stability table in:\n${stdout}`);
  return table;
}

/** Checks what every run of the fixture benchmarks must show. */
function checkRows(stdout: string, gate: number): void {
  const rows = parseTable(stdout);
  assert.deepEqual(
    [...rows.keys()].sort(),
    ["steady", "tiny", "waits › jittery"],
  );
  const steady = Number(rows.get("steady")![1]);
  const jittery = Number(rows.get("waits › jittery")![1]);
  const steadyTs = Number(rows.get("steady")![2]);
  const jitteryTs = Number(rows.get("waits › jittery")![2]);
  // Relations, not values: the machine may be loaded. The bimodal wait has
  // p95/p50 near 20 (still above 5 when load stretches its 10 ms calls to
  // 40), so its timing stability stays under 0.02 and its PSS at 70; a
  // steady 50 ms wait has TS near 0.8 on a quiet machine and stayed above
  // 0.3 (PSS 79) at a load average of 20 on 2 cores. The gate, 72, needs
  // only 0.07.
  assert.ok(jittery < steady, `jittery ${jittery}, steady ${steady}`);
  assert.ok(jitteryTs * 5 < steadyTs, `TS ${jitteryTs} vs ${steadyTs}`);
  assert.ok(jittery < gate && steady >= gate, `gate ${gate}: ${stdout}`);
  const tiny = rows.get("tiny")!;
  assert.equal(tiny[1], "—");
  assert.match(tiny.at(-1)!, /^clock-bound: ~[\d.]+ [nµ]s\/call < 20× clock$/);
  // The most unstable first.
  assert.equal([...rows.keys()][0], "waits › jittery");
}

function checkJson(json: BenchStabilityJson): void {
  assert.equal(json.format, "pss-bench");
  assert.equal(json.pid === null, false);
  assert.equal(typeof json.runId, "string");
  assert.equal(json.version, 1);
  assert.equal(json.failUnder, 72);
  // The fixture's own gate line names only `jittery` (checked on stdout);
  // the file also holds the second file's row, steady but on a loaded
  // machine not guaranteed above the gate.
  assert.ok(json.belowGate.includes("waits › jittery"));
  assert.ok(!json.belowGate.includes("steady"));
  const byName = new Map(json.benchmarks.map((row) => [row.name, row]));
  const jittery = byName.get("jittery")!;
  const steady = byName.get("steady")!;
  assert.equal(jittery.group, "waits");
  // Relative to the working directory (the root), as another checkout of
  // the project names it too.
  assert.equal(
    jittery.file,
    isBun ? null : "tests/fixtures/bench_stability.ts",
  );
  assert.equal(jittery.belowGate, true);
  assert.equal(steady.belowGate, false);
  assert.ok(jittery.tailRatio! > steady.tailRatio!);
  assert.ok(jittery.timingStability! < steady.timingStability!);
  for (const row of [jittery, steady]) {
    assert.ok(row.samples >= 20 && row.samples === row.calls);
    assert.equal(row.outliers, 0);
    assert.equal(row.errors, 0);
    assert.ok(row.warmupCalls >= 3);
    assert.deepEqual(
      [row.breakdown!.memoryStability, row.breakdown!.errorVolatility],
      [1, 1],
    );
  }
  const tiny = byName.get("tiny")!;
  assert.equal(tiny.clockBound, true);
  assert.equal(tiny.pss, null);
  assert.ok(tiny.calls > 10_000);
  assert.ok(json.clockCostNs > 0);
}

describe("bench() and benchStability() in a subprocess", () => {
  const gate = { PSS_BENCH_FAIL_UNDER: "72" };

  test(
    `${
      isBun ? "bun" : "deno bench"
    }: the table lists both, the jittery one scores lower, the gate fails naming only it, the JSON is written`,
    async () => {
      const json = `${await tempDir()}/bench.json`;
      const fixture = "tests/fixtures/bench_stability.ts";
      // Deno runs each bench file in its own isolate: both add their rows
      // to the one JSON file of the run.
      const second = "tests/fixtures/bench_stability_second.ts";
      const result = isBun
        ? await run("bun", [fixture], { ...gate, PSS_BENCH_JSON: json })
        : await run("deno", [
          "bench",
          "-A",
          "--no-check",
          "--json",
          fixture,
          second,
        ], { ...gate, PSS_BENCH_JSON: json });
      const output = `${result.stdout}\n${result.stderr}`;
      assert.notEqual(result.code, 0, output);
      // Bun: the runner's table on stdout. Deno: on stderr, so that
      // `deno bench --json` keeps stdout valid JSON.
      const table = isBun ? result.stdout : result.stderr;
      checkRows(table, 72);
      assert.match(
        table,
        /pss gate: FAILED, 1 benchmark below PSS 72: waits › jittery\n/,
      );
      if (!isBun) {
        // deno bench lets a module fail only by throwing (exit code 1 above);
        // its --json output on stdout stays valid.
        const denoJson = JSON.parse(result.stdout);
        assert.equal(denoJson.benches.length, 4);
      }
      assert.doesNotMatch(output, /below PSS 72: .*steady/);
      const written = JSON.parse(await readFile(json, "utf8"));
      checkJson(written);
      assert.equal(
        written.benchmarks.some((row: BenchStabilityRow) =>
          row.name === "second file"
        ),
        !isBun,
      );
    },
  );

  test(`${runtime} run: benchStability() passes a gate every benchmark meets (exit 0)`, async () => {
    const fixture = "tests/fixtures/bench_stability_runner.ts";
    const result = isBun
      ? await run("bun", [fixture], { PSS_BENCH_FAIL_UNDER: "60" })
      : await run("deno", ["run", "-A", "--no-check", fixture], {
        PSS_BENCH_FAIL_UNDER: "60",
      });
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    checkRows(result.stdout, 72);
    assert.match(
      result.stdout,
      /pss gate: every scored benchmark has PSS ≥ 60\n/,
    );
  });
});

describe("the gate's environment variable", () => {
  test("a PSS_BENCH_FAIL_UNDER that is not a number fails the module at load, naming it", async () => {
    const fixture = "tests/fixtures/bench_stability_second.ts";
    const env = { PSS_BENCH_FAIL_UNDER: "abc" };
    const result = isBun
      ? await run("bun", [fixture], env)
      : await run("deno", ["bench", "-A", "--no-check", fixture], env);
    assert.notEqual(result.code, 0);
    assert.match(
      `${result.stdout}\n${result.stderr}`,
      /PssConfigError: Invalid pss configuration \(from environment variable PSS_BENCH_FAIL_UNDER\) as 'failUnder' must be a number from 0 to 100: got "abc"/,
    );
  });
});

/** A duration cell of the table ("2.2 µs", "1.0 ms") in nanoseconds. */
function cellNs(cell: string): number {
  const match = /^([\d.]+) (ns|µs|ms|s)$/.exec(cell);
  assert.ok(match !== null, `not a duration: ${cell}`);
  const scale = { ns: 1, "µs": 1e3, ms: 1e6, s: 1e9 }[match[2]]!;
  return Number(match[1]) * scale;
}

/** Columns of the stability table. */
const PSS = 1;
const P50 = 4;

/** Under Bun, bench() runs benchStability(): there is no `deno bench`. */
const denoOnly = isBun ? "deno bench only (Bun has none)" : false;

describe("deno bench: every call form of bench()", () => {
  const fixture = "tests/fixtures/bench_call_forms.ts";
  const noEnvGate = { PSS_BENCH_FAIL_UNDER: "", PSS_BENCH_JSON: "" };

  test(
    "registers and records every form, honours ignore, narrows with b.start()/b.end(), and applies configureBench's gate",
    {
      skip: denoOnly,
    },
    async () => {
      const result = await run(
        "deno",
        ["bench", "-A", "--no-check", "--json", fixture],
        noEnvGate,
      );
      const table = parseTable(result.stderr, "jittery");
      assert.deepEqual([...table.keys()].sort(), [
        "async",
        "fast narrowed",
        "forms › definition",
        "forms › name, options and fn",
        "forms › namedAfterOptions",
        "forms › options and fn",
        "jittery",
        "name and fn",
        "namedFn",
        "slow narrowed",
      ]);
      // Deno ran the same benchmarks (not the ignored one, which throws).
      const deno = JSON.parse(result.stdout) as { benches: { name: string }[] };
      assert.equal(deno.benches.length, 10);
      assert.ok(!deno.benches.some((b) => b.name === "ignored"));
      for (const [label, cells] of table) {
        assert.notEqual(cells[PSS], "—", `${label} scored: ${cells}`);
      }
      // 3 ms outside the measured section and 1 ms in it.
      const slow = cellNs(table.get("slow narrowed")![P50]);
      assert.ok(slow >= 0.9e6 && slow < 2e6, `slow narrowed p50 ${slow} ns`);
      // 4 µs outside and 3 µs in: Deno times the whole call (in batches),
      // pss only the section.
      const fast = cellNs(table.get("fast narrowed")![P50]);
      assert.ok(fast >= 2.9e3 && fast < 5e3, `fast narrowed p50 ${fast} ns`);
      const sleeps = cellNs(table.get("async")![P50]);
      assert.ok(sleeps >= 0.9e6, `async p50 ${sleeps} ns`);
      // The gate of configureBench({ failUnder: 71 }), with no variable set.
      assert.notEqual(result.code, 0);
      assert.match(
        result.stderr,
        /pss gate: FAILED, \d+ benchmarks? below PSS 71: .*\bjittery\b/,
      );
    },
  );

  test("runs only the benchmark marked only", { skip: denoOnly }, async () => {
    const result = await run(
      "deno",
      ["bench", "-A", "--no-check", fixture],
      { ...noEnvGate, PSS_FIXTURE_ONLY: "1" },
    );
    const table = parseTable(`${result.stdout}\n${result.stderr}`, "only this");
    assert.deepEqual([...table.keys()], ["only this"]);
    // Deno fails a run that used `only`, as without pss.
    assert.match(result.stderr, /"only" option was used/);
  });

  test("bench() takes Deno's own types and refuses what Deno.bench refuses (deno check)", async () => {
    // The fixture's @ts-expect-error lines fail the check when they
    // compile, so the check proves both directions.
    const result = await run(
      "deno",
      ["check", "tests/fixtures/bench_deno_types.ts"],
      {},
    );
    assert.equal(result.code, 0, result.stderr);
  });
});

describe("failures that must not pass silently", () => {
  const fixture = "tests/fixtures/bench_stability_second.ts";

  test(`${runtime}: a JSON file that cannot be written fails the run, naming the path and the cause`, async () => {
    const dir = await tempDir();
    const blocker = `${dir}/a-file`;
    await writeFile(blocker, "");
    const path = `${blocker}/bench.json`; // below a file: cannot be created
    const env = { PSS_BENCH_JSON: path, PSS_BENCH_FAIL_UNDER: "" };
    const result = isBun
      ? await run("bun", [fixture], env)
      : await run("deno", ["bench", "-A", "--no-check", fixture], env);
    assert.notEqual(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const output = `${result.stdout}\n${result.stderr}`;
    assert.match(
      output,
      new RegExp(
        `pss: FAILED, could not write the JSON file ${blocker}/bench\\.json: .*(Not a directory|ENOTDIR)`,
      ),
    );
  });

  test("deno bench without --allow-env says the gate was not applied", {
    skip: denoOnly,
  }, async () => {
    const result = await run(
      "deno",
      ["bench", "--no-check", fixture],
      { PSS_BENCH_FAIL_UNDER: "99" },
    );
    assert.match(
      result.stderr,
      /pss gate: NOT APPLIED, PSS_BENCH_FAIL_UNDER could not be read \(run with --allow-env\)/,
    );
    assert.match(
      result.stderr,
      /pss: PSS_BENCH_JSON could not be read \(run with --allow-env\); no JSON file written/,
    );
  });

  test(
    "deno bench replaces the rows of another run in the JSON file instead of merging them",
    {
      skip: denoOnly,
    },
    async () => {
      const path = `${await tempDir()}/bench.json`;
      const stale = {
        format: "pss-bench",
        version: 1,
        runtime: "deno 2.9.6",
        runId: "1:stale",
        pid: 1,
        benchmarks: [{ name: "stale row", group: null, file: fixture }],
      };
      await writeFile(path, JSON.stringify(stale));
      // The variable a parent's run would leave: another process's id.
      const result = await run(
        "deno",
        ["bench", "-A", "--no-check", fixture],
        {
          PSS_BENCH_JSON: path,
          PSS_BENCH_FAIL_UNDER: "",
          PSS_BENCH_RUN: "1:stale",
        },
      );
      assert.equal(result.code, 0, result.stderr);
      const written = JSON.parse(
        await readFile(path, "utf8"),
      ) as BenchStabilityJson;
      assert.deepEqual(written.benchmarks.map((row) => row.name), [
        "second file",
      ]);
      assert.notEqual(written.runId, "1:stale");
    },
  );
});

/** Spins on the wall clock for `ms`. */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

describe("benchStability() in process", () => {
  const printed: string[] = [];
  configureBench({ print: (text) => printed.push(text) });

  test("keeps at most reservoirSize durations whatever the call count", async () => {
    configureBench({ reservoirSize: 64 });
    const row = await benchStability("bounded", () => spin(0.05), {
      budgetMs: 1,
      minCalls: 500,
    });
    assert.ok(row !== undefined);
    assert.equal(row.samples, 64);
    assert.ok(row.calls >= 500, `${row.calls} calls`);
    assert.ok(row.pss !== null && row.pss >= 70 && row.pss <= 100);
    assert.match(printed.at(-1)!, /\| bounded +\|/);
    configureBench({ reservoirSize: 10_000 });
  });

  test("counts a thrown error, ends the benchmark and sets exit code 1", async () => {
    let calls = 0;
    let row: BenchStabilityRow | undefined;
    const deno = (globalThis as { Deno?: { exitCode: number } }).Deno;
    const before = deno === undefined ? process.exitCode : deno.exitCode;
    try {
      row = await benchStability("throws", () => {
        spin(0.5);
        if (++calls === 60) throw new Error("boom");
      });
    } finally {
      const after = deno === undefined ? process.exitCode : deno.exitCode;
      // The runner's exit code is this test process's: put it back.
      if (deno !== undefined) deno.exitCode = (before as number) ?? 0;
      else process.exitCode = before ?? 0;
      assert.equal(after, 1);
    }
    assert.ok(row !== undefined);
    assert.equal(calls, 60);
    assert.equal(row.errors, 1);
    assert.equal(row.error, "boom");
    assert.ok(row.pss !== null && row.breakdown!.errorVolatility < 1);
    assert.match(printed.at(-1)!, /threw: boom/);
  });

  test("awaits an async function and times it until it settles", async () => {
    const row = await benchStability("sleeps", async () => {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }, { budgetMs: 60 });
    assert.ok(row !== undefined && row.p50Ns !== null);
    assert.ok(row.p50Ns >= 1.5e6, `p50 ${row.p50Ns} ns`);
  });

  test("b.start() and b.end() narrow what is timed", async () => {
    const row = await benchStability("narrowed", (b) => {
      spin(1);
      b.start();
      spin(0.1);
      b.end();
    }, { budgetMs: 60 });
    assert.ok(row !== undefined && row.p50Ns !== null);
    assert.ok(row.p50Ns < 0.6e6, `p50 ${row.p50Ns} ns`);
  });

  test("orders ties of PSS and shown TS by speed, the slowest first", async () => {
    // Two 1-in-5 bimodal waits, both PSS 70 with TS under 0.005 (shown
    // 0.00): the fast one's tail ratio is 20, the slow one's 15, so the
    // slow one's unshown TS is the higher, and did decide the order.
    let fast = 0;
    let slow = 0;
    const [a, b] = await Promise.all([
      benchStability("fast tie", () => spin(fast++ % 5 === 0 ? 10 : 0.5), {
        budgetMs: 300,
        minCalls: 40,
      }),
      benchStability("slow tie", () => spin(slow++ % 5 === 0 ? 15 : 1), {
        budgetMs: 300,
        minCalls: 40,
      }),
    ]);
    assert.ok(a !== undefined && b !== undefined);
    assert.deepEqual([a.pss, b.pss], [70, 70]);
    assert.deepEqual(
      [a.timingStability!.toFixed(2), b.timingStability!.toFixed(2)],
      ["0.00", "0.00"],
    );
    const table = parseTable(printed.at(-1)!, "slow tie");
    assert.deepEqual([...table.keys()], ["slow tie", "fast tie"]);
  });

  test("outlierFactor leaves calls over its multiple of the p99 out of the score and counts them", async () => {
    // A 20 µs call, every 400th one 5 ms: an interruption's scale.
    const interrupted = () => {
      let call = 0;
      return () => spin(++call % 400 === 0 ? 5 : 0.02);
    };
    const options = { budgetMs: 1, minCalls: 4000 };
    const all = await benchStability("all calls", interrupted(), options);
    configureBench({ outlierFactor: 20 });
    try {
      const kept = await benchStability("outliers out", interrupted(), options);
      assert.ok(all !== undefined && kept !== undefined);
      assert.equal(all.outliers, 0);
      // At least the ten 5 ms calls; at most 1 % of the calls.
      assert.ok(kept.outliers >= 9, `${kept.outliers} outliers`);
      assert.ok(kept.outliers <= (kept.samples + kept.outliers) / 100);
      assert.ok(
        kept.timingStability! > all.timingStability!,
        `TS ${kept.timingStability} with, ${all.timingStability} without`,
      );
      // max still covers every measured call.
      assert.ok(kept.maxNs! >= 5e6);
      const text = printed.at(-1)!;
      assert.match(text, /kept calls over 20× p99 not scored/);
      assert.match(text, /\d+ outliers > 20× p99 not scored/);
    } finally {
      configureBench({ outlierFactor: undefined });
    }
  });

  test("skips ignored benchmarks", async () => {
    const row = await benchStability("ignored", () => {}, { ignore: true });
    assert.equal(row, undefined);
  });
});

describe("options and call forms", () => {
  test("configureBench() rejects unknown options and bad values", () => {
    assert.throws(
      () => configureBench({ failUnde: 80 } as never),
      (error) =>
        error instanceof PssConfigError &&
        /'failUnde' is not a known option of configureBench \(did you mean 'failUnder'\?\)/
          .test(error.message),
    );
    assert.throws(
      () => configureBench({ failUnder: 101 }),
      (error) =>
        error instanceof PssConfigError && error.field === "failUnder" &&
        /must be a number from 0 to 100: got 101/.test(error.message),
    );
    assert.throws(
      () => configureBench({ outlierFactor: 0.5 }),
      (error) =>
        error instanceof PssConfigError && error.field === "outlierFactor" &&
        /'outlierFactor' must be a number of at least 1: got 0\.5/.test(
          error.message,
        ),
    );
    assert.throws(
      () => configureBench({ reservoirSize: 0 }),
      (error) =>
        error instanceof PssConfigError && error.field === "reservoirSize",
    );
  });

  test("benchStability() rejects unknown options", () => {
    assert.throws(
      () => benchStability("x", () => {}, { budget: 1 } as never),
      (error) =>
        error instanceof PssConfigError &&
        /'budget' is not a known option of benchStability \(did you mean 'budgetMs'\?\)/
          .test(error.message),
    );
  });

  test("PssBenchGateError names the benchmarks below the gate", () => {
    const error = new PssBenchGateError(["waits › jittery", "slow"], 80);
    assert.equal(error.name, "PssBenchGateError");
    assert.equal(
      error.message,
      "2 benchmarks below PSS 80: waits › jittery, slow",
    );
    assert.deepEqual(error.benchmarks, ["waits › jittery", "slow"]);
  });

  test("bench() rejects the call forms Deno.bench rejects", () => {
    assert.throws(() => bench("", () => {}), TypeError);
    assert.throws(() => bench(() => {}), /must have a name/);
    assert.throws(
      () => bench("x", { name: "y" } as never, () => {}),
      /Unexpected 'name' field/,
    );
    assert.throws(
      () => bench({ name: "x" } as never),
      /Expected 'fn' field/,
    );
  });
});
