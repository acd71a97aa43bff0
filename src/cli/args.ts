/**
 * Command-line argument parsing for the `pss` CLI: a small, strict parser
 * (unknown options and missing values are usage errors) with no dependency.
 *
 * @module
 */

/**
 * The output formats of `pss score` (`pss compare` writes text or json).
 *
 * @example
 * ```ts
 * import { parseCliArgs, type ReportFormat } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * const args = parseCliArgs(["score", "traces.ndjson", "-f", "html"]);
 * const format: ReportFormat = args.command === "score" ? args.format ?? "text" : "text";
 * assert.equal(format, "html");
 * ```
 */
export type ReportFormat = "text" | "json" | "html";

/**
 * The wire field that makes the rows of a report: `name` (operations),
 * `module`, `host` or `pid` (processes).
 *
 * @example
 * ```ts
 * import { parseCliArgs, type RowKey } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * const args = parseCliArgs(["score", "a.ndjson", "--group-by", "pid"]);
 * const key: RowKey | undefined = args.command === "score" ? args.groupBy : undefined;
 * assert.equal(key, "pid");
 * ```
 */
export type RowKey = "name" | "module" | "host" | "pid";

/**
 * What `pss score` was asked to do.
 *
 * @example
 * ```ts
 * import { parseCliArgs, type ScoreArgs } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * const args = parseCliArgs(["score", "-", "--fail-under", "80", "--color"]);
 * assert.equal(args.command, "score");
 * const score: ScoreArgs = args;
 * assert.deepEqual([score.inputs, score.failUnder, score.color, score.format], [["-"], 80, true, undefined]);
 * ```
 */
export interface ScoreArgs {
  /** The command. */
  command: "score";
  /** The sources, pooled into one score: files, `-` (standard input), `redis://…` URLs. */
  inputs: string[];
  /** The report format; `undefined` when not given (inferred from `out`, else text). */
  format: ReportFormat | undefined;
  /** The field of the per-group rows, if rows were asked for (`--by-name` is `name`). */
  groupBy: RowKey | undefined;
  /** Where to write the report instead of standard output. */
  out: string | undefined;
  /** A JSON file of scoring settings. */
  config: string | undefined;
  /** Exit with the gate code when the score is below this. */
  failUnder: number | undefined;
  /** Fail when more than this fraction of the entries is skipped as malformed. */
  maxSkipped: number;
  /** Workers that parse large NDJSON files; `undefined` to choose by size and cores. */
  workers: number | undefined;
  /** Whether to colour the text report. */
  color: boolean;
  /** Whether to print nothing but the report and errors (no progress, no notes). */
  quiet: boolean;
}

/**
 * What `pss compare` was asked to do.
 *
 * @example
 * ```ts
 * import { type CompareArgs, parseCliArgs } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * const args = parseCliArgs(["compare", "base.ndjson", "head.ndjson", "--max-drop", "5"]);
 * assert.equal(args.command, "compare");
 * const compare: CompareArgs = args;
 * assert.deepEqual([compare.base, compare.head, compare.maxDrop, compare.minTraces], ["base.ndjson", "head.ndjson", 5, undefined]);
 * ```
 */
export interface CompareArgs {
  /** The command. */
  command: "compare";
  /** The baseline source. */
  base: string;
  /** The source compared with it. */
  head: string;
  /** `text` or `json`; `undefined` when not given (inferred from `out`, else text). */
  format: "text" | "json" | undefined;
  /** The field of the compared rows. */
  groupBy: RowKey;
  /** Exit with the gate code when the score, or a row's, dropped more than this many points. */
  maxDrop: number | undefined;
  /**
   * Rows with fewer traces than this (in base or head) are shown but never
   * fail the gate; `undefined` when not given: 30 for traces, and every
   * scored benchmark for two benchmark stability files.
   */
  minTraces: number | undefined;
  /** Where to write the comparison instead of standard output. */
  out: string | undefined;
  /** A JSON file of scoring settings, used for both sides. */
  config: string | undefined;
  /** Fail when more than this fraction of either side's entries is skipped. */
  maxSkipped: number;
  /** Workers that parse large NDJSON files; `undefined` to choose by size and cores. */
  workers: number | undefined;
  /** Whether to colour the text output. */
  color: boolean;
  /** Whether to print nothing but the comparison and errors. */
  quiet: boolean;
}

/**
 * A request for help, for `pss help`, `pss --help` and `pss score --help`.
 *
 * @example
 * ```ts
 * import { type HelpArgs, parseCliArgs } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * const args = parseCliArgs(["score", "--help"]);
 * assert.equal(args.command, "help");
 * const help: HelpArgs = args;
 * assert.equal(help.topic, "score");
 * ```
 */
export interface HelpArgs {
  /** The command. */
  command: "help";
  /** The command help was asked about, if any. */
  topic: "score" | "compare" | undefined;
}

/**
 * The parsed command line.
 *
 * @example
 * ```ts
 * import { type CliArgs, parseCliArgs } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * const args: CliArgs = parseCliArgs(["score", "traces.ndjson", "--by-name"]);
 * assert.equal(args.command, "score");
 * assert.deepEqual([args.inputs, args.groupBy], [["traces.ndjson"], "name"]);
 * ```
 */
export type CliArgs = ScoreArgs | CompareArgs | HelpArgs;

/**
 * A command line the CLI cannot understand; the CLI prints the message and
 * the usage, and exits with code 2.
 *
 * @example
 * ```ts
 * import { parseCliArgs, UsageError } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * assert.throws(() => parseCliArgs(["score"]), UsageError);
 * assert.throws(() => parseCliArgs(["score"]), /missing the input/);
 * ```
 */
export class UsageError extends Error {
  /**
   * Creates the error.
   *
   * @param message What is wrong with the command line.
   */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

const FORMATS: readonly ReportFormat[] = ["text", "json", "html"];
const ROW_KEYS: readonly RowKey[] = ["name", "module", "host", "pid"];

/** Options of each command; `true` marks those that take a value. */
const COMMON_OPTIONS: Readonly<Record<string, boolean>> = {
  "format": true,
  "group-by": true,
  "out": true,
  "config": true,
  "max-skipped": true,
  "workers": true,
  "color": false,
  "quiet": false,
  "help": false,
};

const SCORE_OPTIONS: Readonly<Record<string, boolean>> = {
  ...COMMON_OPTIONS,
  "by-name": false,
  "fail-under": true,
};

const COMPARE_OPTIONS: Readonly<Record<string, boolean>> = {
  ...COMMON_OPTIONS,
  "max-drop": true,
  "min-traces": true,
};

const SHORT: Readonly<Record<string, string>> = {
  f: "format",
  o: "out",
  c: "config",
  h: "help",
  q: "quiet",
};

/**
 * Parses the arguments after the program name.
 *
 * Options may come before or after the inputs (`--format json` or
 * `--format=json`); `--` ends the options; `-` is the standard input.
 *
 * @param args The arguments, as `Deno.args` or `process.argv.slice(2)`.
 * @returns The command and its settings.
 * @throws {UsageError} For a missing or unknown command or option, a
 * missing or invalid value, or a missing or extra input.
 *
 * @example
 * ```ts
 * import { parseCliArgs } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * const args = parseCliArgs(["score", "a.ndjson", "b.json.gz", "--format=json", "--by-name"]);
 * assert.equal(args.command, "score");
 * assert.deepEqual([args.inputs, args.format, args.groupBy], [["a.ndjson", "b.json.gz"], "json", "name"]);
 * ```
 */
export function parseCliArgs(args: readonly string[]): CliArgs {
  const [command, ...rest] = args;
  if (command === undefined) {
    throw new UsageError("missing the command: score, compare or agent");
  }
  if (command === "help" || command === "--help" || command === "-h") {
    const topic = rest[0] === "score" || rest[0] === "compare"
      ? rest[0]
      : undefined;
    return { command: "help", topic };
  }
  if (command === "score") return parseScore(rest);
  if (command === "compare") return parseCompare(rest);
  throw new UsageError(
    command.startsWith("-")
      ? `unknown option before the command: ${command}`
      : `unknown command: ${command} (the commands are score, compare and agent)`,
  );
}

function parseOptions(
  args: readonly string[],
  known: Readonly<Record<string, boolean>>,
): { values: Map<string, string | true>; positionals: string[] } {
  const values = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-" || !arg.startsWith("-")) {
      positionals.push(arg);
      continue;
    }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq < 0 ? undefined : arg.slice(eq + 1);
    } else {
      const long = SHORT[arg.slice(1, 2)];
      if (long === undefined) throw new UsageError(`unknown option: ${arg}`);
      name = long;
      inline = arg.length > 2 ? arg.slice(2) : undefined;
    }
    if (!Object.hasOwn(known, name)) {
      throw new UsageError(`unknown option: ${arg}`);
    }
    if (!known[name]) {
      if (inline !== undefined) {
        throw new UsageError(`option --${name} takes no value: ${arg}`);
      }
      values.set(name, true);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      value = args[i + 1];
      if (value === undefined) {
        throw new UsageError(`option --${name} needs a value`);
      }
      i++;
    }
    values.set(name, value);
  }
  return { values, positionals };
}

function numberOption(
  values: Map<string, string | true>,
  name: string,
  low: number,
  high: number,
  what: string,
  integer = false,
): number | undefined {
  const text = values.get(name) as string | undefined;
  if (text === undefined) return undefined;
  const value = text.trim() === "" ? NaN : Number(text);
  if (
    !Number.isFinite(value) || value < low || value > high ||
    (integer && !Number.isInteger(value))
  ) {
    throw new UsageError(`option --${name} must be ${what}: got ${text}`);
  }
  return value;
}

function rowKeyOption(
  values: Map<string, string | true>,
): RowKey | undefined {
  const text = values.get("group-by") as string | undefined;
  if (text === undefined) return undefined;
  if (!ROW_KEYS.includes(text as RowKey)) {
    throw new UsageError(
      `option --group-by must be name, module, host or pid: got ${text}`,
    );
  }
  return text as RowKey;
}

/** The options of {@linkcode COMMON_OPTIONS} that mean the same to every command. */
function commonArgs(
  values: Map<string, string | true>,
): Pick<
  CompareArgs,
  "out" | "config" | "maxSkipped" | "workers" | "color" | "quiet"
> {
  return {
    out: values.get("out") as string | undefined,
    config: values.get("config") as string | undefined,
    maxSkipped: numberOption(
      values,
      "max-skipped",
      0,
      1,
      "a fraction from 0 to 1",
    ) ?? 0.5,
    workers: numberOption(
      values,
      "workers",
      0,
      64,
      "an integer from 0 to 64",
      true,
    ),
    color: values.has("color"),
    quiet: values.has("quiet"),
  };
}

function parseScore(args: readonly string[]): CliArgs {
  const { values, positionals } = parseOptions(args, SCORE_OPTIONS);
  if (values.has("help")) return { command: "help", topic: "score" };
  if (positionals.length === 0) {
    throw new UsageError(
      "missing the input: give a trace file, a redis:// URL, or - for standard input",
    );
  }
  if (positionals.filter((p) => p === "-").length > 1) {
    throw new UsageError("standard input (-) can be read only once");
  }
  const format = values.get("format") as string | undefined;
  if (format !== undefined && !FORMATS.includes(format as ReportFormat)) {
    throw new UsageError(
      `option --format must be text, json or html: got ${format}`,
    );
  }
  let groupBy = rowKeyOption(values);
  if (values.has("by-name")) {
    if (groupBy !== undefined && groupBy !== "name") {
      throw new UsageError(
        `--by-name and --group-by ${groupBy} cannot be given together`,
      );
    }
    groupBy = "name";
  }
  return {
    command: "score",
    inputs: positionals,
    format: format as ReportFormat | undefined,
    groupBy,
    failUnder: numberOption(
      values,
      "fail-under",
      0,
      100,
      "a number from 0 to 100",
    ),
    ...commonArgs(values),
  };
}

function parseCompare(args: readonly string[]): CliArgs {
  const { values, positionals } = parseOptions(args, COMPARE_OPTIONS);
  if (values.has("help")) return { command: "help", topic: "compare" };
  if (positionals.length !== 2) {
    throw new UsageError(
      `compare needs two inputs, the base and the head: got ${positionals.length}`,
    );
  }
  if (positionals[0] === "-" && positionals[1] === "-") {
    throw new UsageError("standard input (-) can be read only once");
  }
  const format = values.get("format") as string | undefined;
  if (format !== undefined && format !== "text" && format !== "json") {
    throw new UsageError(
      `option --format of compare must be text or json: got ${format}`,
    );
  }
  return {
    command: "compare",
    base: positionals[0],
    head: positionals[1],
    format: format as "text" | "json" | undefined,
    groupBy: rowKeyOption(values) ?? "name",
    maxDrop: numberOption(values, "max-drop", 0, 100, "a number from 0 to 100"),
    minTraces: numberOption(
      values,
      "min-traces",
      1,
      Number.MAX_SAFE_INTEGER,
      "a positive integer",
      true,
    ),
    ...commonArgs(values),
  };
}

const EXIT_TABLE = `Exit codes:
  0  ok
  1  bad input: unreadable, empty, nothing usable, more than --max-skipped
     of the entries malformed, or invalid settings
  2  usage error
  3  gate failed: score below --fail-under, or a drop over --max-drop
`;

const SOURCES = `Sources: an NDJSON file, a pypss JSON document ([...] or
{"traces": [...]}), either gzip-compressed or not; - for standard input;
redis://host:port/db?key=NAME for a Redis list or stream (&mode=list or
&mode=stream to choose; told from the key's type otherwise); or, alone, a
pss agent's URL (http://host:port: its scores by name; PSS_AGENT_TOKEN is
sent as the bearer token).
`;

/**
 * The usage text of the CLI, or of one command.
 *
 * @param topic The command to explain; everything when omitted.
 * @returns The text, ending with a newline.
 *
 * @example
 * ```ts
 * import { usage } from "@pss/pss/cli";
 * import assert from "node:assert/strict";
 * assert.equal(usage().split("\n")[0], "Usage: pss <command> [options]");
 * ```
 */
export function usage(topic?: "score" | "compare"): string {
  const score = `Usage: pss score <source>... [options]

Scores traces (pypss's wire format) from one or more sources, pooled into
one score, and prints a stability report.

${SOURCES}
Options:
  -f, --format <text|json|html>  report format (default: text, or from --out's
                                 extension: .json, .html)
      --group-by <field>         add per-group rows: name, module, host or pid
      --by-name                  the same as --group-by name
  -o, --out <file>               write the report to <file> (directories are
                                 created) instead of standard output
  -c, --config <file>            JSON file of scoring settings (camelCase or
                                 pypss snake_case keys, e.g. {"w_ts": 0.4})
      --fail-under <N>           exit with code 3 when the score is below N
      --max-skipped <fraction>   exit with code 1 when more than this fraction
                                 of the entries is malformed (default: 0.5)
      --workers <N>              threads that parse an NDJSON file in parallel
                                 (default: one per core, at most 4, for files
                                 of 16 MiB or more; 0 reads on one thread)
      --color                    colour the text report (ANSI)
  -q, --quiet                    no progress and no notes on standard error
  -h, --help                     show this help
`;
  const compare = `Usage: pss compare <base> <head> [options]

Compares two sets of traces: the change of the score and of every pillar,
overall and per row, and the rows that appeared or vanished. Two benchmark
stability files (PSS_BENCH_JSON of @pss/pss/bench) compare per benchmark.

Options:
  -f, --format <text|json>       output format (default: text)
      --group-by <field>         rows by name (default), module, host or pid
      --max-drop <points>        exit with code 3 when the score, or a row with
                                 at least --min-traces traces on both sides,
                                 dropped by more than <points>
      --min-traces <N>           smallest row the gate judges (default: 30;
                                 for two benchmark stability files, every
                                 scored benchmark: 1 sample)
  -o, --out <file>               write to <file> instead of standard output
  -c, --config <file>            JSON file of scoring settings, for both sides
      --max-skipped <fraction>   as for score, for each side (default: 0.5)
      --workers <N>              as for score
      --color                    colour the text output (ANSI)
  -q, --quiet                    no progress and no notes on standard error
  -h, --help                     show this help
`;
  if (topic === "score") return `${score}\n${EXIT_TABLE}`;
  if (topic === "compare") return `${compare}\n${EXIT_TABLE}`;
  return `Usage: pss <command> [options]

Commands:
  score <source>...       score traces and print a report
  compare <base> <head>   compare two sets of traces; gate on a drop
  agent                   receive traces over Connect/gRPC and score them

Run 'pss <command> --help' for a command's options.

${SOURCES}
${EXIT_TABLE}`;
}
