import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { FileFifoCollector } from "../../src/collect/fifo.ts";
import { readTraces } from "../../src/collect/read.ts";
import { PssConfigError } from "../../src/score/config.ts";
import { traceToJson } from "../../src/trace.ts";
import {
  type Runtime,
  spawnRuntime,
  startRuntime,
  tempDir,
} from "../fixtures/spawn.ts";

function isConfigError(field: string, pattern: RegExp) {
  return (error: unknown): boolean =>
    error instanceof PssConfigError && error.field === field &&
    pattern.test(error.message);
}

describe("FileFifoCollector", () => {
  test("writes each trace as one pypss NDJSON line", async () => {
    const path = `${await tempDir()}/one.ndjson`;
    const trace = { name: "op", duration: 0.25, branchTag: "hit" };
    {
      await using collector = new FileFifoCollector({ path });
      collector.add(trace);
    }
    assert.equal(
      await readFile(path, "utf8"),
      JSON.stringify(traceToJson(trace)) + "\n",
    );
  });

  test("writes non-ASCII text as UTF-8 (a lone surrogate escaped, as JSON.stringify does) in batches that outgrow the first buffer", async () => {
    const path = `${await tempDir()}/unicode.ndjson`;
    const names = ["café", "東京", "😀 emoji", "x".repeat(5000), "lone \uD800"];
    const traces = Array.from({ length: 600 }, (_, i) => ({
      name: names[i % names.length],
      duration: 0.001,
      metadata: { note: "ünïcode ✓" },
    }));
    {
      await using collector = new FileFifoCollector({ path, batchSize: 600 });
      for (const trace of traces) collector.add(trace);
    }
    const expected = traces.map((trace) =>
      JSON.stringify(traceToJson(trace)) + "\n"
    ).join("");
    assert.equal(await readFile(path, "utf8"), expected);
  });

  test("creates missing directories at construction", async () => {
    const path = `${await tempDir()}/a/b/c/traces.ndjson`;
    const collector = new FileFifoCollector({ path });
    assert.equal((await stat(path)).size, 0);
    await collector.close();
  });

  test("throws a PssConfigError at construction for a path under a file", async () => {
    const file = `${await tempDir()}/file.txt`;
    await writeFile(file, "x");
    assert.throws(
      () => new FileFifoCollector({ path: `${file}/sub.ndjson` }),
      isConfigError(
        "path",
        /FileFifoCollector cannot append to 'path' \(.*\): got ".*file\.txt\/sub\.ndjson"$/,
      ),
    );
  });

  test("throws a PssConfigError at construction for a path in /proc", () => {
    assert.throws(
      () => new FileFifoCollector({ path: "/proc/pss-test.ndjson" }),
      isConfigError("path", /cannot append to 'path'/),
    );
  });

  test("throws a PssConfigError at construction for a directory", async () => {
    const dir = await tempDir();
    assert.throws(
      () => new FileFifoCollector({ path: dir }),
      isConfigError("path", /cannot append to 'path'/),
    );
  });

  test("Deno without --allow-write: the constructor throws Deno's NotCapable naming the flag, not a configuration error", async () => {
    const dir = await tempDir();
    const permissions = [
      ["--allow-read", "--allow-env"],
      // With write access to the directory, the same path is fine.
      ["--allow-read", `--allow-write=${dir}`, "--allow-env"],
    ];
    const [denied, allowed] = await Promise.all(
      permissions.map(async (denoPermissions) => {
        const running = startRuntime("deno", "fifo_permission.ts", [
          `${dir}/traces.ndjson`,
        ], { denoPermissions });
        const result = await running.done;
        assert.equal(result.code, 0, result.stderr);
        return JSON.parse(result.stdout);
      }),
    );
    assert.equal(denied.thrown, true);
    assert.equal(denied.config, false, denied.message);
    assert.equal(denied.notCapable, true, denied.message);
    assert.match(
      denied.message,
      /^FileFifoCollector needs read and write access to '.*traces\.ndjson': run Deno with --allow-write \(it said: Requires write access/,
    );
    assert.deepEqual(allowed, { thrown: false });
  });

  test("rejects an empty path", () => {
    assert.throws(
      () => new FileFifoCollector({ path: "" }),
      isConfigError("path", /'path' must be a non-empty string or a URL/),
    );
  });

  test("a full disk (/dev/full) gives batches up, counted, without throwing", async () => {
    const errors: unknown[] = [];
    const collector = new FileFifoCollector({
      path: "/dev/full",
      batchSize: 10,
      maxExportBatchSize: 10,
      maxRetries: 1,
      retryBaseMs: 1,
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 25; i++) collector.add({ name: "lost" });
    await collector.flush();
    await collector.close();
    const stats = collector.stats();
    assert.equal(stats.sent, 0);
    assert.equal(stats.dropped.flushFailed, 25);
    assert.match(String(stats.lastError), /No space|ENOSPC/i);
    assert.equal(
      errors.filter((e) => /gave up/.test(String(e))).length,
      3,
      "one report per batch given up",
    );
  });

  test("follows the path when the file is rotated (renamed) under it", async () => {
    const dir = await tempDir();
    const path = `${dir}/rotated.ndjson`;
    await using collector = new FileFifoCollector({ path, batchSize: 10 });
    for (let seq = 0; seq < 10; seq++) collector.add({ name: "before" });
    await collector.flush();
    await rename(path, `${dir}/rotated.ndjson.1`);
    for (let seq = 0; seq < 10; seq++) collector.add({ name: "after" });
    await collector.flush();
    const old = await Array.fromAsync(readTraces(`${dir}/rotated.ndjson.1`));
    const current = await Array.fromAsync(readTraces(path));
    assert.deepEqual(old.map((t) => t.name), Array(10).fill("before"));
    assert.deepEqual(current.map((t) => t.name), Array(10).fill("after"));
  });

  test("recreates the file when it is deleted under it", async () => {
    const path = `${await tempDir()}/deleted.ndjson`;
    await using collector = new FileFifoCollector({ path, batchSize: 5 });
    for (let seq = 0; seq < 5; seq++) collector.add({ name: "lost-with-file" });
    await collector.flush();
    await unlink(path);
    for (let seq = 0; seq < 5; seq++) collector.add({ name: "kept" });
    await collector.flush();
    const traces = await Array.fromAsync(readTraces(path));
    assert.deepEqual(traces.map((t) => t.name), Array(5).fill("kept"));
    assert.equal(collector.stats().dropped.flushFailed, 0);
  });

  test("a trace with unserialisable metadata does not cost its batch", async () => {
    const path = `${await tempDir()}/bigint.ndjson`;
    const collector = new FileFifoCollector({ path, batchSize: 100 });
    for (let seq = 0; seq < 99; seq++) {
      collector.add({ name: "op", metadata: { seq } });
    }
    collector.add({ name: "odd", metadata: { id: 10n } });
    await collector.close();
    assert.equal(collector.stats().sent, 100);
    assert.equal(collector.stats().dropped.flushFailed, 0);
    const traces = await Array.fromAsync(readTraces(path));
    assert.equal(traces.length, 100);
    assert.equal(
      typeof traces[99].metadata?.pss_unserializable_metadata,
      "string",
    );
  });

  test("close() writes all 50,000 queued traces", async () => {
    const path = `${await tempDir()}/shutdown.ndjson`;
    const collector = new FileFifoCollector({
      path,
      maxQueueSize: 50_000,
      batchSize: 500,
    });
    for (let seq = 0; seq < 50_000; seq++) {
      collector.add({ name: "op", duration: 0.001, metadata: { seq } });
    }
    await collector.close();
    const reader = readTraces(path);
    let expected = 0;
    for await (const trace of reader) {
      assert.equal(trace.metadata?.seq, expected++);
    }
    assert.equal(expected, 50_000);
    assert.deepEqual(reader.stats, { read: 50_000, skipped: 0 });
    assert.equal(collector.stats().sent, 50_000);
  });

  test("traces() flushes first and reads the file back", async () => {
    const path = `${await tempDir()}/read.ndjson`;
    await using collector = new FileFifoCollector({ path });
    collector.add({ name: "a", duration: 0.1 });
    collector.add({ name: "b", duration: 0.2 });
    const traces = await collector.traces();
    assert.deepEqual(traces.map((t) => t.name), ["a", "b"]);
  });

  test("traces() skips malformed lines written by others", async () => {
    const path = `${await tempDir()}/mixed.ndjson`;
    await writeFile(path, '{"name":"x"}\n{broken\n');
    await using collector = new FileFifoCollector({ path });
    collector.add({ name: "y" });
    const skipped: string[] = [];
    const reader = readTraces(collector, {
      onSkip: (position) => skipped.push(position),
    });
    await collector.flush();
    const names = (await Array.fromAsync(reader)).map((t) => t.name);
    assert.deepEqual(names, ["x", "y"]);
    assert.deepEqual(skipped, ["line 2"]);
    assert.deepEqual((await collector.traces()).map((t) => t.name), [
      "x",
      "y",
    ]);
  });

  test("clear() empties the file, and later traces append from the start", async () => {
    const path = `${await tempDir()}/clear.ndjson`;
    await using collector = new FileFifoCollector({ path });
    collector.add({ name: "old" });
    await collector.clear();
    assert.equal((await stat(path)).size, 0);
    collector.add({ name: "new" });
    assert.deepEqual((await collector.traces()).map((t) => t.name), ["new"]);
  });

  test("two collectors of one process share a file without tearing lines", async () => {
    const path = `${await tempDir()}/shared.ndjson`;
    const a = new FileFifoCollector({ path, batchSize: 50 });
    const b = new FileFifoCollector({ path, batchSize: 70 });
    for (let i = 0; i < 3000; i++) {
      a.add({ name: "a", metadata: { i } });
      b.add({ name: "b", metadata: { i } });
    }
    await Promise.all([a.close(), b.close()]);
    const reader = readTraces(path);
    const counts = { a: 0, b: 0 } as Record<string, number>;
    for await (const trace of reader) counts[trace.name]++;
    assert.deepEqual(counts, { a: 3000, b: 3000 });
    assert.equal(reader.stats.skipped, 0);
  });

  test("a named pipe receives the lines, read with readTraces", async () => {
    const path = `${await tempDir()}/pipe`;
    await new Promise<void>((resolve, reject) => {
      spawn("mkfifo", [path]).on("error", reject).on(
        "close",
        (code) => code === 0 ? resolve() : reject(new Error(`mkfifo ${code}`)),
      );
    });
    const collector = new FileFifoCollector({ path, batchSize: 10 });
    const reading = Array.fromAsync(readTraces(path));
    for (let seq = 0; seq < 100; seq++) {
      collector.add({ name: "piped", metadata: { seq } });
    }
    assert.deepEqual(await collector.traces(), []);
    await collector.close();
    const traces = await reading;
    assert.deepEqual(
      traces.map((t) => t.metadata?.seq),
      Array.from({ length: 100 }, (_, i) => i),
    );
  });
});

describe("FileFifoCollector across processes", () => {
  for (const holder of ["deno", "bun"] as const) {
    test(`waits while a ${holder} process holds the file's lock`, async () => {
      const path = `${await tempDir()}/locked.ndjson`;
      await using collector = new FileFifoCollector({ path });
      const running = startRuntime(holder, "lock_holder.ts", [path, "300"]);
      assert.equal(await running.waitFor("locked"), "locked (flock)");
      collector.add({ name: "mine" });
      let flushed = false;
      const flushing = collector.flush().then(() => (flushed = true));
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(flushed, false, "the write must wait for the lock");
      await flushing;
      assert.equal((await running.done).code, 0);
      assert.deepEqual((await collector.traces()).map((t) => t.name), [
        "holder",
        "mine",
      ]);
    });
  }

  test("8 processes (4 Deno, 4 Bun) × 25,000 traces: 200,000 whole lines, none lost", async () => {
    const path = `${await tempDir()}/contention.ndjson`;
    const perWriter = 25_000;
    const runtimes: Runtime[] = [
      "deno",
      "bun",
      "deno",
      "bun",
      "deno",
      "bun",
      "deno",
      "bun",
    ];
    // Big batches (about 100 KB per write) make torn or interleaved
    // writes visible if the lock did not hold.
    const batchSizes = [500, 700, 100, 1000, 300, 500, 1000, 250];
    const results = await Promise.all(
      runtimes.map((runtime, id) =>
        spawnRuntime(runtime, "fifo_writer.ts", [
          path,
          String(id),
          String(perWriter),
          String(batchSizes[id]),
        ])
      ),
    );
    for (const [id, result] of results.entries()) {
      assert.equal(result.code, 0, `writer ${id}: ${result.stderr}`);
    }
    const text = await readFile(path, "utf8");
    assert.ok(text.endsWith("\n"));
    const lines = text.slice(0, -1).split("\n");
    assert.equal(lines.length, 8 * perWriter);
    const seen = runtimes.map(() => new Uint8Array(perWriter));
    for (const line of lines) {
      const json = JSON.parse(line); // throws on a torn line
      const id = Number(String(json.name).slice("writer-".length));
      const seq = json.seq as number; // tags are top-level keys, as pypss writes them
      assert.equal(seen[id][seq], 0, `duplicate writer ${id} seq ${seq}`);
      seen[id][seq] = 1;
    }
    for (const [id, marks] of seen.entries()) {
      assert.equal(marks.indexOf(0), -1, `writer ${id} lost traces`);
    }
  });
});
