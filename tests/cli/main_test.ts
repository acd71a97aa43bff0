// Runs the real CLI (src/cli/main.ts) as a subprocess under Deno and under
// Bun, whichever runtime runs this file, on the fixtures in
// tests/testdata/report/.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ROOT, run, RUNTIMES } from "./_run.ts";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTraces } from "../../src/collect/read.ts";
import { computePss, computePssByName } from "../../src/score/pss.ts";
import type { Trace } from "../../src/trace.ts";
import { reportToJson } from "../../src/report/json.ts";
import type { BenchStabilityJson } from "../../src/bench/mod.ts";

const DATA = "tests/testdata/report";

async function readAll(
  path: string,
): Promise<{ traces: Trace[]; skipped: number }> {
  const reader = readTraces(join(ROOT, path));
  const traces: Trace[] = [];
  for await (const trace of reader) traces.push(trace);
  return { traces, skipped: reader.stats.skipped };
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "pss-cli-test-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /^\s+at /m, text);
}

for (const runtime of Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[]) {
  describe(`pss CLI on ${runtime}`, () => {
    test("prints the text report of a steady file and exits 0", async () => {
      const result = await run(runtime, ["score", `${DATA}/steady.ndjson`]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "");
      assert.match(result.stdout, /^PSS: 100\/100 \(excellent\)$/m);
      assert.match(result.stdout, /^ {2}Timing Stability +1\.00 /m);
      assert.match(result.stdout, /^Traces: 20 scored$/m);
      assert.match(result.stdout, /Every pillar is healthy\./);
    });

    test("writes the same JSON as the library, per name, and counts skipped lines", async () => {
      const result = await run(runtime, [
        "score",
        `${DATA}/mixed.ndjson`,
        "--format",
        "json",
        "--by-name",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const { traces, skipped } = await readAll(`${DATA}/mixed.ndjson`);
      assert.equal(skipped, 2);
      const report = computePss(traces);
      const expected = reportToJson(
        { ...report, skippedCount: report.skippedCount + skipped },
        { byName: computePssByName(traces) },
      );
      const actual = JSON.parse(result.stdout);
      // The CLI adds the figures behind the score; the rest is the library's.
      assert.equal(actual.details.traces, report.traceCount);
      delete actual.details;
      delete actual.diagnosis.drag;
      for (const row of actual.by_name) delete row.details;
      delete expected.diagnosis.drag;
      assert.deepEqual(actual, expected);
      assert.equal(expected.counts.skipped, 2);
      assert.deepEqual(expected.by_name?.map((r) => r.name), [
        "db.query",
        `<script>alert("x")</script>`,
        "cache.get",
      ]);
      assert.match(
        result.stderr,
        /^pss: skipped 2 of 75 entries in tests\/testdata\/report\/mixed\.ndjson as malformed:\n {2}line 6: invalid JSON: .*\n {2}line 18: duration must be a finite number ≥ 0, got -1\n$/,
      );
    });

    test("writes an escaped HTML report to --out and nothing to stdout", async () => {
      await withTempDir(async (dir) => {
        const out = join(dir, "report.html");
        const result = await run(runtime, [
          "score",
          `${DATA}/mixed.ndjson`,
          "--by-name",
          "--format=html",
          "-o",
          out,
        ]);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(result.stdout, "");
        assert.match(
          result.stderr,
          /pss: wrote the html report to .*report\.html/,
        );
        const html = await readFile(out, "utf8");
        assert.ok(html.startsWith("<!DOCTYPE html>"));
        // One script only: the table sorter; the name is escaped.
        assert.equal(html.split("<script").length, 2);
        assert.equal(html.includes('<script>alert("x")'), false);
        assert.ok(
          html.includes(
            "<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;</td>",
          ),
        );
        assert.ok(
          html.includes(
            '<p class="sub">tests/testdata/report/mixed.ndjson</p>',
          ),
        );
      });
    });

    test("takes the format from the --out extension", async () => {
      await withTempDir(async (dir) => {
        const out = join(dir, "report.json");
        const result = await run(runtime, [
          "score",
          `${DATA}/steady.ndjson`,
          "--out",
          out,
        ]);
        assert.equal(result.code, 0, result.stderr);
        const json = JSON.parse(await readFile(out, "utf8"));
        assert.equal(json.pss, 100);
        assert.deepEqual(Object.keys(json.breakdown), [
          "timing_stability",
          "memory_stability",
          "error_volatility",
          "branching_entropy",
          "concurrency_chaos",
        ]);
      });
    });

    test("reads standard input for -", async () => {
      const bytes = await readFile(join(ROOT, DATA, "flaky.ndjson"));
      const [piped, fromFile] = await Promise.all([
        run(runtime, ["score", "-"], bytes),
        run(runtime, ["score", `${DATA}/flaky.ndjson`]),
      ]);
      assert.equal(piped.code, 0, piped.stderr);
      assert.equal(piped.stdout, fromFile.stdout);
      assert.match(piped.stdout, /Error Volatility +0\.\d\d .*critical/);
    });

    test("exits 1 for empty input: a gate must not pass on nothing", async () => {
      const result = await run(runtime, ["score", "-"], new Uint8Array());
      assert.equal(result.code, 1, result.stderr);
      assert.equal(result.stdout, "");
      assert.equal(
        result.stderr,
        "pss: no traces in standard input: the input is empty\n",
      );
    });

    test("colours the text report only with --color", async () => {
      const args = ["score", `${DATA}/flaky.ndjson`];
      const [plain, coloured] = await Promise.all([
        run(runtime, args),
        run(runtime, [...args, "--color"]),
      ]);
      assert.equal(plain.stdout.includes("\x1b["), false);
      assert.ok(coloured.stdout.includes("\x1b[31mcritical\x1b[0m"));
    });

    test("exits 1 with a one-line message for a missing file", async () => {
      const result = await run(runtime, ["score", `${DATA}/missing.ndjson`]);
      assert.equal(result.code, 1);
      assert.equal(result.stdout, "");
      assert.equal(
        result.stderr,
        "pss: cannot read traces from tests/testdata/report/missing.ndjson: no such file\n",
      );
    });

    test("exits 1 for a directory given as input", async () => {
      const result = await run(runtime, ["score", DATA]);
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /^pss: cannot read traces from .*: is a directory\n$/,
      );
    });

    test("exits 2 with the usage line for a usage error", async () => {
      const cases: [string[], RegExp][] = [
        [[], /missing the command: score, compare or agent/],
        [["score"], /missing the input/],
        [["score", "-", "-"], /standard input \(-\) can be read only once/],
        [["compare", "a"], /compare needs two inputs/],
        [
          ["compare", "a", "b", "--format", "html"],
          /--format of compare must be text or json: got html/,
        ],
        [
          ["score", "x", "--group-by", "thread"],
          /--group-by must be name, module, host or pid: got thread/,
        ],
        [
          ["score", "x", "--max-skipped", "2"],
          /--max-skipped must be a fraction from 0 to 1: got 2/,
        ],
        [
          ["score", "x", "--format", "xml"],
          /--format must be text, json or html: got xml/,
        ],
        [
          ["score", "x", "--fail-under", "abc"],
          /--fail-under must be a number from 0 to 100: got abc/,
        ],
        [["score", "x", "--verbose"], /unknown option: --verbose/],
        [["score", "x", "--out"], /option --out needs a value/],
        [["analyze", "x"], /unknown command: analyze/],
      ];
      for (const [args, message] of cases) {
        const result = await run(runtime, args);
        assert.equal(result.code, 2, args.join(" "));
        assert.equal(result.stdout, "");
        assert.match(result.stderr, message);
        assert.match(result.stderr, /^Run 'pss --help'/m);
        assertNoStack(result.stderr);
      }
    });

    test("prints the help on stdout and exits 0", async () => {
      const result = await run(runtime, ["--help"]);
      assert.equal(result.code, 0);
      assert.match(result.stdout, /^Usage: pss <command> \[options\]/);
      assert.match(result.stdout, /^ {2}3 {2}gate failed/m);
      const score = await run(runtime, ["score", "--help"]);
      assert.equal(score.code, 0);
      assert.match(
        score.stdout,
        /^Usage: pss score <source>\.\.\. \[options\]/,
      );
      assert.match(score.stdout, /--fail-under <N>/);
      const compare = await run(runtime, ["compare", "-h"]);
      assert.equal(compare.code, 0);
      assert.match(compare.stdout, /--max-drop <points>/);
    });

    test("exits 3 below --fail-under, still printing the report", async () => {
      const below = await run(runtime, [
        "score",
        `${DATA}/flaky.ndjson`,
        "--fail-under",
        "90",
      ]);
      assert.equal(below.code, 3);
      const pss = Number(/^PSS: (\d+)\/100/m.exec(below.stdout)?.[1]);
      assert.ok(pss < 90, below.stdout);
      assert.equal(
        below.stderr,
        `pss: score ${pss} is below --fail-under 90\n`,
      );
      const above = await run(runtime, [
        "score",
        `${DATA}/flaky.ndjson`,
        `--fail-under=${pss}`,
      ]);
      assert.equal(above.code, 0, above.stderr);
    });

    test("scores with the weights of a --config file in pypss's snake_case", async () => {
      const result = await run(runtime, [
        "score",
        `${DATA}/mixed.ndjson`,
        "--config",
        `${DATA}/weights.json`,
        "--format",
        "json",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const { traces } = await readAll(`${DATA}/mixed.ndjson`);
      const weights = { wTs: 0.5, wMs: 0.1, wEv: 0.2, wBe: 0.1, wCc: 0.1 };
      const expected = computePss(traces, weights).pss;
      assert.notEqual(expected, computePss(traces).pss);
      assert.equal(JSON.parse(result.stdout).pss, expected);
    });

    test("exits 1 naming the setting and the file for an invalid --config", async () => {
      const bad = await run(runtime, [
        "score",
        `${DATA}/steady.ndjson`,
        "-c",
        `${DATA}/bad_config.json`,
      ]);
      assert.equal(bad.code, 1);
      assert.equal(bad.stdout, "");
      assert.match(
        bad.stderr,
        /^pss: Invalid pss configuration \(from \/\S+\/tests\/testdata\/report\/bad_config\.json, key 'w_ts'\) as 'wTs' must be a weight ≥ 0: got -1\n$/,
      );
      const unknown = await run(runtime, [
        "score",
        `${DATA}/steady.ndjson`,
        "--config",
        `${DATA}/unknown_config.json`,
      ]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /'no_such_setting' is not a known setting/);
      const missing = await run(runtime, [
        "score",
        `${DATA}/steady.ndjson`,
        "--config",
        `${DATA}/nope.json`,
      ]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^pss: .*nope\.json.*\n$/);
      assert.match(missing.stderr, /must exist/);
    });
  });
}

/** One benchmark of {@linkcode benchFile}. */
interface BenchRowSpec {
  name: string;
  pss: number | null;
  ts: number;
  group?: string | null;
  file?: string | null;
  samples?: number;
}

/** A benchmark stability file as `@pss/pss/bench` writes it (PSS_BENCH_JSON). */
function benchFile(rows: BenchRowSpec[]): BenchStabilityJson {
  return {
    format: "pss-bench",
    version: 1,
    runtime: "deno 2.9.6",
    runId: "1:0123456789abcdef01234567",
    pid: 1,
    clockCostNs: 30,
    clockFactor: 20,
    reservoirSize: 10_000,
    warmupCalls: 3,
    warmupMs: 10,
    outlierFactor: null,
    failUnder: null,
    belowGate: [],
    benchmarks: rows.map(({ name, pss, ts, group, file, samples }) => ({
      name,
      group: group === undefined ? "codec" : group,
      file: file ?? null,
      pss,
      breakdown: pss === null ? null : {
        timingStability: ts,
        memoryStability: 1,
        errorVolatility: 1,
        branchingEntropy: 1,
        concurrencyChaos: 1,
      },
      timingStability: pss === null ? null : ts,
      cv: 0.1,
      p50Ns: 1000,
      p95Ns: 1200,
      p99Ns: null,
      tailRatio: 1.2,
      maxNs: 2000,
      meanNs: 1010,
      calls: 5000,
      warmupCalls: 3,
      samples: samples ?? 500,
      outliers: 0,
      errors: 0,
      error: null,
      clockBound: pss === null,
      estimateNs: null,
      belowGate: false,
    })),
  };
}

for (const runtime of Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[]) {
  describe(`pss compare of two benchmark stability files (${runtime})`, () => {
    test("compares per benchmark and gates only the one that dropped", async () => {
      const dir = await mkdtemp(join(tmpdir(), "pss-bench-compare-"));
      try {
        const base = join(dir, "base.json");
        const head = join(dir, "head.json");
        await writeFile(
          base,
          JSON.stringify(benchFile([
            { name: "encode", pss: 98, ts: 0.95 },
            { name: "decode", pss: 96, ts: 0.9 },
            { name: "tiny", pss: null, ts: 0 },
          ])),
        );
        await writeFile(
          head,
          JSON.stringify(benchFile([
            { name: "encode", pss: 97, ts: 0.93 },
            { name: "decode", pss: 80, ts: 0.4 },
            { name: "stream", pss: 99, ts: 0.98 },
          ])),
        );
        const gated = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "5",
          "--format",
          "json",
        ]);
        assert.equal(gated.code, 3, gated.stderr);
        assert.match(gated.stderr, /codec › decode -16/);
        assert.doesNotMatch(gated.stderr, /encode/);
        const json = JSON.parse(gated.stdout);
        const rows = new Map<string, { delta: { pss: number } | null }>(
          json.rows.map((row: { name: string }) => [row.name, row]),
        );
        assert.equal(rows.get("codec › encode")?.delta?.pss, -1);
        assert.equal(rows.get("codec › decode")?.delta?.pss, -16);
        assert.deepEqual(json.appeared, ["codec › stream"]);
        assert.deepEqual(json.vanished, []); // "tiny" had no score to compare

        const lenient = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "20",
        ]);
        assert.equal(lenient.code, 0, lenient.stderr);
        assert.match(lenient.stdout, /codec › decode/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    test("matches the benchmarks of two checkouts in different directories", async () => {
      await withTempDir(async (dir) => {
        // Absolute module URLs (files of older versions, or modules outside
        // the working directory) lose the directory each side's share.
        const side = (root: string, decode: number): BenchRowSpec[] => [
          {
            name: "encode",
            pss: 97,
            ts: 0.9,
            file: `file://${root}/bench/codec_bench.ts`,
          },
          {
            name: "decode",
            pss: decode,
            ts: decode / 100,
            file: `file://${root}/bench/codec_bench.ts`,
          },
          {
            name: "walk",
            pss: 95,
            ts: 0.85,
            group: null,
            file: `file://${root}/bench/tree/walk_bench.ts`,
          },
        ];
        const base = join(dir, "base.json");
        const head = join(dir, "head.json");
        await writeFile(
          base,
          JSON.stringify(benchFile(side("/home/ci/work/main", 96))),
        );
        await writeFile(
          head,
          JSON.stringify(benchFile(side("/tmp/pr-42/checkout", 80))),
        );
        const result = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "5",
          "--format",
          "json",
        ]);
        assert.equal(result.code, 3, result.stderr);
        const json = JSON.parse(result.stdout);
        assert.deepEqual(json.appeared, []);
        assert.deepEqual(json.vanished, []);
        assert.deepEqual(
          json.rows.map((row: { name: string; failed: boolean }) => [
            row.name,
            row.failed,
          ]),
          [
            ["codec_bench.ts › codec › decode", true],
            ["codec_bench.ts › codec › encode", false],
            ["tree/walk_bench.ts › walk", false],
          ],
        );

        // Files written by pss name modules relative to the working
        // directory; one module on both sides is left out of the names.
        const relative = (decode: number): BenchRowSpec[] => [
          { name: "encode", pss: 97, ts: 0.9, file: "bench/codec_bench.ts" },
          {
            name: "decode",
            pss: decode,
            ts: decode / 100,
            file: "bench/codec_bench.ts",
          },
        ];
        await writeFile(base, JSON.stringify(benchFile(relative(96))));
        await writeFile(head, JSON.stringify(benchFile(relative(80))));
        const text = await run(runtime, ["compare", base, head]);
        assert.equal(text.code, 0, text.stderr);
        assert.match(text.stdout, /^ {2}codec › decode +96 +80 +-16 /m);
        assert.doesNotMatch(text.stdout, /Appeared|Vanished|codec_bench/);
      });
    });

    test("--max-drop gates benchmarks of any number of samples unless --min-traces is given", async () => {
      await withTempDir(async (dir) => {
        const base = join(dir, "base.json");
        const head = join(dir, "head.json");
        // A slow benchmark of 20 calls kept drops; the least stable one (the
        // overall score) stays where it was.
        const rows = (steady: number): BenchRowSpec[] => [
          { name: "steady", pss: steady, ts: steady / 100, samples: 20 },
          { name: "busy", pss: 70, ts: 0.01, samples: 10_000 },
        ];
        await writeFile(base, JSON.stringify(benchFile(rows(91))));
        await writeFile(head, JSON.stringify(benchFile(rows(75))));
        const gated = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "5",
        ]);
        assert.equal(gated.code, 3, gated.stdout);
        assert.equal(
          gated.stderr,
          "pss: a drop of more than --max-drop 5 points: codec › steady -16\n",
        );
        assert.match(gated.stdout, /^ {2}codec › steady .* 20→20 {2}FAILED$/m);
        const floored = await run(runtime, [
          "compare",
          base,
          head,
          "--max-drop",
          "5",
          "--min-traces",
          "30",
        ]);
        assert.equal(floored.code, 0, floored.stdout);
        assert.match(floored.stdout, /rows with at least 30 traces/);
      });
    });

    test("shows the end of a long benchmark name", async () => {
      await withTempDir(async (dir) => {
        const rows = (pss: number): BenchRowSpec[] => [{
          name: "decode 10,000 entries",
          group: "protobuf wire format, streamed",
          pss,
          ts: pss / 100,
        }];
        const base = join(dir, "base.json");
        const head = join(dir, "head.json");
        await writeFile(base, JSON.stringify(benchFile(rows(96))));
        await writeFile(head, JSON.stringify(benchFile(rows(94))));
        const result = await run(runtime, ["compare", base, head]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(
          result.stdout,
          /^ {2}…ormat, streamed › decode 10,000 entries +96 +94 +-2 /m,
        );
      });
    });
  });
}
