import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  detectRuntime,
  loadRuntime,
  runtime,
} from "../../src/runtime/adapter.ts";

const expectedName = "Bun" in globalThis ? "bun" : "deno";

function burnCpu(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // Spin.
  }
}

describe("runtime adapter", () => {
  test("is chosen for the runtime the process runs on", () => {
    assert.equal(detectRuntime(), expectedName);
    assert.equal(runtime.name, expectedName);
  });

  test("reads the RSS as a positive whole number of bytes", () => {
    const rss = runtime.rssBytes();
    assert.ok(Number.isSafeInteger(rss) && rss! > 1_000_000, `rss ${rss}`);
  });

  test("reads the process CPU time, which grows with CPU work", () => {
    const before = runtime.cpuTimeSeconds();
    assert.equal(typeof before, "number");
    burnCpu(30);
    const after = runtime.cpuTimeSeconds()!;
    assert.ok(after > before!, `${before} -> ${after}`);
  });

  test("reads the heap in use as a positive number of bytes", () => {
    const heap = runtime.heapUsedBytes();
    assert.ok(heap! > 0, `heap ${heap}`);
  });

  test("gives an AsyncLocalStorage that follows await", async () => {
    const storage = runtime.createContextStorage<string>();
    assert.ok(storage !== undefined);
    const seen = await storage.run("chain-a", async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return storage.getStore();
    });
    assert.equal(seen, "chain-a");
    assert.equal(storage.getStore(), undefined);
  });

  test("collects garbage on Bun always, on Deno only with --expose-gc", () => {
    const exposed = typeof (globalThis as { gc?: unknown }).gc === "function";
    assert.equal(
      runtime.collectGarbage(),
      expectedName === "bun" || exposed,
    );
  });
});

describe("web adapter", () => {
  test("says it cannot measure anything instead of guessing", async () => {
    const web = await loadRuntime("web");
    assert.equal(web.name, "web");
    assert.equal(web.rssBytes(), undefined);
    assert.equal(web.cpuTimeSeconds(), undefined);
    assert.equal(web.heapUsedBytes(), undefined);
    assert.equal(web.createContextStorage(), undefined);
    assert.equal(web.collectGarbage(), false);
  });
});
