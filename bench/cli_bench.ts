/**
 * How fast is `pss score` end to end, and how much memory does it take?
 * The CLI against its floor (read the lines and `JSON.parse` each, nothing
 * else: bench/_cli_floor.ts), over one NDJSON file of 1,000,000 pypss-shaped
 * traces generated at bench time into a temporary directory, on Deno and on
 * Bun, in the same run: rounds alternate floor and CLI so load hits both
 * alike. Wall and CPU time and peak RSS come from `/usr/bin/time`. The
 * floor runs with 64 KiB and with 1 MiB chunks and counts as the faster of
 * the two in each round (Deno's floor is faster with small chunks, Bun's
 * with large ones). Memory growth per trace is the slope of the CLI's peak
 * RSS between a 250,000- and a 1,000,000-line file. The CLI parses a file
 * this large with workers (one per core, up to 4); `--workers 0`, one
 * thread like the floor, is measured too.
 *
 *     npx deno run -A bench/cli_bench.ts [--lines 1000000] [--rounds 3]
 *
 * Times are the best of the rounds (the run least disturbed by other load;
 * on a shared machine medians swing by 2× between runs), peak RSS the
 * median. Prints a Markdown table (the README's) and exits 1 when a wall
 * ratio exceeds 1.5 (the target). Under `deno bench` this file does
 * nothing: a run takes minutes of subprocesses, not a microbenchmark.
 *
 * @module
 */

import { writeTraceFile } from "./_cli_data.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = `${ROOT}node_modules/.bin/deno`;
const BUN = `${ROOT}node_modules/.bin/bun`;

interface Sample {
  wall: number;
  cpu: number;
  rssKb: number;
}

async function measure(command: string[]): Promise<Sample> {
  const output = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "PSSBENCH %e %U %S %M", ...command],
    stdout: "null",
    stderr: "piped",
    cwd: ROOT,
  }).output();
  const text = new TextDecoder().decode(output.stderr);
  const line = text.split("\n").find((l) => l.startsWith("PSSBENCH"));
  if (!output.success || line === undefined) {
    throw new Error(`${command.join(" ")} failed:\n${text}`);
  }
  const [wall, user, system, rss] = line.split(" ").slice(1).map(Number);
  return { wall, cpu: user + system, rssKb: rss };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function option(name: string, fallback: number): number {
  const index = Deno.args.indexOf(`--${name}`);
  return index < 0 ? fallback : Number(Deno.args[index + 1]);
}

const RUNTIMES = {
  deno: (
    script: string,
    args: string[],
  ) => [DENO, "run", "-A", script, ...args],
  bun: (script: string, args: string[]) => [BUN, script, ...args],
} as const;

if (import.meta.main) {
  const lines = option("lines", 1_000_000);
  const rounds = option("rounds", 5);
  const small = Math.floor(lines / 4);
  const dir = await Deno.makeTempDir({ prefix: "pss-cli-bench-" });
  try {
    const big = `${dir}/traces.ndjson`;
    const little = `${dir}/quarter.ndjson`;
    const bytes = await writeTraceFile(big, lines);
    await writeTraceFile(little, small);
    console.error(
      `bench: ${lines} lines, ${(bytes / 1e6).toFixed(0)} MB in ${big}`,
    );
    const floor = `${ROOT}bench/_cli_floor.ts`;
    const cli = `${ROOT}src/cli/main.ts`;
    const rows: string[] = [];
    let worst = 0;
    for (const [runtime, command] of Object.entries(RUNTIMES)) {
      const samples = {
        floor: [] as Sample[],
        cli: [] as Sample[],
        cliSmall: [] as Sample[],
        serial: [] as Sample[],
      };
      for (let round = 0; round < rounds; round++) {
        const small = await measure(command(floor, [big, "65536"]));
        const large = await measure(command(floor, [big, "1048576"]));
        samples.floor.push(small.wall <= large.wall ? small : large);
        samples.cli.push(
          await measure(command(cli, ["score", big, "--format", "json"])),
        );
        samples.cliSmall.push(
          await measure(command(cli, ["score", little, "--format", "json"])),
        );
        samples.serial.push(
          await measure(
            command(cli, ["score", big, "--format", "json", "--workers", "0"]),
          ),
        );
        console.error(
          `bench: ${runtime} round ${round + 1}: floor ${
            samples.floor[round].wall
          } s, cli ${samples.cli[round].wall} s, cli --workers 0 ${
            samples.serial[round].wall
          } s`,
        );
      }
      const m = (list: Sample[], key: keyof Sample): number =>
        median(list.map((s) => s[key]));
      const best = (list: Sample[], key: keyof Sample): number =>
        Math.min(...list.map((s) => s[key]));
      const wallRatio = best(samples.cli, "wall") /
        best(samples.floor, "wall");
      const cpuRatio = best(samples.cli, "cpu") / best(samples.floor, "cpu");
      worst = Math.max(worst, wallRatio);
      const slope = (big: Sample[], little: Sample[]): number =>
        ((m(big, "rssKb") - m(little, "rssKb")) * 1024) / (lines - small);
      const perTrace = slope(samples.cli, samples.cliSmall);
      const serialRatio = best(samples.serial, "wall") /
        best(samples.floor, "wall");
      rows.push(
        `| ${runtime} | ${best(samples.floor, "wall").toFixed(2)} s | ${
          best(samples.cli, "wall").toFixed(2)
        } s | ${wallRatio.toFixed(2)}× | ${cpuRatio.toFixed(2)}× | ${
          best(samples.serial, "wall").toFixed(2)
        } s, ${serialRatio.toFixed(2)}× | ${
          (m(samples.floor, "rssKb") / 1024).toFixed(0)
        } MB | ${(m(samples.cli, "rssKb") / 1024).toFixed(0)} MB | ${
          perTrace.toFixed(0)
        } B |`,
      );
    }
    console.log(
      [
        `${lines} lines (${
          (bytes / 1e6).toFixed(0)
        } MB); times: best of ${rounds} rounds; peak RSS: median`,
        "",
        "| runtime | floor (read + JSON.parse) | pss score | wall ratio | CPU ratio | pss score --workers 0 | floor peak RSS | pss peak RSS | pss RSS growth per trace |",
        "|---|---|---|---|---|---|---|---|---|",
        ...rows,
      ].join("\n"),
    );
    if (worst > 1.5) {
      console.error(
        `bench: the CLI took ${worst.toFixed(2)}× its floor (target ≤ 1.5×)`,
      );
      Deno.exitCode = 1;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
