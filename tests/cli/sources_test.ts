// The real CLI (src/cli/main.ts) as a subprocess under Deno and Bun, on
// every kind of source: pypss JSON documents written by Python's own json
// module, gzip, standard input, several files pooled, a real Redis list and
// stream; and the gates: --max-skipped, --fail-under, compare --max-drop.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, type Run, run, type Runtime, RUNTIMES } from "./_run.ts";
import { execFileSync, spawn } from "node:child_process";
import process from "node:process";
import { gzipSync } from "node:zlib";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import { computePss, computePssByName } from "../../src/score/pss.ts";
import { stringifyTrace, type Trace, traceToJson } from "../../src/trace.ts";
import { freePort, redisUrl, requireRedis, uniqueKey } from "../_redis.ts";
import { serveAgent } from "../../src/agent/mod.ts";
import { MemoryCollector } from "../../src/collect/memory.ts";

function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /^\s+at /m, text);
}

/** Traces of two processes, with errors, tags and lag samples. */
function makeTraces(count: number, seed = 1): Trace[] {
  const traces: Trace[] = [];
  let state = seed;
  const next = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  for (let i = 0; i < count; i++) {
    if (i % 10 === 9) {
      traces.push({
        name: "__system__",
        systemMetric: true,
        metadata: { lag: i % 20 === 9 ? 0.002 : 0.2, host: "h" },
      });
      continue;
    }
    const name = i % 3 === 0 ? "db.query" : "cache.get";
    const error = next() < 0.1;
    traces.push({
      name,
      module: name.split(".")[0],
      duration: 0.001 + next() * (name === "db.query" ? 0.2 : 0.002),
      memory: 1000 + Math.floor(next() * 100),
      waitTime: next() * 0.001,
      error,
      exceptionType: error ? "TimeoutError" : undefined,
      branchTag: next() < 0.5 ? "hit" : "miss",
    });
  }
  return traces;
}

/** The same traces with wire `host`/`pid` fields of two processes. */
function wireLines(traces: Trace[]): string[] {
  return traces.map((trace, i) => {
    const json = JSON.parse(stringifyTrace(trace));
    json.host = "web-1";
    json.pid = i % 2 === 0 ? 100 : 200;
    return JSON.stringify(json);
  });
}

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "pss-cli-sources-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes `traces` as a pypss JSON document with Python's own json module. */
function writeWithPython(
  path: string,
  traces: Trace[],
  shape: "array" | "object",
  extra = "",
): void {
  const wire = JSON.stringify(traces.map(traceToJson));
  const script = `
import json, sys
traces = json.loads(sys.stdin.read())
${extra}
doc = traces if sys.argv[2] == "array" else {"pss": None, "traces": traces, "count": len(traces)}
with open(sys.argv[1], "w") as f:
    json.dump(doc, f, indent=2)
`;
  execFileSync("/usr/bin/python3", ["-c", script, path, shape], {
    input: wire,
  });
}

const TRACES = makeTraces(300);
const EXPECTED = computePss(TRACES);

for (const runtime of Object.keys(RUNTIMES) as Runtime[]) {
  describe(`pss score sources on ${runtime}`, () => {
    test("scores pypss JSON documents written by Python's json.dump as the NDJSON of the same traces", async () => {
      await withDir(async (dir) => {
        const ndjson = join(dir, "t.ndjson");
        await writeFile(ndjson, TRACES.map(stringifyTrace).join("\n") + "\n");
        const array = join(dir, "array.json");
        const object = join(dir, "object.json");
        writeWithPython(array, TRACES, "array");
        writeWithPython(object, TRACES, "object");
        assert.match(
          await readFile(object, "utf8"),
          /^\{\n {2}"pss": null,\n {2}"traces": \[\n {4}\{\n {6}"trace_id"/,
        );
        for (const path of [ndjson, array, object]) {
          const result = await run(runtime, [
            "score",
            path,
            "--format",
            "json",
          ]);
          assert.equal(result.code, 0, result.stderr);
          assert.equal(result.stderr, "");
          const json = JSON.parse(result.stdout);
          assert.equal(json.pss, EXPECTED.pss, path);
          assert.deepEqual(json.pillars, {
            timing_stability: EXPECTED.breakdown.timingStability,
            memory_stability: EXPECTED.breakdown.memoryStability,
            error_volatility: EXPECTED.breakdown.errorVolatility,
            branching_entropy: EXPECTED.breakdown.branchingEntropy,
            concurrency_chaos: EXPECTED.breakdown.concurrencyChaos,
          });
          assert.equal(json.counts.traces, EXPECTED.traceCount);
        }
      });
    });

    test("--workers: parsing in parallel prints what one thread prints; a bad count is a usage error", async () => {
      await withDir(async (dir) => {
        const path = join(dir, "mixed.ndjson");
        const lines = TRACES.map(stringifyTrace);
        lines.splice(10, 0, "{oops", "", '{"name":"x","duration":-1}');
        await writeFile(path, lines.join("\n") + "\n");
        const outputs = [];
        for (const workers of ["0", "2"]) {
          const result = await run(runtime, [
            "score",
            path,
            "--format",
            "json",
            "--group-by",
            "module",
            "--workers",
            workers,
          ]);
          assert.equal(result.code, 0, result.stderr);
          outputs.push(result);
        }
        assert.equal(outputs[1].stdout, outputs[0].stdout);
        assert.equal(outputs[1].stderr, outputs[0].stderr);
        assert.match(outputs[0].stderr, /skipped 2 of 302 entries/);
        assert.match(outputs[0].stderr, /line 11: invalid JSON/);
        assert.match(outputs[0].stderr, /line 13: duration must be/);
        assert.equal(JSON.parse(outputs[0].stdout).pss, EXPECTED.pss);
        const bad = await run(runtime, ["score", path, "--workers", "-1"]);
        assert.equal(bad.code, 2);
        assert.match(bad.stderr, /--workers must be an integer from 0 to 64/);
      });
    });

    test("skips an entry Python wrote as NaN, naming its position", async () => {
      await withDir(async (dir) => {
        const path = join(dir, "nan.json");
        writeWithPython(
          path,
          TRACES,
          "array",
          'traces[4]["duration"] = float("nan")',
        );
        const result = await run(runtime, ["score", path, "--format", "json"]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(
          result.stderr,
          /^pss: skipped 1 of 300 entries in .*nan\.json as malformed:\n {2}entry 5: invalid JSON: /,
        );
        const json = JSON.parse(result.stdout);
        assert.equal(json.counts.skipped, 1);
        assert.equal(
          json.pss,
          computePss(TRACES.filter((_, i) => i !== 4)).pss,
        );
      });
    });

    test("reads gzip-compressed NDJSON and documents, from files and standard input", async () => {
      await withDir(async (dir) => {
        const text = TRACES.map(stringifyTrace).join("\n") + "\n";
        const gz = join(dir, "t.ndjson.gz");
        await writeFile(gz, gzipSync(text));
        const doc = join(dir, "doc.json");
        writeWithPython(doc, TRACES, "object");
        const docGz = gzipSync(await readFile(doc));
        const results = await Promise.all([
          run(runtime, ["score", gz, "--format", "json"]),
          run(runtime, ["score", "-", "--format", "json"], docGz),
          run(
            runtime,
            ["score", "-", "--format", "json"],
            new TextEncoder().encode(text),
          ),
        ]);
        for (const result of results) {
          assert.equal(result.code, 0, result.stderr);
          assert.equal(JSON.parse(result.stdout).pss, EXPECTED.pss);
        }
      });
    });

    test("exits 1 with one line for corrupt gzip", async () => {
      const bytes = gzipSync("{}\n".repeat(1000)).subarray(0, 30);
      const result = await run(runtime, ["score", "-"], bytes);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^pss: cannot read traces from standard input: .+\n$/,
      );
      assertNoStack(result.stderr);
    });

    test("scores a document cut in the middle, warning and counting the cut entry", async () => {
      const doc = JSON.stringify({ traces: TRACES.map(traceToJson) });
      const cut = doc.slice(0, doc.lastIndexOf('"name"'));
      const result = await run(
        runtime,
        ["score", "-", "--format", "json"],
        new TextEncoder().encode(cut),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stderr,
        /pss: standard input: the JSON document is damaged: the text ends inside the trace array \(no closing '\]'\) \(read 300 entries\)/,
      );
      assert.match(result.stderr, /entry 300: invalid JSON/);
      assert.equal(JSON.parse(result.stdout).counts.skipped, 1);
    });

    test("pools several sources into one score", async () => {
      await withDir(async (dir) => {
        const a = join(dir, "a.ndjson");
        const b = join(dir, "b.json");
        await writeFile(a, TRACES.slice(0, 120).map(stringifyTrace).join("\n"));
        writeWithPython(b, TRACES.slice(120), "array");
        const result = await run(runtime, ["score", a, b, "--format", "json"]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(JSON.parse(result.stdout).pss, EXPECTED.pss);
      });
    });

    test("exits 1 when nothing is usable, listing the first reasons with field and value", async () => {
      const lines = [
        '{"name":"a","duration":-1}',
        "garbage",
        '{"name":"b","memory":"lots"}',
        '{"name":"c","wait_time":null}',
        "[1,2]",
        '{"name":"d","duration":"inf"}',
        '{"name":"e","system_metric":true,"metadata":{"lag":-2}}',
      ];
      const result = await run(
        runtime,
        ["score", "-"],
        new TextEncoder().encode(lines.join("\n")),
      );
      assert.equal(result.code, 1);
      assert.equal(result.stdout, "");
      assert.equal(
        result.stderr,
        [
          "pss: nothing usable in standard input: all 7 entries were skipped as malformed:",
          "  line 1: duration must be a finite number ≥ 0, got -1",
          "  line 2: invalid JSON: " +
          result.stderr.split("\n")[2].split("invalid JSON: ")[1],
          '  line 3: memory must be a finite number ≥ 0, got "lots"',
          "  line 4: wait_time must be a finite number ≥ 0, got null",
          "  line 5: expected a JSON object, got an array",
          "  … and 2 more",
          "",
        ].join("\n"),
      );
    });

    test("exits 1 past --max-skipped, 0 within it", async () => {
      const good = TRACES.slice(0, 6).map(stringifyTrace);
      const bytes = (lines: string[]) =>
        new TextEncoder().encode(lines.join("\n"));
      const some = bytes([...good, "x", "y", "z", "w"]);
      const within = await run(runtime, ["score", "-", "--quiet"], some);
      assert.equal(within.code, 0, within.stderr);
      assert.equal(within.stderr, "");
      const strict = await run(
        runtime,
        ["score", "-", "--max-skipped", "0.3"],
        some,
      );
      assert.equal(strict.code, 1);
      assert.match(
        strict.stderr,
        /^pss: too much garbage in standard input: 4 of 10 entries \(40%\) were skipped as malformed, more than --max-skipped 0\.3:\n {2}line 7: invalid JSON/,
      );
      const most = bytes([...good.slice(0, 4), "a", "b", "c", "d", "e", "f"]);
      const over = await run(runtime, ["score", "-"], most);
      assert.equal(over.code, 1);
      assert.match(
        over.stderr,
        /6 of 10 entries \(60%\) were skipped as malformed, more than --max-skipped 0\.5/,
      );
      const allowed = await run(
        runtime,
        ["score", "-", "--max-skipped", "1"],
        most,
      );
      assert.equal(allowed.code, 0, allowed.stderr);
    });

    test("writes -o into a directory that does not exist yet", async () => {
      await withDir(async (dir) => {
        const out = join(dir, "new", "deeper", "report.html");
        const result = await run(runtime, [
          "score",
          "tests/testdata/report/steady.ndjson",
          "-o",
          out,
        ]);
        assert.equal(result.code, 0, result.stderr);
        assert.ok((await readFile(out, "utf8")).startsWith("<!DOCTYPE html>"));
      });
    });

    test("--group-by pid gives one row per process, each with its own loop lag", async () => {
      await withDir(async (dir) => {
        const path = join(dir, "procs.ndjson");
        await writeFile(path, wireLines(TRACES).join("\n"));
        const result = await run(runtime, [
          "score",
          path,
          "--group-by",
          "pid",
          "--format",
          "json",
        ]);
        assert.equal(result.code, 0, result.stderr);
        const json = JSON.parse(result.stdout);
        assert.deepEqual(
          json.by_name.map((r: { name: string }) => r.name).sort(),
          ["100", "200"],
        );
        const lagOf = (pid: string) =>
          json.by_name.find((r: { name: string }) => r.name === pid).details
            .lag_seconds;
        // Lag samples sit at odd positions 9, 19, …: all in pid 200's rows.
        assert.equal(lagOf("100"), null);
        assert.equal(lagOf("200").samples, 30);
        assert.equal(json.pss, EXPECTED.pss);
      });
    });

    test("--by-name rows equal computePssByName, with errors, latency and exception types", async () => {
      await withDir(async (dir) => {
        const path = join(dir, "t.ndjson");
        await writeFile(path, TRACES.map(stringifyTrace).join("\n"));
        const result = await run(runtime, [
          "score",
          path,
          "--by-name",
          "--format",
          "json",
        ]);
        assert.equal(result.code, 0, result.stderr);
        const json = JSON.parse(result.stdout);
        const expected = computePssByName(TRACES);
        for (const { name, report } of expected) {
          const row = json.by_name.find((r: { name: string }) =>
            r.name === name
          );
          assert.equal(row.pss, report.pss, name);
          assert.equal(row.counts.traces, report.traceCount);
          const errors = TRACES.filter((t) =>
            t.name === name && t.error
          ).length;
          assert.equal(row.details.errors, errors);
          assert.deepEqual(row.details.exceptions, [{
            type: "TimeoutError",
            count: errors,
          }]);
          assert.ok(
            row.details.latency_seconds.p50 <= row.details.latency_seconds.p95,
          );
          assert.ok(
            row.details.latency_seconds.p99 <= row.details.latency_seconds.max,
          );
        }
        assert.ok(json.diagnosis.drag.length > 0);
        const text = await run(runtime, ["score", path, "--by-name"]);
        assert.match(
          text.stdout,
          /^Errors: \d+ \(\d+\.\d%\): TimeoutError \d+$/m,
        );
        assert.match(
          text.stdout,
          /^Latency: p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms, max [\d.]+ ms$/m,
        );
        assert.match(
          text.stdout,
          /^Event-loop lag: mean [\d.]+ ms, p95 [\d.]+ ms, max [\d.]+ ms \(30 samples\)$/m,
        );
        assert.match(
          text.stdout,
          /Operations pulling the score down: cache\.get .*db\.query/s,
        );
      });
    });
  });

  describe(`pss compare on ${runtime}`, () => {
    test("shows the change overall and per name; --max-drop gates with exit 3", async () => {
      await withDir(async (dir) => {
        const base = join(dir, "base.ndjson");
        const head = join(dir, "head.ndjson");
        const steady = TRACES.filter((t) => !t.systemMetric).map((t) => ({
          ...t,
          error: false,
          duration: 0.01,
        }));
        await writeFile(base, steady.map(stringifyTrace).join("\n"));
        const worse = steady.map((t, i) =>
          t.name === "db.query"
            ? { ...t, duration: 0.01 + (i % 7) * 0.05, error: i % 4 === 0 }
            : t
        );
        worse.push({ name: "new.op", duration: 0.01, error: false });
        await writeFile(
          head,
          worse.map(
            stringifyTrace,
          ).join("\n"),
        );
        const text = await run(runtime, ["compare", base, head]);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^PSS: \d+ → \d+ \(-\d+\)$/m);
        assert.match(text.stdout, /^ {2}db\.query +\d+ +\d+ +-\d+ +-0\.\d\d/m);
        assert.match(text.stdout, /^Appeared \(1\): new\.op$/m);

        const gated = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "5",
          "--format",
          "json",
        ]);
        assert.equal(gated.code, 3);
        const json = JSON.parse(gated.stdout);
        assert.equal(json.gate.failed, true);
        const db = json.rows.find((r: { name: string }) =>
          r.name === "db.query"
        );
        assert.equal(db.failed, true);
        assert.equal(db.delta.pss, db.head.pss - db.base.pss);
        assert.deepEqual(json.appeared, ["new.op"]);
        assert.match(
          gated.stderr,
          /^pss: a drop of more than --max-drop 5 points: overall -\d+, db\.query -\d+\n$/,
        );

        const roomy = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "100",
        ]);
        assert.equal(roomy.code, 0, roomy.stderr);
        assert.match(roomy.stdout, /Gate passed/);
      });
    });

    test("--min-traces keeps small rows out of the gate", async () => {
      await withDir(async (dir) => {
        const base = join(dir, "base.ndjson");
        const head = join(dir, "head.ndjson");
        const big = Array.from(
          { length: 60 },
          () => ({ name: "big", duration: 0.01 }),
        );
        await writeFile(
          base,
          [...big, { name: "tiny", duration: 0.01 }, {
            name: "tiny",
            duration: 0.01,
          }].map(stringifyTrace).join("\n"),
        );
        await writeFile(
          head,
          [...big, { name: "tiny", duration: 0.01 }, {
            name: "tiny",
            duration: 0.5,
            error: true,
          }].map(stringifyTrace).join("\n"),
        );
        const lenient = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "10",
          "--format",
          "json",
        ]);
        const json = JSON.parse(lenient.stdout);
        const tiny = json.rows.find((r: { name: string }) => r.name === "tiny");
        assert.ok(tiny.delta.pss < -10);
        assert.equal(tiny.failed, false);
        const strict = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "10",
          "--min-traces",
          "2",
        ]);
        assert.equal(strict.code, 3, strict.stdout);
      });
    });

    test("exits 1 when a side holds nothing usable", async () => {
      await withDir(async (dir) => {
        const base = join(dir, "base.ndjson");
        await writeFile(base, "garbage\n");
        const result = await run(runtime, [
          "compare",
          base,
          "tests/testdata/report/steady.ndjson",
        ]);
        assert.equal(result.code, 1);
        assert.match(result.stderr, /^pss: nothing usable in .*base\.ndjson/);
      });
    });
  });
}

const skipRedis = await requireRedis();

for (const runtime of Object.keys(RUNTIMES) as Runtime[]) {
  describe(`pss score from Redis on ${runtime}`, { skip: skipRedis }, () => {
    test("reads a list and a stream key; the type is told by Redis", async () => {
      const client = createClient({ url: redisUrl() });
      await client.connect();
      const list = uniqueKey("cli-list");
      const stream = uniqueKey("cli-stream");
      const wrong = uniqueKey("cli-string");
      try {
        const lines = TRACES.map(stringifyTrace);
        await client.sendCommand(["RPUSH", list, ...lines]);
        for (const line of lines) {
          await client.sendCommand(["XADD", stream, "*", "trace", line]);
        }
        await client.sendCommand(["SET", wrong, "x"]);
        const url = redisUrl();
        for (const key of [list, stream]) {
          const result = await run(runtime, [
            "score",
            `${url}/0?key=${encodeURIComponent(key)}`,
            "--format",
            "json",
          ]);
          assert.equal(result.code, 0, result.stderr);
          assert.equal(JSON.parse(result.stdout).pss, EXPECTED.pss, key);
        }
        const bad = await run(runtime, [
          "score",
          `${url}/0?key=${encodeURIComponent(wrong)}`,
        ]);
        assert.equal(bad.code, 1);
        assert.match(
          bad.stderr,
          /^pss: cannot read traces from redis:.*: the key .* holds neither a list nor a stream\n$/,
        );
        const missing = await run(runtime, [
          "score",
          `${url}/0?key=${encodeURIComponent(uniqueKey("none"))}`,
        ]);
        assert.equal(missing.code, 1);
        assert.match(
          missing.stderr,
          /^pss: no traces in redis:.*: the input is empty\n$/,
        );
        const nokey = await run(runtime, ["score", `${url}/0`]);
        assert.equal(nokey.code, 1);
        assert.match(nokey.stderr, /needs its key/);
      } finally {
        await client.sendCommand(["DEL", list, stream, wrong]);
        await client.close();
      }
    });

    test("exits 1 with one line when Redis is unreachable", async () => {
      const port = await freePort();
      const result = await run(runtime, [
        "score",
        `redis://127.0.0.1:${port}/0?key=x`,
      ]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^pss: cannot read traces from redis:\/\/127\.0\.0\.1:\d+\/0\?key=x: .+\n$/,
      );
      assertNoStack(result.stderr);
    });
  });
}

describe("the pss bin for npx and bunx users", () => {
  const node = ["/usr/bin/node", "/usr/local/bin/node"].find((path) => {
    try {
      execFileSync(path, ["--version"]);
      return true;
    } catch {
      return false;
    }
  });
  const bin = join(ROOT, "bin/pss.js");
  const pathWith = `${join(ROOT, "node_modules/.bin")}:/usr/bin:/bin`;
  const spawnBin = (
    command: string,
    args: string[],
    env: Record<string, string>,
  ): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        cwd: ROOT,
        env: { ...process.env, ...env },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => stdout += chunk);
      child.stderr.on("data", (chunk) => stderr += chunk);
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });

  test(
    "under Node, runs the CLI with Bun or Deno and passes the exit code through",
    {
      skip: node === undefined ? "node is not installed" : false,
    },
    async () => {
      for (const runtime of ["bun", "deno"]) {
        const gate = await spawnBin(node!, [
          bin,
          "score",
          "tests/testdata/report/flaky.ndjson",
          "--fail-under",
          "99",
        ], { PATH: pathWith, PSS_RUNTIME: runtime });
        assert.equal(gate.code, 3, gate.stderr);
        assert.match(gate.stdout, /^PSS: \d+\/100/m);
      }
      const none = await spawnBin(node!, [bin, "--help"], {
        PATH: "/nonexistent",
      });
      assert.equal(none.code, 1);
      assert.match(
        none.stderr,
        /runs on Bun or Deno, and neither is on the PATH/,
      );
    },
  );

  test("under Bun, runs the CLI in the same process", async () => {
    const result = await spawnBin(join(ROOT, "node_modules/.bin/bun"), [
      bin,
      "compare",
      "tests/testdata/report/steady.ndjson",
      "tests/testdata/report/steady.ndjson",
      "--max-drop",
      "0",
    ], {});
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^PSS: 100 → 100 \(0\)$/m);
  });
});

describe("progress on standard error", () => {
  const script = ["/usr/bin/script", "/bin/script"].find((path) => {
    try {
      execFileSync(path, ["--version"]);
      return true;
    } catch {
      return false;
    }
  });

  for (const runtime of Object.keys(RUNTIMES) as Runtime[]) {
    test(
      `shows on a terminal and not in a pipe, and --quiet silences it (${runtime})`,
      {
        skip: script === undefined
          ? "util-linux's script is not installed"
          : false,
      },
      async () => {
        await withDir(async (dir) => {
          const path = join(dir, "big.ndjson");
          const line = stringifyTrace({ name: "op", duration: 0.01 });
          await writeFile(
            path,
            `${line}\n`.repeat(Math.ceil(6e6 / line.length)),
          );
          const command = [
            ...RUNTIMES[runtime],
            "score",
            path,
            "--format",
            "json",
          ]
            .map((part) => `'${part}'`).join(" ");
          const tty = execFileSync(script!, ["-qec", command, "/dev/null"], {
            cwd: ROOT,
            env: { ...process.env, NO_COLOR: "1" },
          }).toString();
          assert.match(
            tty,
            /pss: .*big\.ndjson: [\d.]+ MB of [\d.]+ MB \(\d+%\), \d+ traces, [\d.]+ MB\/s, \d+ traces\/s/,
          );
          const quiet = execFileSync(script!, [
            "-qec",
            `${command} --quiet`,
            "/dev/null",
          ], {
            cwd: ROOT,
            env: { ...process.env, NO_COLOR: "1" },
          }).toString();
          assert.doesNotMatch(quiet, /traces\/s/);
          const piped = await run(runtime, ["score", path, "--format", "json"]);
          assert.equal(piped.code, 0);
          assert.equal(piped.stderr, "");
        });
      },
    );
  }
});

describe("a pss agent URL as a source", () => {
  for (const runtime of Object.keys(RUNTIMES) as Runtime[]) {
    test(`scores what the agent holds and compares it with a file (${runtime})`, async () => {
      const sink = new MemoryCollector({ maxTraces: 10_000 });
      for (const trace of TRACES) sink.add(trace);
      await using agent = await serveAgent({
        port: 0,
        sink,
        authToken: "cli-token",
      });
      const env = { PSS_AGENT_TOKEN: "cli-token" };
      const scored = await runWithEnv(runtime, [
        "score",
        agent.url,
        "--by-name",
        "--format",
        "json",
      ], env);
      assert.equal(scored.code, 0, scored.stderr);
      const json = JSON.parse(scored.stdout);
      assert.equal(json.pss, EXPECTED.pss);
      assert.deepEqual(
        json.by_name.map((r: { name: string; pss: number }) => [r.name, r.pss])
          .sort(),
        computePssByName(TRACES).map(({ name, report }) => [name, report.pss])
          .sort(),
      );
      await withDir(async (dir) => {
        const file = join(dir, "same.ndjson");
        await writeFile(file, TRACES.map(stringifyTrace).join("\n"));
        const compared = await runWithEnv(runtime, [
          "compare",
          file,
          agent.url,
          "--max-drop",
          "0",
          "--min-traces",
          "1",
        ], env);
        assert.equal(compared.code, 0, compared.stderr + compared.stdout);
        assert.match(compared.stdout, /^PSS: (\d+) → \1 \(0\)$/m);
      });
      const denied = await run(runtime, ["score", agent.url]);
      assert.equal(denied.code, 1);
      assert.match(
        denied.stderr,
        /^pss: cannot read scores from http:.*: the agent answered 401: missing or wrong bearer token \(set PSS_AGENT_TOKEN\)\n$/,
      );
      const pooled = await runWithEnv(runtime, [
        "score",
        agent.url,
        "tests/testdata/report/steady.ndjson",
      ], env);
      assert.equal(pooled.code, 1);
      assert.match(pooled.stderr, /cannot be pooled with other sources/);
    });
  }

  test("exits 1 with one line when the agent is unreachable", async () => {
    const port = await freePort();
    for (const runtime of Object.keys(RUNTIMES) as Runtime[]) {
      const result = await run(runtime, ["score", `http://127.0.0.1:${port}`]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^pss: cannot read scores from http:\/\/127\.0\.0\.1:\d+: connection refused\n$/,
      );
      assertNoStack(result.stderr);
    }
  });
});

function runWithEnv(
  runtime: Runtime,
  args: string[],
  env: Record<string, string>,
): Promise<Run> {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return run(runtime, args);
  } finally {
    for (const key of Object.keys(env)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}
