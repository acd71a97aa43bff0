import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BatchCollector,
  type BatchCollectorStats,
  type BatchOptions,
} from "../../src/collect/batch.ts";
import {
  PermanentExportError,
  type TraceExporter,
} from "../../src/collect/exporter.ts";
import { MemoryCollector } from "../../src/collect/memory.ts";
import { runtime } from "../../src/runtime/adapter.ts";
import { PssConfigError } from "../../src/score/config.ts";
import type { Trace } from "../../src/trace.ts";
import { readTraces } from "../../src/collect/read.ts";
import { spawnRuntime, tempDir } from "../fixtures/spawn.ts";
import { createClient } from "redis";
import {
  privateRedisServers,
  requireRedis,
  requireRedisServer,
  uniqueKey,
} from "../_redis.ts";

const skipServer = (await requireRedis()) || requireRedisServer();

/** What the destination does with the next export. */
type Behaviour = "accept" | "fail" | "denied" | "hang" | "permanent";

/**
 * An exporter whose destination is an array; each export follows the next
 * scripted behaviour (then "accept").
 */
class ArrayExporter implements TraceExporter {
  readonly received: Trace[] = [];
  readonly batches: number[] = [];
  script: Behaviour[] = [];
  always: Behaviour | undefined;
  calls = 0;
  /** Set while an export waits on `release`. */
  gate: Promise<void> | undefined;

  async export(batch: readonly Trace[]): Promise<void> {
    this.calls++;
    const behaviour = this.always ?? this.script.shift() ?? "accept";
    if (behaviour === "hang") return new Promise<void>(() => {});
    if (behaviour === "fail") throw new Error(`refused ${batch.length}`);
    if (behaviour === "denied") {
      throw Object.assign(new Error("permission denied"), { code: "EACCES" });
    }
    if (behaviour === "permanent") {
      throw new PermanentExportError(`bad batch of ${batch.length}`);
    }
    if (this.gate !== undefined) await this.gate;
    this.batches.push(batch.length);
    this.received.push(...batch);
  }
}

/** A BatchCollector over an ArrayExporter (the engine is under test). */
class ArrayCollector extends BatchCollector {
  readonly exporter: ArrayExporter;

  constructor(options: BatchOptions = {}) {
    const exporter = new ArrayExporter();
    super({ flushOnExit: false, ...options, exporter }, "ArrayCollector");
    this.exporter = exporter;
  }
  get received(): Trace[] {
    return this.exporter.received;
  }
  get batches(): number[] {
    return this.exporter.batches;
  }
  get calls(): number {
    return this.exporter.calls;
  }
  set script(script: Behaviour[]) {
    this.exporter.script = script;
  }
  set always(behaviour: Behaviour | undefined) {
    this.exporter.always = behaviour;
  }
  set gate(gate: Promise<void> | undefined) {
    this.exporter.gate = gate;
  }
}

function accounted(stats: BatchCollectorStats): number {
  return stats.sent + stats.unconfirmed + stats.dropped.queueFull +
    stats.dropped.flushFailed + stats.dropped.closed + stats.queued +
    stats.inFlight;
}

function trace(i: number): Trace {
  return { name: "op", duration: 0.001, metadata: { i } };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(1);
}

describe("BatchCollector", () => {
  test("rejects a batchSize that is not a positive integer", () => {
    assert.throws(
      () => new ArrayCollector({ batchSize: 0 }),
      (error: unknown) =>
        error instanceof PssConfigError && error.field === "batchSize" &&
        error.message.includes(
          "ArrayCollector's 'batchSize' must be a positive integer: got 0",
        ),
    );
  });

  test("sends full batches in order without waiting for the timer", async () => {
    await using collector = new ArrayCollector({
      batchSize: 10,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 30; i++) collector.add(trace(i));
    assert.equal(collector.calls, 0, "add() must not export synchronously");
    await until(() => collector.received.length === 30);
    assert.deepEqual(collector.batches, [10, 10, 10]);
    assert.deepEqual(
      collector.received.map((t) => t.metadata?.i),
      Array.from({ length: 30 }, (_, i) => i),
    );
  });

  test("sends a partial batch when the flush interval passes", async () => {
    await using collector = new ArrayCollector({
      batchSize: 100,
      flushIntervalMs: 5,
    });
    collector.add(trace(0));
    await until(() => collector.received.length === 1);
    assert.equal(collector.stats().sent, 1);
  });

  test("drops and counts exactly the traces added to a full queue", async () => {
    await using collector = new ArrayCollector({
      maxQueueSize: 10,
      batchSize: 100,
      flushIntervalMs: 60_000,
      onError: () => {},
    });
    for (let i = 0; i < 25; i++) collector.add(trace(i));
    const stats = collector.stats();
    assert.equal(stats.queued, 10);
    assert.equal(stats.dropped.queueFull, 15);
    await collector.flush();
    assert.equal(collector.stats().sent, 10);
    assert.deepEqual(
      collector.received.map((t) => t.metadata?.i),
      Array.from({ length: 10 }, (_, i) => i),
    );
  });

  test("retries a failed batch and sends it when the destination recovers", async () => {
    await using collector = new ArrayCollector({
      batchSize: 5,
      maxRetries: 3,
      retryBaseMs: 1,
    });
    collector.script = ["fail", "fail"];
    for (let i = 0; i < 5; i++) collector.add(trace(i));
    await collector.flush();
    assert.equal(collector.calls, 3);
    assert.equal(collector.stats().sent, 5);
    assert.equal(collector.stats().dropped.flushFailed, 0);
    assert.equal(collector.stats().lastError, "refused 5");
  });

  test("gives up a batch after maxRetries, counts it and reports it", async () => {
    const errors: unknown[] = [];
    await using collector = new ArrayCollector({
      batchSize: 4,
      maxRetries: 2,
      retryBaseMs: 1,
      onError: (error) => errors.push(error),
    });
    collector.always = "fail";
    for (let i = 0; i < 4; i++) collector.add(trace(i));
    await collector.flush();
    assert.equal(collector.calls, 3, "one attempt and two retries");
    assert.equal(collector.stats().dropped.flushFailed, 4);
    assert.deepEqual(errors.map((e) => (e as Error).message), [
      "ArrayCollector could not export 4 traces (retrying): refused 4",
      "ArrayCollector gave up a batch of 4 traces: refused 4",
    ]);
  });

  test("waits with capped exponential backoff between retries", async () => {
    let gaveUp!: () => void;
    const givenUp = new Promise<void>((resolve) => gaveUp = resolve);
    await using collector = new ArrayCollector({
      batchSize: 1,
      maxRetries: 4,
      retryBaseMs: 20,
      retryMaxMs: 40,
      onError: (error) => {
        if (/gave up/.test(String(error))) gaveUp();
      },
    });
    collector.always = "fail";
    const started = performance.now();
    collector.add(trace(0)); // a full batch: exported without a flush()
    // Background retries run on unref'd timers; keep the loop alive here.
    const alive = setInterval(() => {}, 1000);
    await givenUp;
    clearInterval(alive);
    // Backoffs 20 + 40 + 40 + 40 (capped): at least 140 ms in total.
    assert.ok(performance.now() - started >= 135);
    assert.equal(collector.calls, 5);
  });

  test("by default keeps retrying in the background until the destination recovers", async () => {
    await using collector = new ArrayCollector({
      batchSize: 1,
      retryBaseMs: 1,
      retryMaxMs: 2,
      onError: () => {},
    });
    collector.script = Array.from({ length: 12 }, () => "fail" as const);
    collector.add(trace(0));
    await until(() => collector.stats().sent === 1);
    assert.equal(collector.calls, 13);
    assert.equal(collector.stats().dropped.flushFailed, 0);
  });

  test("a flush() on a dead destination resolves at closeTimeoutMs and keeps retrying; close() then gives up after 3 retries", async () => {
    const collector = new ArrayCollector({
      retryBaseMs: 1,
      retryMaxMs: 2,
      closeTimeoutMs: 100,
      onError: () => {},
    });
    collector.always = "fail";
    collector.add(trace(0));
    await collector.flush();
    assert.ok(collector.calls > 4, `${collector.calls} attempts`);
    assert.equal(collector.stats().inFlight, 1, "still being retried");
    const before = collector.calls;
    await collector.close();
    assert.ok(collector.calls - before <= 4, "close() retries at most 3 times");
    assert.equal(collector.stats().dropped.flushFailed, 1);
  });

  test("keeps added == sent + dropped + queued + in flight under random failures", async () => {
    let seed = 42;
    const random = (): number =>
      (seed = (seed * 16807) % 2147483647) / 2147483647;
    const collector = new ArrayCollector({
      maxQueueSize: 200,
      batchSize: 20,
      maxRetries: 1,
      retryBaseMs: 1,
      flushIntervalMs: 2,
      onError: () => {},
    });
    collector.script = Array.from(
      { length: 400 },
      () => random() < 0.4 ? "fail" : "accept",
    );
    let added = 0;
    for (let round = 0; round < 60; round++) {
      const burst = Math.floor(random() * 120);
      for (let i = 0; i < burst; i++) collector.add(trace(added++));
      const stats = collector.stats();
      assert.equal(stats.added, added);
      assert.equal(accounted(stats), added);
      await sleep(random() * 3);
    }
    await collector.close();
    for (let i = 0; i < 7; i++) collector.add(trace(added++));
    const stats = collector.stats();
    assert.equal(accounted(stats), added);
    assert.equal(stats.queued + stats.inFlight, 0);
    assert.equal(stats.dropped.closed, 7);
    assert.ok(stats.dropped.flushFailed > 0, "some batches must have failed");
    assert.ok(stats.dropped.queueFull > 0, "the queue must have overflowed");
    assert.equal(stats.sent, collector.received.length);
    const order = collector.received.map((t) => t.metadata?.i as number);
    assert.deepEqual(order, [...order].sort((a, b) => a - b));
  });

  test("flush() waits for an export already in flight", async () => {
    await using collector = new ArrayCollector({ batchSize: 5 });
    let release!: () => void;
    collector.gate = new Promise((resolve) => (release = resolve));
    for (let i = 0; i < 5; i++) collector.add(trace(i));
    await until(() => collector.calls === 1);
    assert.equal(collector.stats().inFlight, 5);
    let flushed = false;
    const flushing = collector.flush().then(() => (flushed = true));
    await sleep(20);
    assert.equal(flushed, false);
    release();
    await flushing;
    assert.equal(collector.received.length, 5);
  });

  test("close() is idempotent and flushes; add() after close is counted", async () => {
    const collector = new ArrayCollector({ flushIntervalMs: 60_000 });
    collector.add(trace(0));
    const first = collector.close();
    assert.equal(collector.close(), first);
    await first;
    assert.equal(collector.received.length, 1);
    collector.add(trace(1));
    assert.equal(collector.stats().dropped.closed, 1);
    assert.equal(collector.received.length, 1);
  });

  test("await using closes the collector at the end of the scope", async () => {
    let collector: ArrayCollector;
    {
      await using scoped = new ArrayCollector({ flushIntervalMs: 60_000 });
      collector = scoped;
      scoped.add(trace(0));
    }
    assert.equal(collector.received.length, 1);
    collector.add(trace(1));
    assert.equal(collector.stats().dropped.closed, 1);
  });

  test("a hung export never blocks add() and is abandoned after exportTimeoutMs", async () => {
    const errors: unknown[] = [];
    const collector = new ArrayCollector({
      batchSize: 10,
      maxQueueSize: 1000,
      maxRetries: 0,
      exportTimeoutMs: 30,
      onError: (error) => errors.push(error),
    });
    collector.script = ["hang"];
    for (let i = 0; i < 10; i++) collector.add(trace(i));
    await until(() => collector.calls === 1);
    for (let i = 10; i < 500; i++) collector.add(trace(i));
    assert.equal(collector.stats().queued, 490);
    await collector.flush();
    await collector.close();
    const stats = collector.stats();
    // The abandoned export may still store its batch: not counted dropped.
    assert.equal(stats.unconfirmed, 10);
    assert.equal(stats.dropped.flushFailed, 0);
    assert.equal(stats.sent, 490);
    assert.match(String(stats.lastError), /timed out after 30 ms/);
    assert.equal(accounted(stats), 500);
  });

  test("close() gives up the rest of the queue once a batch fails for good", async () => {
    const collector = new ArrayCollector({
      batchSize: 10,
      maxQueueSize: 1000,
      maxRetries: 1,
      retryBaseMs: 1,
      flushIntervalMs: 60_000,
      onError: () => {},
    });
    collector.always = "fail";
    for (let i = 0; i < 95; i++) collector.add(trace(i));
    await collector.close();
    assert.equal(collector.calls, 2, "only the first batch is tried");
    assert.equal(collector.stats().dropped.flushFailed, 95);
  });

  test("a hung exporter leaves the host's timer latency as with a plain collector", async () => {
    // Timer lateness while the host adds traces in bursts: once into a
    // MemoryCollector (baseline), once into a BatchCollector whose exports
    // all hang. The ratio of medians must stay small.
    async function lateness(add: (t: Trace) => void): Promise<number> {
      const samples: number[] = [];
      for (let tick = 0; tick < 60; tick++) {
        for (let i = 0; i < 2000; i++) add(trace(i));
        const start = performance.now();
        await sleep(1);
        samples.push(performance.now() - start);
      }
      samples.sort((a, b) => a - b);
      return samples[samples.length >> 1];
    }
    const memory = new MemoryCollector();
    const hung = new ArrayCollector({
      batchSize: 100,
      exportTimeoutMs: 60_000,
      onError: () => {},
    });
    hung.always = "hang";
    await lateness((t) => memory.add(t)); // warm up
    const baseline = await lateness((t) => memory.add(t));
    const withHung = await lateness((t) => hung.add(t));
    assert.ok(hung.stats().dropped.queueFull > 0, "the hung queue filled up");
    assert.ok(
      withHung <= baseline * 3 + 1,
      `median lateness ${withHung.toFixed(2)} ms vs baseline ${
        baseline.toFixed(2)
      } ms`,
    );
  });
});

describe("BatchCollector at process exit", () => {
  for (const runtime of ["deno", "bun"] as const) {
    test(`${runtime}: traces of a script that ends without close() arrive`, async () => {
      const dir = await tempDir();
      const path = `${dir}/exit.ndjson`;
      const result = await spawnRuntime(runtime, "exit_writer.ts", [
        path,
        "2500",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const reader = readTraces(path);
      const seen = new Set<unknown>();
      for await (const t of reader) seen.add(t.metadata?.seq);
      assert.equal(reader.stats.skipped, 0);
      assert.equal(seen.size, 2500);
    });

    test(`${runtime}: without flushOnExit the unref'd timer lets the script end, losing the partial batch`, async () => {
      const dir = await tempDir();
      const path = `${dir}/no-exit.ndjson`;
      const result = await spawnRuntime(runtime, "exit_writer.ts", [
        path,
        "2500",
        "no-exit-flush",
      ]);
      assert.equal(result.code, 0, result.stderr);
      const traces = await Array.fromAsync(readTraces(path));
      assert.equal(traces.length, 2000, "the two full batches of 1000");
    });
  }
});

describe("BatchCollector at process exit, the destination paused", {
  skip: skipServer,
}, () => {
  const startServer = privateRedisServers();
  const closeTimeoutMs = 1000;
  for (const runtime of ["deno", "bun"] as const) {
    test(`${runtime}: a script that ends without close() while Redis is paused exits within the close deadline; its counts add up and hold`, async () => {
      const server = await startServer();
      const key = uniqueKey("idle-paused");
      const result = await spawnRuntime(runtime, "paused_redis_writer.ts", [
        server.url,
        key,
        "2000",
        String(closeTimeoutMs),
        String(server.pid),
      ], { deadlineMs: 60_000 });
      server.resume(); // the script paused it
      assert.equal(result.hung, false, "the process never exited");
      assert.equal(result.code, 0, result.stderr);
      const { idleMs, stats } = JSON.parse(
        result.stdout.trim().split("\n").at(-1)!,
      ) as { idleMs: number; stats: BatchCollectorStats };
      const message = JSON.stringify({ idleMs, stats });
      // A hang detector as a ratio to the deadline (it took 40 s, four
      // export timeouts, before the idle flush kept close()'s deadline).
      assert.ok(idleMs < 5 * closeTimeoutMs, message);
      assert.equal(stats.added, 2000, message);
      assert.equal(stats.queued + stats.inFlight, 0, message);
      assert.equal(accounted(stats), 2000, message);
      assert.equal(stats.sent, 0, message); // paused before the first add
      // What was cut mid-export may land once Redis resumes; nothing else.
      const client = createClient({ url: server.url });
      await client.connect();
      await sleep(200);
      const stored = await client.lRange(key, 0, -1);
      client.destroy();
      assert.ok(stored.length <= stats.unconfirmed, message);
      assert.equal(new Set(stored).size, stored.length, message);
    });
  }
});

describe("BatchCollector maxExportBatchSize", () => {
  class Recording extends BatchCollector {
    readonly sizes: number[];
    constructor(options: BatchOptions) {
      const sizes: number[] = [];
      super({
        ...options,
        exporter: {
          export(batch) {
            sizes.push(batch.length);
            return Promise.resolve();
          },
        },
      });
      this.sizes = sizes;
    }
  }

  test("a backlog goes out in exports of up to maxExportBatchSize", async () => {
    await using collector = new Recording({
      batchSize: 10,
      maxExportBatchSize: 40,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 100; i++) collector.add({ name: "op" });
    await collector.flush();
    assert.deepEqual(collector.sizes, [40, 40, 20]);
    assert.equal(collector.stats().sent, 100);
  });

  test("without it, exports carry at most batchSize", async () => {
    await using collector = new Recording({
      batchSize: 10,
      flushIntervalMs: 60_000,
    });
    for (let i = 0; i < 25; i++) collector.add({ name: "op" });
    await collector.flush();
    assert.deepEqual(collector.sizes, [10, 10, 5]);
  });

  test("a maxExportBatchSize below batchSize is a configuration error", () => {
    assert.throws(
      () => new Recording({ batchSize: 10, maxExportBatchSize: 5 }),
      (error: unknown) =>
        error instanceof PssConfigError &&
        error.field === "maxExportBatchSize" &&
        /must be at least 'batchSize' \(10\): got 5/.test(error.message),
    );
  });
});

describe("BatchCollector observers", () => {
  test("see every queued trace, not dropped ones; a throwing observer goes to onError", async () => {
    const errors: unknown[] = [];
    await using collector = new ArrayCollector({
      maxQueueSize: 2,
      batchSize: 10,
      flushIntervalMs: 60_000,
      onError: (error) => errors.push(error),
    });
    const seen: unknown[] = [];
    const stop = collector.observe((t) => seen.push(t.metadata?.i));
    collector.observe(() => {
      throw new Error("observer bug");
    });
    collector.add(trace(1));
    collector.add(trace(2));
    collector.add(trace(3)); // the queue is full: dropped, not observed
    stop();
    await collector.flush();
    collector.add(trace(4));
    assert.deepEqual(seen, [1, 2]);
    assert.ok(errors.some((e) => String(e).includes("observer bug")));
    assert.equal(collector.stats().dropped.queueFull, 1);
  });
});

describe("BatchCollector lifetime", () => {
  const canCollect = runtime.collectGarbage();

  test(
    "a collector dropped without close() is garbage-collected, exit hook and all",
    { skip: canCollect ? false : "needs --expose-gc on Deno" },
    async () => {
      const heap = (): number => {
        runtime.collectGarbage();
        return process.memoryUsage().heapUsed;
      };
      const make = (): void => {
        // Each holds a 400 KB queue; 200 of them held would be 80 MB.
        for (let i = 0; i < 200; i++) {
          new ArrayCollector({ maxQueueSize: 50_000, flushOnExit: true });
        }
      };
      make();
      await sleep(20);
      const before = heap();
      make();
      await sleep(20);
      heap();
      await sleep(20);
      const grown = heap() - before;
      assert.ok(grown < 20_000_000, `heap grew ${grown} bytes`);
    },
  );
});

describe("BatchCollector deadlines and causes", () => {
  test("close() ends within closeTimeoutMs on a hung exporter, counting the running export unconfirmed and the queue failed", async () => {
    const collector = new ArrayCollector({
      batchSize: 10,
      exportTimeoutMs: 60_000,
      closeTimeoutMs: 200,
      flushIntervalMs: 60_000,
      onError: () => {},
    });
    collector.always = "hang";
    for (let i = 0; i < 35; i++) collector.add(trace(i));
    await until(() => collector.calls === 1);
    const started = performance.now();
    await collector.close();
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `close() took ${elapsed} ms`);
    const stats = collector.stats();
    assert.equal(stats.unconfirmed, 10, "the export still running");
    assert.equal(stats.dropped.flushFailed, 25, "never sent");
    assert.equal(stats.sent, 0);
    assert.equal(accounted(stats), 35);
  });

  test("the export's signal aborts when close() gives up on it", async () => {
    let signal: AbortSignal | undefined;
    const collector = new BatchCollector({
      exporter: {
        export(_batch, s) {
          signal = s;
          return new Promise(() => {});
        },
      },
      batchSize: 1,
      closeTimeoutMs: 50,
      onError: () => {},
      flushOnExit: false,
    });
    collector.add(trace(0));
    await until(() => signal !== undefined);
    assert.equal(signal?.aborted, false);
    await collector.close();
    assert.equal(signal?.aborted, true);
  });

  test("flush() resolves at closeTimeoutMs; what is left stays queued and is sent later", async () => {
    await using collector = new ArrayCollector({
      batchSize: 5,
      closeTimeoutMs: 100,
      exportTimeoutMs: 60_000,
      flushIntervalMs: 60_000,
    });
    let release!: () => void;
    collector.gate = new Promise((resolve) => release = resolve);
    for (let i = 0; i < 5; i++) collector.add(trace(i));
    await collector.flush();
    assert.equal(collector.stats().inFlight, 5);
    assert.equal(collector.stats().sent, 0);
    release();
    await until(() => collector.stats().sent === 5);
  });

  test("a PermanentExportError gives the batch up without retrying", async () => {
    await using collector = new ArrayCollector({
      batchSize: 3,
      retryBaseMs: 1,
      onError: () => {},
    });
    collector.script = ["permanent"];
    for (let i = 0; i < 6; i++) collector.add(trace(i));
    await collector.flush();
    assert.equal(collector.calls, 2);
    assert.equal(collector.stats().dropped.flushFailed, 3);
    assert.equal(collector.stats().sent, 3);
  });

  test("the first failure is reported at once; a full queue keeps the failure's cause in stats()", async () => {
    const errors: string[] = [];
    await using collector = new ArrayCollector({
      batchSize: 1,
      maxQueueSize: 5,
      retryBaseMs: 1000,
      flushIntervalMs: 60_000,
      onError: (error) => errors.push(String(error)),
    });
    collector.always = "fail";
    collector.add(trace(0));
    await until(() => errors.length > 0);
    assert.match(
      errors[0],
      /could not export 1 traces \(retrying\): refused 1/,
    );
    for (let i = 1; i < 20; i++) collector.add(trace(i));
    await sleep(5);
    const stats = collector.stats();
    assert.ok(stats.dropped.queueFull > 0);
    assert.equal(stats.lastError, "refused 1");
    assert.equal(stats.lastFailure?.message, "refused 1");
    assert.ok(Math.abs((stats.lastFailure?.at ?? 0) - Date.now()) < 5000);
    assert.ok(
      errors.some((e) => /queue is full .*exports failing: refused 1/.test(e)),
      errors.join("\n"),
    );
    collector.always = undefined;
  });

  test("the default warning prints each new cause at once, and a recovery", async () => {
    const lines: string[] = [];
    const warn = console.warn;
    console.warn = (line: string) => lines.push(line);
    try {
      const exporter = new ArrayExporter();
      await using collector = new BatchCollector({
        exporter,
        batchSize: 1,
        retryBaseMs: 1,
        flushOnExit: false,
      });
      exporter.script = ["fail", "permanent", "fail"];
      collector.add(trace(0));
      collector.add(trace(1));
      await collector.flush();
    } finally {
      console.warn = warn;
    }
    assert.ok(lines.some((l) => /refused 1/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /bad batch of 1/.test(l)), lines.join("\n"));
    assert.ok(
      lines.some((l) => /exports work again/.test(l)),
      lines.join("\n"),
    );
  });

  test("a retry that fails for a new cause is reported at once; the same cause is not repeated", async () => {
    const errors: string[] = [];
    await using collector = new ArrayCollector({
      batchSize: 1,
      retryBaseMs: 1,
      retryMaxMs: 1,
      flushIntervalMs: 60_000,
      onError: (error) => errors.push(String(error)),
    });
    collector.script = ["fail", "fail", "fail", "denied", "denied"];
    collector.add(trace(0));
    await collector.flush();
    assert.equal(collector.received.length, 1, "sent after the failures");
    const retrying = errors.filter((e) => /\(retrying\)/.test(e));
    assert.equal(retrying.length, 2, errors.join("\n"));
    assert.match(retrying[0], /refused 1/);
    assert.match(retrying[1], /permission denied/);
  });

  test("a close deadline keeps the destination's cause in lastFailure and reports the give-up under its own key", async () => {
    const lines: string[] = [];
    const warn = console.warn;
    console.warn = (line: string) => lines.push(String(line));
    try {
      const exporter = new ArrayExporter();
      const collector = new BatchCollector({
        exporter,
        batchSize: 1,
        retryBaseMs: 1,
        exportTimeoutMs: 60_000,
        closeTimeoutMs: 100,
        flushOnExit: false,
      });
      exporter.script = ["fail", "hang"];
      collector.add(trace(0));
      await until(() => exporter.calls === 2);
      await collector.close();
      const stats = collector.stats();
      assert.equal(stats.unconfirmed, 1);
      assert.equal(stats.lastFailure?.message, "refused 1");
      assert.equal(stats.lastError, "refused 1");
    } finally {
      console.warn = warn;
    }
    assert.ok(
      lines.some((l) => /could not export 1 traces \(retrying\)/.test(l)),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => /gave up a batch of 1 traces.*refused 1/.test(l)),
      lines.join("\n"),
    );
  });

  test("an unknown option is a PssConfigError naming the closest one", () => {
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => new ArrayCollector({ batchsize: 5 } as any),
      (error: unknown) =>
        error instanceof PssConfigError && error.field === "batchsize" &&
        /did you mean 'batchSize'/.test(error.message),
    );
  });
});
