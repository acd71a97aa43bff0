/**
 * The `pss` command line: score traces from files (NDJSON or pypss JSON
 * documents, gzip or not), standard input and Redis, compare two sets of
 * traces as a regression gate, and print text, JSON or HTML reports. Runs
 * on Deno and Bun:
 *
 * ```sh
 * deno run -A jsr:@pss/pss/cli score traces.ndjson --group-by name
 * bun src/cli/main.ts compare base.ndjson head.ndjson --max-drop 5
 * ```
 *
 * Exit codes ({@linkcode EXIT_CODES}): 0 ok; 1 bad input (unreadable,
 * empty, nothing usable, more than `--max-skipped` malformed, invalid
 * settings); 2 usage error; 3 gate failed (`--fail-under`, `--max-drop`).
 * This module parses arguments and wires the library together: reading is
 * `scanTraces` into a `PssAccumulator`, rendering `renderReportText`/
 * `Json`/`Html` and `compareReports`.
 *
 * @module
 */

import {
  type CompareArgs,
  parseCliArgs,
  type RowKey,
  type ScoreArgs,
  usage,
  UsageError,
} from "./args.ts";
import { runtime } from "../runtime/adapter.ts";
import type { CliIo, CliProcess } from "../runtime/types.ts";
import type { TraceSource } from "../collect/read.ts";
import { scanTraces } from "../collect/scan.ts";
import { PssAccumulator, type TraceDetails } from "../score/accumulator.ts";
import { type PssConfig, PssConfigError } from "../score/config.ts";
import type { PssReport } from "../score/report.ts";
import type { NamedPssReport } from "../score/pss.ts";
import { loadConfig } from "../config/load.ts";
import { renderReportText } from "../report/text.ts";
import { renderReportJson } from "../report/json.ts";
import { renderReportHtml } from "../report/html.ts";
import {
  compareReports,
  comparisonToJson,
  renderComparisonText,
} from "../report/compare.ts";
import { messageOf } from "../_message.ts";
import {
  type BenchFile,
  benchSides,
  isBenchJson,
  readBenchFile,
} from "../report/bench_compare.ts";
import type { ComparedSide } from "../report/compare.ts";

export { parseCliArgs, usage, UsageError } from "./args.ts";
export type {
  CliArgs,
  CompareArgs,
  HelpArgs,
  ReportFormat,
  RowKey,
  ScoreArgs,
} from "./args.ts";
export type { CliIo } from "../runtime/types.ts";

/**
 * The exit codes of the CLI.
 *
 * | code | name     | when                                                                                        |
 * | ---- | -------- | ------------------------------------------------------------------------------------------- |
 * | 0    | ok       | the report was written (and every gate passed)                                              |
 * | 1    | badInput | an input is unreadable, empty, holds nothing usable or too much garbage; invalid settings   |
 * | 2    | usage    | the command line is wrong                                                                   |
 * | 3    | gate     | the score is below `--fail-under`, or it or a row dropped more than `--max-drop`            |
 *
 * @example
 * ```ts
 * import { EXIT_CODES } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * assert.equal(EXIT_CODES.gate, 3);
 * assert.equal(EXIT_CODES.failUnder, 3);
 * ```
 */
export const EXIT_CODES: Readonly<{
  ok: 0;
  badInput: 1;
  usage: 2;
  gate: 3;
  failUnder: 3;
}> = Object.freeze({ ok: 0, badInput: 1, usage: 2, gate: 3, failUnder: 3 });

/** Skip reasons printed in full on standard error; the rest are counted. */
const MAX_SKIP_DETAILS = 5;

/** Inputs smaller than this never show progress. */
const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;

/** Time between two progress updates, in milliseconds. */
const PROGRESS_INTERVAL_MS = 250;

/** Thrown inside a command to end it with a message and an exit code. */
class CliFailure extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/**
 * Runs the CLI with `args` (the arguments after the program name) and
 * returns the exit code, writing only through `io`. Never throws: every
 * failure becomes a one-line message on standard error and an exit code.
 *
 * @param args For example `["score", "traces.ndjson", "--format", "json"]`.
 * @param io Where to read and write; the current Deno or Bun process when
 * omitted.
 * @returns One of {@linkcode EXIT_CODES}.
 *
 * @example Embed the CLI in a script
 * ```ts
 * import { EXIT_CODES, runCli } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * const path = await Deno.makeTempFile({ suffix: ".ndjson" });
 * await Deno.writeTextFile(path, '{"name":"op","duration":0.1}\n');
 * const code = await runCli(["score", path, "--format", "json"]);
 * assert.equal(code, EXIT_CODES.ok);
 * await Deno.remove(path);
 * ```
 */
export async function runCli(
  args: readonly string[],
  io: CliIo = requireProcess(),
): Promise<number> {
  try {
    if (args[0] === "agent") {
      return await (await import("./agent.ts")).runAgentCommand(
        args.slice(1),
        io,
      );
    }
    const parsed = parseCliArgs(args);
    if (parsed.command === "help") {
      await io.stdout(usage(parsed.topic));
      return EXIT_CODES.ok;
    }
    if (parsed.command === "compare") return await compare(parsed, io);
    return await score(parsed, io);
  } catch (error) {
    try {
      if (error instanceof UsageError) {
        await io.stderr(
          `pss: ${error.message}\nRun 'pss --help' for the commands and options.\n`,
        );
        return EXIT_CODES.usage;
      }
      if (error instanceof CliFailure) {
        await io.stderr(`pss: ${error.message}\n`);
        return error.code;
      }
      await io.stderr(`pss: ${messageOf(error)}\n`);
    } catch {
      // Standard error is gone (a closed pipe): the exit code still tells.
    }
    return EXIT_CODES.badInput;
  }
}

/** What one side (the inputs of `score`, or one of `compare`) gave. */
interface Scored {
  report: PssReport;
  /** Undefined for an agent, which serves scores only. */
  details: TraceDetails | undefined;
  rows: readonly NamedPssReport[] | undefined;
}

interface ReadSettings {
  groupBy: RowKey | undefined;
  maxSkipped: number;
  workers: number | undefined;
  quiet: boolean;
  config: Readonly<PssConfig> | undefined;
}

async function score(args: ScoreArgs, io: CliIo): Promise<number> {
  const config = args.config === undefined
    ? undefined
    : await readSettings(args.config);
  const format = args.format ?? formatFromPath(args.out) ?? "text";
  const scored = await readSide(args.inputs, io, {
    groupBy: args.groupBy,
    maxSkipped: args.maxSkipped,
    workers: args.workers,
    quiet: args.quiet,
    config,
  });
  const { report, details, rows } = scored;
  const inputName = args.inputs.map(displayName).join(", ");

  let output: string;
  switch (format) {
    case "json":
      output = renderReportJson(report, { byName: rows, details }) + "\n";
      break;
    case "html":
      output = renderReportHtml(report, {
        byName: rows,
        details,
        subtitle: inputName,
        rowLabel: args.groupBy,
      });
      break;
    default:
      output = renderReportText(report, {
        byName: rows,
        details,
        color: args.color,
        rowLabel: args.groupBy,
      });
  }
  await writeOutput(io, args.out, output, format, args.quiet);

  if (args.failUnder !== undefined && report.pss < args.failUnder) {
    await io.stderr(
      `pss: score ${report.pss} is below --fail-under ${args.failUnder}\n`,
    );
    return EXIT_CODES.gate;
  }
  return EXIT_CODES.ok;
}

async function compare(args: CompareArgs, io: CliIo): Promise<number> {
  const config = args.config === undefined
    ? undefined
    : await readSettings(args.config);
  const settings: ReadSettings = {
    groupBy: args.groupBy,
    maxSkipped: args.maxSkipped,
    workers: args.workers,
    quiet: args.quiet,
    config,
  };
  // Two benchmark stability files (PSS_BENCH_JSON) compare per benchmark;
  // anything else is read as traces.
  const [baseBench, headBench] = await Promise.all(
    [args.base, args.head].map((spec) => readBenchFileOf(spec, io)),
  );
  const benches = baseBench !== undefined && headBench !== undefined;
  const [base, head]: ComparedSide[] = benches
    ? benchSides(baseBench, headBench)
    : [
      await readSide([args.base], io, settings),
      await readSide([args.head], io, settings),
    ].map((side) => ({ report: side.report, rows: side.rows ?? [] }));
  const comparison = compareReports(base, head, {
    maxDrop: args.maxDrop,
    // A benchmark row is as many samples as its run kept: every scored
    // benchmark is gated unless a floor is asked for.
    minTraces: args.minTraces ?? (benches ? 1 : undefined),
  });
  const format = args.format ??
    (formatFromPath(args.out) === "json" ? "json" : "text");
  const output = format === "json"
    ? JSON.stringify(comparisonToJson(comparison), null, 2) + "\n"
    : renderComparisonText(comparison, { color: args.color });
  await writeOutput(io, args.out, output, format, args.quiet);
  if (comparison.failed) {
    const worst = comparison.rows.filter((r) => r.failed).map((r) =>
      `${r.name} ${r.delta!.pss}`
    );
    await io.stderr(
      `pss: a drop of more than --max-drop ${args.maxDrop} points: ${
        [
          ...(comparison.overallFailed
            ? [`overall ${comparison.delta.pss}`]
            : []),
          ...worst.slice(0, 5),
        ].join(", ")
      }${worst.length > 5 ? `, … ${worst.length - 5} more` : ""}\n`,
    );
    return EXIT_CODES.gate;
  }
  return EXIT_CODES.ok;
}

/**
 * A benchmark stability file, read, or `undefined` when the source is not
 * one (only its first 256 bytes are read to tell).
 */
async function readBenchFileOf(
  spec: string,
  io: CliIo,
): Promise<BenchFile | undefined> {
  if (spec === "-" || /^[a-z][a-z0-9+.-]*:\/\//i.test(spec)) return undefined;
  let head: string;
  try {
    const file = await runtime.files.open(spec, "read");
    try {
      const buffer = new Uint8Array(256);
      const n = await file.read(buffer);
      head = new TextDecoder().decode(buffer.subarray(0, Math.max(0, n)));
    } finally {
      file.close();
    }
  } catch {
    return undefined; // the trace reader reports what is wrong with it
  }
  if (!isBenchJson(head)) return undefined;
  try {
    return readBenchFile(await io.readTextFile(spec), spec);
  } catch (error) {
    throw new CliFailure(EXIT_CODES.badInput, messageOf(error));
  }
}

async function writeOutput(
  io: CliIo,
  out: string | undefined,
  output: string,
  format: string,
  quiet: boolean,
): Promise<void> {
  if (out === undefined) {
    await io.stdout(output);
    return;
  }
  try {
    await io.writeTextFile(out, output);
  } catch (error) {
    throw new CliFailure(
      EXIT_CODES.badInput,
      `cannot write to ${out}: ${describeIoError(error)}`,
    );
  }
  if (!quiet) await io.stderr(`pss: wrote the ${format} report to ${out}\n`);
}

function displayName(spec: string): string {
  if (spec === "-") return "standard input";
  if (/^rediss?:\/\//i.test(spec)) {
    try {
      const url = new URL(spec);
      url.password = "";
      return url.href;
    } catch {
      return spec;
    }
  }
  return spec;
}

/** Reads every input into one accumulator and checks what was skipped. */
function isAgentUrl(spec: string): boolean {
  return /^https?:\/\//i.test(spec);
}

/** The scores of a pss agent (it serves scores, not traces). */
async function readAgent(
  spec: string,
  settings: ReadSettings,
): Promise<Scored> {
  if (settings.groupBy !== undefined && settings.groupBy !== "name") {
    throw new CliFailure(
      EXIT_CODES.badInput,
      `an agent scores by name only: --group-by ${settings.groupBy} needs its traces (read them from its sink)`,
    );
  }
  if (settings.config !== undefined) {
    throw new CliFailure(
      EXIT_CODES.badInput,
      "an agent scores with its own settings: --config cannot apply to an agent URL",
    );
  }
  const { fetchAgentScores } = await import("./_agent_source.ts");
  let scores;
  try {
    const token = runtime.env.env("PSS_AGENT_TOKEN");
    scores = await fetchAgentScores(
      spec,
      token.kind === "value" && token.value !== "" ? token.value : undefined,
    );
  } catch (error) {
    throw new CliFailure(
      EXIT_CODES.badInput,
      `cannot read scores from ${displayName(spec)}: ${messageOf(error)}`,
    );
  }
  const { report } = scores;
  if (report.traceCount + report.systemTraceCount === 0) {
    throw new CliFailure(
      EXIT_CODES.badInput,
      `no traces in ${displayName(spec)}: the agent holds none`,
    );
  }
  return {
    report,
    details: undefined,
    rows: settings.groupBy === undefined ? undefined : scores.rows,
  };
}

async function readSide(
  inputs: readonly string[],
  io: CliIo,
  settings: ReadSettings,
): Promise<Scored> {
  if (inputs.length === 1 && isAgentUrl(inputs[0])) {
    return await readAgent(inputs[0], settings);
  }
  const accumulator = new PssAccumulator({
    groups: settings.groupBy === undefined
      ? false
      : settings.groupBy === "host" || settings.groupBy === "pid"
      ? "process"
      : "shared",
  });
  const skips: string[] = [];
  let entries = 0;
  let skipped = 0;
  const progress = !settings.quiet &&
      (io as Partial<CliProcess>).isTerminal?.("stderr") === true
    ? new Progress(io)
    : undefined;
  for (const spec of inputs) {
    const name = displayName(spec);
    const warnings: string[] = [];
    let redis: { close(): Promise<void> } | undefined;
    let input: string | AsyncIterable<Uint8Array> | TraceSource;
    try {
      if (spec === "-") input = io.stdin();
      else if (/^rediss?:\/\//i.test(spec)) {
        const { openRedisSource } = await import("./_redis_source.ts");
        const source = openRedisSource(spec);
        redis = source;
        input = source;
      } else if (isAgentUrl(spec)) {
        throw new Error(
          "an agent URL gives scores, not traces: it cannot be pooled with other sources",
        );
      } else input = spec;
    } catch (error) {
      throw new CliFailure(
        EXIT_CODES.badInput,
        `cannot read traces from ${name}: ${describeIoError(error)}`,
      );
    }
    progress?.start(name);
    try {
      const stats = await scanTraces(input, accumulator, {
        groupBy: settings.groupBy ?? "name",
        workers: settings.workers,
        onSkip: (position, reason) => {
          if (skips.length < MAX_SKIP_DETAILS) {
            skips.push(
              `${inputs.length > 1 ? `${name}, ` : ""}${position}: ${reason}`,
            );
          }
        },
        onWarning: (message) => warnings.push(message),
        onSize: (bytes) => progress?.size(bytes),
        onProgress: (bytes) => progress?.update(bytes, accumulator.traceCount),
      });
      entries += stats.entries;
      skipped += stats.skipped;
    } catch (error) {
      throw new CliFailure(
        EXIT_CODES.badInput,
        `cannot read traces from ${name}: ${describeIoError(error)}`,
      );
    } finally {
      await progress?.finish();
      await redis?.close();
    }
    for (const warning of warnings) {
      await io.stderr(`pss: ${name}: ${warning}\n`);
    }
  }
  const names = inputs.map(displayName).join(", ");
  const listed = (): string => {
    const more = skipped > skips.length
      ? `\n  … and ${skipped - skips.length} more`
      : "";
    return `  ${skips.join("\n  ")}${more}`;
  };
  if (entries === 0) {
    throw new CliFailure(
      EXIT_CODES.badInput,
      `no traces in ${names}: the input is empty`,
    );
  }
  if (skipped === entries) {
    throw new CliFailure(
      EXIT_CODES.badInput,
      `nothing usable in ${names}: all ${entries} ${
        entries === 1 ? "entry was" : "entries were"
      } skipped as malformed:\n${listed()}`,
    );
  }
  if (skipped / entries > settings.maxSkipped) {
    throw new CliFailure(
      EXIT_CODES.badInput,
      `too much garbage in ${names}: ${skipped} of ${entries} entries (${
        percent(skipped / entries)
      }) were skipped as malformed, more than --max-skipped ${settings.maxSkipped}:\n${listed()}`,
    );
  }
  if (skipped > 0 && !settings.quiet) {
    await io.stderr(
      `pss: skipped ${skipped} of ${entries} entries in ${names} as malformed:\n${listed()}\n`,
    );
  }
  const config = settings.config ?? {};
  const rows = settings.groupBy === undefined
    ? undefined
    : accumulator.groupRows(config);
  const report = accumulator.report(config);
  return { report, details: accumulator.details(), rows };
}

function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(fraction < 0.1 ? 1 : 0)}%`;
}

/** Progress on standard error: bytes and traces per second, updated in place. */
class Progress {
  readonly #io: CliIo;
  #name = "";
  #total: number | undefined;
  #started = 0;
  #last = 0;
  #shown = false;
  #pending: Promise<void> = Promise.resolve();

  constructor(io: CliIo) {
    this.#io = io;
  }

  start(name: string): void {
    this.#name = name;
    this.#total = undefined;
    this.#started = performance.now();
    // The first chunk of a large input shows at once, then every interval.
    this.#last = -Infinity;
    this.#shown = false;
  }

  size(bytes: number): void {
    this.#total = bytes;
  }

  update(bytes: number, traces: number): void {
    const now = performance.now();
    if (now - this.#last < PROGRESS_INTERVAL_MS) return;
    if (this.#total !== undefined && this.#total < PROGRESS_MIN_BYTES) return;
    if (this.#total === undefined && bytes < PROGRESS_MIN_BYTES) return;
    this.#last = now;
    const seconds = Math.max(1e-3, (now - this.#started) / 1000);
    const mb = (n: number): string => (n / 1e6).toFixed(1);
    const of = this.#total === undefined
      ? ""
      : ` of ${mb(this.#total)} MB (${
        Math.floor((bytes / this.#total) * 100)
      }%)`;
    const line = `pss: ${this.#name}: ${mb(bytes)} MB${of}, ${traces} traces, ${
      mb(bytes / seconds)
    } MB/s, ${Math.round(traces / seconds)} traces/s`;
    this.#shown = true;
    // Writes are not awaited by the reader; they are chained, never lost.
    this.#pending = this.#pending.then(() =>
      this.#io.stderr(`\r\x1b[2K${line}`).catch(() => {})
    );
  }

  async finish(): Promise<void> {
    await this.#pending;
    if (this.#shown) await this.#io.stderr("\r\x1b[2K").catch(() => {});
    this.#shown = false;
  }
}

/**
 * Reads `--config` with the library's loader (strict JSON, camelCase or
 * pypss snake_case keys), without the manifests or the environment: the
 * command scores with exactly the file it was given.
 */
async function readSettings(path: string): Promise<Readonly<PssConfig>> {
  try {
    const loaded = await loadConfig({
      path,
      manifests: false,
      env: false,
      onWarning: () => {},
    });
    if (loaded.warnings.length > 0) {
      throw new CliFailure(EXIT_CODES.badInput, loaded.warnings.join("; "));
    }
    return loaded.score;
  } catch (error) {
    if (error instanceof PssConfigError) {
      throw new CliFailure(EXIT_CODES.badInput, error.message);
    }
    throw error;
  }
}

function formatFromPath(
  path: string | undefined,
): "json" | "html" | undefined {
  const lower = path?.toLowerCase();
  if (lower?.endsWith(".json")) return "json";
  if (lower?.endsWith(".html") || lower?.endsWith(".htm")) return "html";
  return undefined;
}

/** A short, stack-free reason for an I/O error on Deno or Bun. */
function describeIoError(error: unknown): string {
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  if (name === "NotFound" || code === "ENOENT") return "no such file";
  if (
    name === "PermissionDenied" || code === "EACCES" || code === "EPERM"
  ) return "permission denied";
  if (name === "IsADirectory" || code === "EISDIR") return "is a directory";
  if (name === "NotADirectory" || code === "ENOTDIR") {
    return "a part of the path is not a directory";
  }
  if (code === "ECONNREFUSED" || name === "ConnectionRefused") {
    return "connection refused";
  }
  return messageOf(error).split("\n")[0];
}

function requireProcess(): CliProcess {
  if (runtime.cli === undefined) {
    throw new Error("The pss CLI runs on Deno or Bun only");
  }
  return runtime.cli;
}

if (import.meta.main) {
  const cli = requireProcess();
  cli.exit(await runCli(cli.args, cli));
}
