/**
 * The `pss` command line: score an NDJSON trace file (pypss's wire format)
 * and print a text, JSON or HTML report. Runs on Deno and Bun:
 *
 * ```sh
 * deno run -A jsr:@pss/pss/cli score traces.ndjson --by-name
 * bun src/cli/main.ts score traces.ndjson --format json --fail-under 80
 * ```
 *
 * Exit codes: 0 ok, 1 unreadable input or invalid settings, 2 usage error,
 * 3 score below `--fail-under`. This module only parses arguments and
 * wires the library together: reading is `readTraces`, scoring
 * `computePss`, rendering `renderReportText`/`Json`/`Html`.
 *
 * @module
 */

import { parseCliArgs, type ScoreArgs, usage, UsageError } from "./args.ts";
import { runtime } from "../runtime/adapter.ts";
import type { CliIo } from "../runtime/types.ts";
import { readTraces, type TraceSource } from "../collect/read.ts";
import { splitLines } from "../collect/lines.ts";
import { computePss, computePssByName } from "../score/pss.ts";
import { type PssConfig, PssConfigError } from "../score/config.ts";
import { loadConfig } from "../config/load.ts";
import type { Trace } from "../trace.ts";
import { renderReportText } from "../report/text.ts";
import { renderReportJson } from "../report/json.ts";
import { renderReportHtml } from "../report/html.ts";
import { messageOf } from "../_message.ts";

export { parseCliArgs, usage, UsageError } from "./args.ts";
export type { CliArgs, HelpArgs, ReportFormat, ScoreArgs } from "./args.ts";
export type { CliIo } from "../runtime/types.ts";

/**
 * The exit codes of the CLI.
 *
 * @example
 * ```ts
 * import { EXIT_CODES } from "@pss/pss/cli";
 * console.log(EXIT_CODES.failUnder); // 3
 * ```
 */
export const EXIT_CODES: Readonly<{
  ok: 0;
  badInput: 1;
  usage: 2;
  failUnder: 3;
}> = Object.freeze({ ok: 0, badInput: 1, usage: 2, failUnder: 3 });

/** Skip reasons printed in full on standard error; the rest are counted. */
const MAX_SKIP_DETAILS = 5;

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
 * failure becomes a message on standard error and an exit code.
 *
 * @param args For example `["score", "traces.ndjson", "--format", "json"]`.
 * @param io Where to read and write; the current Deno or Bun process when
 * omitted.
 * @returns 0 ok, 1 unreadable input or invalid settings, 2 usage error, 3
 * score below `--fail-under`.
 *
 * @example Embed the CLI in a script
 * ```ts
 * import { runCli } from "@pss/pss/cli";
 * const path = await Deno.makeTempFile({ suffix: ".ndjson" });
 * await Deno.writeTextFile(path, '{"name":"op","duration":0.1}\n');
 * const code = await runCli(["score", path, "--format", "json"]);
 * console.log(code); // 0
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
      await io.stdout(usage());
      return EXIT_CODES.ok;
    }
    return await score(parsed, io);
  } catch (error) {
    try {
      if (error instanceof UsageError) {
        await io.stderr(
          `pss: ${error.message}\n${
            usage().split("\n")[0]
          }\nRun 'pss --help' for the options.\n`,
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

async function score(args: ScoreArgs, io: CliIo): Promise<number> {
  const config = args.config === undefined
    ? undefined
    : await readSettings(args.config);
  const format = args.format ?? formatFromPath(args.out) ?? "text";
  const inputName = args.input === "-" ? "standard input" : args.input;

  const skips: string[] = [];
  const reader = readTraces(args.input === "-" ? stdinSource(io) : args.input, {
    onSkip: (position, reason) => {
      if (skips.length < MAX_SKIP_DETAILS) skips.push(`${position}: ${reason}`);
    },
  });
  const traces: Trace[] = [];
  try {
    for await (const trace of reader) traces.push(slim(trace));
  } catch (error) {
    throw new CliFailure(
      EXIT_CODES.badInput,
      `cannot read traces from ${inputName}: ${describeIoError(error)}`,
    );
  }
  const { skipped } = reader.stats;
  if (skipped > 0) {
    const more = skipped > skips.length
      ? `\n  … and ${skipped - skips.length} more`
      : "";
    await io.stderr(
      `pss: skipped ${skipped} malformed ${
        skipped === 1 ? "line" : "lines"
      } in ${inputName}:\n  ${skips.join("\n  ")}${more}\n`,
    );
  }
  if (traces.length === 0) {
    await io.stderr(`pss: no traces in ${inputName}\n`);
  }

  const computed = computePss(traces, config);
  // Lines the reader rejected never reached computePss; count them with
  // the traces it rejected, so the report shows every malformed input.
  const report = { ...computed, skippedCount: computed.skippedCount + skipped };
  const byName = args.byName ? computePssByName(traces, config) : undefined;

  let output: string;
  switch (format) {
    case "json":
      output = renderReportJson(report, { byName }) + "\n";
      break;
    case "html":
      output = renderReportHtml(report, { byName, subtitle: inputName });
      break;
    default:
      output = renderReportText(report, { byName, color: args.color });
  }

  if (args.out === undefined) {
    await io.stdout(output);
  } else {
    try {
      await io.writeTextFile(args.out, output);
    } catch (error) {
      throw new CliFailure(
        EXIT_CODES.badInput,
        `cannot write the report to ${args.out}: ${describeIoError(error)}`,
      );
    }
    await io.stderr(`pss: wrote the ${format} report to ${args.out}\n`);
  }

  if (args.failUnder !== undefined && report.pss < args.failUnder) {
    await io.stderr(
      `pss: score ${report.pss} is below --fail-under ${args.failUnder}\n`,
    );
    return EXIT_CODES.failUnder;
  }
  return EXIT_CODES.ok;
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

/** Standard input as a trace source: NDJSON lines, bounded like files. */
function stdinSource(io: CliIo): TraceSource {
  return {
    async *readRawEntries() {
      for await (const line of splitLines(io.stdin())) {
        const position = `line ${line.number}`;
        yield line.overflow
          ? { text: line.text, position, skipReason: "line too long" }
          : { text: line.text, position };
      }
    },
  };
}

/**
 * Keeps only what scoring reads (docs/scoring.md, section 3), so a large file costs a
 * few numbers per trace rather than every string pypss writes.
 */
function slim(trace: Trace): Trace {
  const out: Trace = { name: trace.name };
  if (trace.systemMetric) {
    out.systemMetric = true;
    const metadata = trace.metadata;
    if (metadata !== undefined && Object.hasOwn(metadata, "lag")) {
      out.metadata = { lag: metadata.lag };
    }
    return out;
  }
  if (trace.duration !== undefined) out.duration = trace.duration;
  if (trace.memory !== undefined) out.memory = trace.memory;
  if (trace.waitTime !== undefined) out.waitTime = trace.waitTime;
  if (trace.error !== undefined) out.error = trace.error;
  if (trace.branchTag !== undefined) out.branchTag = trace.branchTag;
  return out;
}

/** A short, stack-free reason for a file-system error on Deno or Bun. */
function describeIoError(error: unknown): string {
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  if (name === "NotFound" || code === "ENOENT") return "no such file";
  if (
    name === "PermissionDenied" || code === "EACCES" || code === "EPERM"
  ) return "permission denied";
  if (name === "IsADirectory" || code === "EISDIR") return "is a directory";
  return messageOf(error);
}

function requireProcess(): NonNullable<typeof runtime.cli> {
  if (runtime.cli === undefined) {
    throw new Error("The pss CLI runs on Deno or Bun only");
  }
  return runtime.cli;
}

if (import.meta.main) {
  const process = requireProcess();
  process.exit(await runCli(process.args, process));
}
