import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const isBun = "Bun" in globalThis;
const script = fileURLToPath(new URL("./_heap_workload.ts", import.meta.url));
const exec = (globalThis as { process: { execPath: string } }).process
  .execPath;

describe("heap", () => {
  test("1,000,000 monitored calls into a bounded collector leave the heap flat", () => {
    const args = isBun
      ? [script, "1000000"]
      : ["run", "-A", "--v8-flags=--expose-gc", script, "1000000"];
    const output = execFileSync(exec, args, { encoding: "utf8" });
    const result = JSON.parse(output.trim().split("\n").at(-1)!);
    assert.equal(result.gc, true, "garbage collection must be available");
    assert.equal(result.kept, 10_000);
    // The ring is full before the first measurement: 1,000,000 more calls
    // must not grow the heap by more than a small constant.
    assert.ok(
      result.growthBytes < 1_000_000,
      `heap grew by ${result.growthBytes} bytes`,
    );
  });
});
