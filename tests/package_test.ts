import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { spawnRuntime } from "./fixtures/spawn.ts";

const root = new URL("../", import.meta.url);

async function json(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(new URL(name, root), "utf8"));
}

describe("the package", () => {
  test("package.json names the same package and subpaths as deno.json", async () => {
    const deno = await json("deno.json");
    const npm = await json("package.json");
    assert.equal(npm.name, deno.name);
    assert.deepEqual(npm.exports, deno.exports);
  });

  for (const runtime of ["deno", "bun"] as const) {
    test(`a recipe importing "@pss/pss" runs from the clone on ${runtime}`, async () => {
      const result = await spawnRuntime(runtime, "self_import.ts", [], {
        deadlineMs: 60_000,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "100 excellent 0.12\n");
    });
  }
});
