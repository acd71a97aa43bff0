/**
 * Command-line argument parsing for the `pss` CLI: a small, strict parser
 * (unknown options and missing values are usage errors) with no dependency.
 *
 * @module
 */

/**
 * The output formats of `pss score`.
 *
 * @example
 * ```ts
 * import { parseCliArgs, type ReportFormat } from "@pss/pss/cli";
 * const args = parseCliArgs(["score", "traces.ndjson", "-f", "html"]);
 * const format: ReportFormat = args.command === "score" ? args.format ?? "text" : "text";
 * console.log(format); // html
 * ```
 */
export type ReportFormat = "text" | "json" | "html";

/**
 * What `pss score` was asked to do.
 *
 * @example
 * ```ts
 * import { parseCliArgs, type ScoreArgs } from "@pss/pss/cli";
 * const args = parseCliArgs(["score", "-", "--fail-under", "80", "--color"]);
 * if (args.command === "score") {
 *   const score: ScoreArgs = args;
 *   console.log(score.input, score.failUnder, score.color, score.format); // - 80 true undefined
 * }
 * ```
 */
export interface ScoreArgs {
  /** The command. */
  command: "score";
  /** The NDJSON file to read, or `"-"` for standard input. */
  input: string;
  /** The report format; `undefined` when not given (inferred from `out`, else text). */
  format: ReportFormat | undefined;
  /** Whether to add the per-name table. */
  byName: boolean;
  /** Where to write the report instead of standard output. */
  out: string | undefined;
  /** A JSON file of scoring settings. */
  config: string | undefined;
  /** Exit with code 3 when the score is below this. */
  failUnder: number | undefined;
  /** Whether to colour the text report. */
  color: boolean;
}

/**
 * A request for help, for `pss help`, `pss --help` and `pss score --help`.
 *
 * @example
 * ```ts
 * import { type HelpArgs, parseCliArgs } from "@pss/pss/cli";
 * const args = parseCliArgs(["score", "--help"]);
 * if (args.command === "help") {
 *   const help: HelpArgs = args;
 *   console.log(help.topic); // score
 * }
 * ```
 */
export interface HelpArgs {
  /** The command. */
  command: "help";
  /** The command help was asked about, if any. */
  topic: "score" | undefined;
}

/**
 * The parsed command line.
 *
 * @example
 * ```ts
 * import { type CliArgs, parseCliArgs } from "@pss/pss/cli";
 * const args: CliArgs = parseCliArgs(["score", "traces.ndjson", "--by-name"]);
 * if (args.command === "score") console.log(args.input, args.byName); // traces.ndjson true
 * else console.log("help about", args.topic ?? "everything");
 * ```
 */
export type CliArgs = ScoreArgs | HelpArgs;

/**
 * A command line the CLI cannot understand; the CLI prints the message and
 * the usage, and exits with code 2.
 *
 * @example
 * ```ts
 * import { parseCliArgs, UsageError } from "@pss/pss/cli";
 * try {
 *   parseCliArgs(["score"]);
 * } catch (error) {
 *   if (error instanceof UsageError) console.log(error.message);
 * }
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

/** Options of `pss score`; `true` marks those that take a value. */
const SCORE_OPTIONS: Readonly<Record<string, boolean>> = {
  "format": true,
  "by-name": false,
  "out": true,
  "config": true,
  "fail-under": true,
  "color": false,
  "help": false,
};

const SHORT: Readonly<Record<string, string>> = {
  f: "format",
  o: "out",
  c: "config",
  h: "help",
};

/**
 * Parses the arguments after the program name.
 *
 * Options may come before or after the input (`--format json` or
 * `--format=json`); `--` ends the options; `-` is the standard input.
 *
 * @param args The arguments, as `Deno.args` or `process.argv.slice(2)`.
 * @returns The command and its settings.
 * @throws {UsageError} For an unknown command or option, a missing or
 * invalid value, or a missing or extra input.
 *
 * @example
 * ```ts
 * import { parseCliArgs } from "@pss/pss/cli";
 * const args = parseCliArgs(["score", "traces.ndjson", "--format=json", "--by-name"]);
 * console.log(args); // { command: "score", input: "traces.ndjson", format: "json", byName: true, … }
 * ```
 */
export function parseCliArgs(args: readonly string[]): CliArgs {
  const [command, ...rest] = args;
  if (
    command === undefined || command === "help" || command === "--help" ||
    command === "-h"
  ) {
    const topic = rest[0] === "score" ? "score" : undefined;
    return { command: "help", topic };
  }
  if (command !== "score") {
    throw new UsageError(
      command.startsWith("-")
        ? `unknown option before the command: ${command}`
        : `unknown command: ${command}`,
    );
  }
  return parseScore(rest);
}

function parseScore(args: readonly string[]): CliArgs {
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
    if (!Object.hasOwn(SCORE_OPTIONS, name)) {
      throw new UsageError(`unknown option: ${arg}`);
    }
    if (!SCORE_OPTIONS[name]) {
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
  if (values.has("help")) return { command: "help", topic: "score" };

  if (positionals.length === 0) {
    throw new UsageError(
      "missing the input: give an NDJSON file, or - for standard input",
    );
  }
  if (positionals.length > 1) {
    throw new UsageError(
      `expected one input, got ${positionals.length}: ${positionals.join(" ")}`,
    );
  }
  const format = values.get("format") as string | undefined;
  if (format !== undefined && !FORMATS.includes(format as ReportFormat)) {
    throw new UsageError(
      `option --format must be text, json or html: got ${format}`,
    );
  }
  const failUnderText = values.get("fail-under") as string | undefined;
  let failUnder: number | undefined;
  if (failUnderText !== undefined) {
    failUnder = failUnderText.trim() === "" ? NaN : Number(failUnderText);
    if (!Number.isFinite(failUnder) || failUnder < 0 || failUnder > 100) {
      throw new UsageError(
        `option --fail-under must be a number from 0 to 100: got ${failUnderText}`,
      );
    }
  }
  return {
    command: "score",
    input: positionals[0],
    format: format as ReportFormat | undefined,
    byName: values.has("by-name"),
    out: values.get("out") as string | undefined,
    config: values.get("config") as string | undefined,
    failUnder,
    color: values.has("color"),
  };
}

/**
 * The usage text of the CLI.
 *
 * @returns The text, ending with a newline.
 *
 * @example
 * ```ts
 * import { usage } from "@pss/pss/cli";
 * console.log(usage().split("\n")[0]); // "Usage: pss score <file.ndjson|-> [options]"
 * ```
 */
export function usage(): string {
  return `Usage: pss score <file.ndjson|-> [options]

Scores NDJSON traces (pypss's wire format, one trace per line; - reads
standard input) and prints a stability report.

Options:
  -f, --format <text|json|html>  report format (default: text, or from --out's
                                 extension: .json, .html)
      --by-name                  add a per-name table, worst first
  -o, --out <file>               write the report to <file> instead of stdout
  -c, --config <file>            JSON file of scoring settings (camelCase or
                                 pypss snake_case keys, e.g. {"w_ts": 0.4})
      --fail-under <N>           exit with code 3 when the score is below N
      --color                    colour the text report (ANSI)
  -h, --help                     show this help

Exit codes: 0 ok, 1 unreadable input or invalid settings, 2 usage error,
3 score below --fail-under.
`;
}
