/**
 * Runs the real CLI (src/cli/main.ts) as a subprocess under Deno or Bun, for
 * the CLI test files.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import process from "node:process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository's root folder. */
export const ROOT: string = fileURLToPath(new URL("../../", import.meta.url));
const ENTRY = join(ROOT, "src/cli/main.ts");

/** The command line that starts the CLI under each runtime. */
export const RUNTIMES = {
  deno: [join(ROOT, "node_modules/.bin/deno"), "run", "-A", ENTRY],
  bun: [join(ROOT, "node_modules/.bin/bun"), ENTRY],
} as const;

/** A runtime the CLI runs under. */
export type Runtime = keyof typeof RUNTIMES;

/** How one run of the CLI ended. */
export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args` (from the repository root), feeding `stdin`. */
export function run(
  runtime: Runtime,
  args: string[],
  stdin?: Uint8Array,
): Promise<Run> {
  const [command, ...prefix] = RUNTIMES[runtime];
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Uint8Array[] = [];
    const err: Uint8Array[] = [];
    child.stdout.on("data", (chunk: Uint8Array) => out.push(chunk));
    child.stderr.on("data", (chunk: Uint8Array) => err.push(chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      const text = (chunks: Uint8Array[]): string =>
        new TextDecoder().decode(Buffer.concat(chunks));
      resolve({ code, stdout: text(out), stderr: text(err) });
    });
    child.stdin.end(stdin);
  });
}
