/**
 * Test helpers for the real parts some tests drive (Chromium, python3-grpcio,
 * a tmpfs): find the part, or skip loudly, or fail when CI requires it.
 *
 * A test file calls `requirePart(...)` at load. When the part is missing it
 * prints a banner naming what to install and returns `false` (the file then
 * skips its tests), unless the part's `PSS_REQUIRE_*` variable is `1` (CI
 * sets them), in which case it throws and the file fails.
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";

/** What a test needs and how to get it. */
export interface Part {
  /** Shown in the banner: "Chromium", "python3-grpcio". */
  name: string;
  /** The variable that turns a skip into a failure: "PSS_REQUIRE_BROWSER". */
  requireEnv: string;
  /** How to install it: "apt-get install chromium". */
  installHint: string;
  /** Returns the part's path or handle, or a reason it is missing. */
  find(): { found: string } | { missing: string };
}

/**
 * Finds a part, or reports a loud skip (or throws under its `PSS_REQUIRE_*`).
 *
 * @returns What `find()` found, or `false` when the tests should skip.
 * @throws {Error} When the part is missing and its `requireEnv` is `1`.
 */
export function requirePart(part: Part): string | false {
  const result = part.find();
  if ("found" in result) return result.found;
  const reason = `${part.name} is not available (${result.missing}); ` +
    `to run these tests, ${part.installHint}`;
  if (process.env[part.requireEnv] === "1") {
    throw new Error(`${part.requireEnv}=1 but ${reason}`);
  }
  console.warn(
    `\n${"!".repeat(72)}\n!! SKIPPING ${part.name} tests. ${reason}\n${
      "!".repeat(72)
    }\n`,
  );
  return false;
}

/** Debian's Chromium, driven by playwright-core (`PSS_REQUIRE_BROWSER`). */
export const CHROMIUM: Part = {
  name: "Chromium",
  requireEnv: "PSS_REQUIRE_BROWSER",
  installHint: "`apt-get install chromium` (or set CHROMIUM_PATH)",
  find() {
    const candidates = [
      process.env.CHROMIUM_PATH,
      "/usr/bin/chromium",
      "/usr/bin/chromium-browser",
    ].filter((path): path is string => Boolean(path));
    const path = candidates.find((candidate) => existsSync(candidate));
    return path
      ? { found: path }
      : { missing: `none of ${candidates.join(", ")}` };
  },
};

/** Debian's python3 with grpcio, a real non-JavaScript gRPC client (`PSS_REQUIRE_GRPC`). */
export const PYTHON_GRPC: Part = {
  name: "python3-grpcio",
  requireEnv: "PSS_REQUIRE_GRPC",
  installHint: "`apt-get install python3-grpcio` (used as /usr/bin/python3)",
  find() {
    const python = process.env.PSS_GRPC_PYTHON || "/usr/bin/python3";
    const probe = spawnSync(python, ["-c", "import grpc"], {
      encoding: "utf8",
    });
    if (probe.error) return { missing: `${python}: ${probe.error.message}` };
    if (probe.status !== 0) return { missing: `${python} cannot import grpc` };
    return { found: python };
  },
};

/**
 * The launch options for headless Chromium on this kind of machine: as root
 * it needs `--no-sandbox`, and with no network the background services only
 * produce refused connections.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
