import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import { readTraces } from "../../src/collect/read.ts";
import {
  type Runtime,
  spawnRuntime,
  startRuntime,
  tempDir,
} from "../fixtures/spawn.ts";
import { redisUrl, requireRedis, uniqueKey } from "../_redis.ts";
import { flushOnSignals } from "../../src/collect/signals.ts";
import { PssConfigError } from "../../src/score/config.ts";

const skipRedis = await requireRedis();
const COUNT = 20_000;
const CODES = { SIGTERM: 143, SIGINT: 130 } as const;

/**
 * Starts the service, waits for its adds, signals it after `delayMs` (by
 * pid), and returns its exit code.
 */
async function stopService(
  runtime: Runtime,
  args: string[],
  signal: keyof typeof CODES,
  delayMs: number,
): Promise<number | null> {
  const running = startRuntime(runtime, "signal_writer.ts", args);
  const deadline = setTimeout(() => running.kill(), 60_000);
  try {
    await running.waitFor("added");
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    running.signal(signal);
    const result = await running.done;
    assert.equal(result.hung, false, "the service did not stop");
    return result.code;
  } finally {
    clearTimeout(deadline);
  }
}

describe("flushOnSignals", () => {
  test("rejects an unknown signal and an unknown option", () => {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => flushOnSignals([], { signals: ["SIGKILL" as any] }),
      PssConfigError,
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => flushOnSignals([], { timeout: 5 } as any),
      /did you mean 'timeoutMs'/,
    );
  });

  for (const runtime of ["deno", "bun"] as const) {
    test(`${runtime}: after dispose, a SIGTERM ends the process the default way, without flushing`, async () => {
      const path = `${await tempDir()}/disposed.ndjson`;
      const running = startRuntime(runtime, "signal_dispose.ts", [
        "dispose",
        path,
        "1000",
      ]);
      const deadline = setTimeout(() => running.kill(), 60_000);
      try {
        await running.waitFor("added");
        running.signal("SIGTERM");
        const result = await running.done;
        assert.equal(result.hung, false, "SIGTERM did not end the process");
        // Killed by the signal itself (no exit code), not the 143 of
        // flushOnSignals' exit after a flush.
        assert.equal(result.code, null, result.stderr);
        assert.equal(result.signal, "SIGTERM");
        const traces = await Array.fromAsync(readTraces(path));
        assert.equal(traces.length, 0, "the disposed handler flushed");
      } finally {
        clearTimeout(deadline);
      }
    });

    test(`${runtime}: the signal listeners do not keep the process alive`, async () => {
      const path = `${await tempDir()}/idle.ndjson`;
      const result = await spawnRuntime(runtime, "signal_dispose.ts", [
        "idle",
        path,
      ], { deadlineMs: 30_000 });
      assert.equal(result.hung, false, "the listeners kept the process alive");
      assert.equal(result.code, 0, result.stderr);
    });

    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      for (const delayMs of [0, 50]) {
        test(
          `${runtime}: ${signal} ${delayMs} ms after 20,000 adds: every trace reaches the file, exit ${
            CODES[signal]
          }`,
          async () => {
            const path = `${await tempDir()}/signal.ndjson`;
            const code = await stopService(
              runtime,
              ["file", path, String(COUNT)],
              signal,
              delayMs,
            );
            assert.equal(code, CODES[signal]);
            const reader = readTraces(path);
            const seen = new Set<unknown>();
            let lines = 0;
            for await (const t of reader) {
              lines++;
              seen.add(t.metadata?.seq);
            }
            assert.equal(reader.stats.skipped, 0);
            assert.equal(lines, COUNT, "every trace once: none lost or twice");
            assert.equal(seen.size, COUNT);
          },
        );

        test(
          `${runtime}: ${signal} ${delayMs} ms after 20,000 adds: every trace reaches Redis once, exit ${
            CODES[signal]
          }`,
          { skip: skipRedis },
          async () => {
            const key = uniqueKey("signal");
            const code = await stopService(
              runtime,
              ["redis", redisUrl(), String(COUNT), key],
              signal,
              delayMs,
            );
            assert.equal(code, CODES[signal]);
            const client = createClient({ url: redisUrl() });
            await client.connect();
            try {
              const stored = await client.lRange(key, 0, -1);
              const seqs = new Set(
                stored.map((s) => JSON.parse(s).seq),
              );
              assert.equal(stored.length, COUNT);
              assert.equal(seqs.size, COUNT);
            } finally {
              await client.del(key);
              client.destroy();
            }
          },
        );
      }
    }
  }
});
