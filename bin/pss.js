#!/usr/bin/env node
// The `pss` command for npx and bunx users. The CLI (src/cli/main.ts) runs
// on Bun and Deno: under Bun (`bunx --bun pss`, or `bun bin/pss.js`) it runs
// in this process; under Node (what `npx pss` starts) it runs the CLI with
// Bun, else Deno, found on the PATH (PSS_RUNTIME=bun|deno chooses), passing
// the arguments, the standard streams and the exit code through.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const main = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));

if (globalThis.Bun !== undefined || globalThis.Deno !== undefined) {
  const { runCli } = await import(main);
  const args = globalThis.Deno?.args ?? process.argv.slice(2);
  process.exitCode = await runCli(args);
} else {
  const wanted = process.env.PSS_RUNTIME;
  const candidates = wanted === "deno"
    ? [["deno", ["run", "-A", main]]]
    : wanted === "bun"
    ? [["bun", [main]]]
    : [["bun", [main]], ["deno", ["run", "-A", main]]];
  const attempt = (index) => {
    if (index >= candidates.length) {
      process.stderr.write(
        "pss: the pss CLI runs on Bun or Deno, and neither is on the PATH: install one (https://bun.sh, https://deno.com)\n",
      );
      process.exitCode = 1;
      return;
    }
    const [command, prefix] = candidates[index];
    const child = spawn(command, [...prefix, ...process.argv.slice(2)], {
      stdio: "inherit",
    });
    child.on("error", (error) => {
      if (error.code === "ENOENT") attempt(index + 1);
      else {
        process.stderr.write(
          `pss: cannot start ${command}: ${error.message}\n`,
        );
        process.exitCode = 1;
      }
    });
    child.on("exit", (code, signal) => {
      process.exitCode = code ?? (signal === null ? 1 : 128 + 2);
    });
  };
  attempt(0);
}
