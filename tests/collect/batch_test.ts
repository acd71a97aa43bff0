import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BatchCollector,
  type BatchCollectorOptions,
  type BatchCollectorStats,
} from "../../src/collect/batch.ts";
import { MemoryCollector } from "../../src/collect/memory.ts";
import { runtime } from "../../src/runtime/adapter.ts";
import { PssConfigError } from "../../src/score/config.ts";
import type { Trace } from "../../src/trace.ts";
import { readTraces } from "../../src/collect/read.ts";
import { spawnRuntime, tempDir } from "../fixtures/spawn.ts";

/** What the destination does with the next export. */
type Behaviour = "accept" | "fail" | "hang";

/**
 * A real BatchCollector whose destination is an array; each export follows
 * the next scripted behaviour (then "accept"). The engine is under test.
 */
class ArrayCollector extends BatchCollector {
  readonly received: Trace[] = [];
  readonly batches: number[] = [];
  script: Behaviour[] = [];
  always: Behaviour | undefined;
  calls = 0;
  /** Set while an export waits on `release`. */
  gate: Promise<void> | undefined;

  constructor(options: BatchCollectorOptions = {}) {
    super({ flushOnExit: false, ...options }, "ArrayCollector");
  }

  protected override async flushBatch(batch: Trace[]): Promise<void> {
    this.calls++;
    const behaviour = this.always ?? this.script.shift() ?? "accept";
    if (behaviour === "hang") return new Promise<void>(() => {});
    if (behaviour === "fail") throw new Error(`refused ${batch.length}`);
    if (this.gate !== undefined) await this.gate;
    this.batches.push(batch.length);
    this.received.push(...batch);
  }

  override traces(): Promise<Trace[]> {
    return Promise.resolve([...this.received]);
  }

  override clear(): Promise<void> {
    this.received.length = 0;
    return Promise.resolve();
  }
}

function accounted(stats: BatchCollectorStats): number {
  return stats.sent + stats.dropped.queueFull + stats.dropped.flushFailed +
    stats.dropped.closed + stats.queued + stats.inFlight;
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
    assert.equal(errors.length, 1);
    assert.match(
      (errors[0] as Error).message,
      /^ArrayCollector gave up a batch of 4 traces: refused 4$/,
    );
  });

  test("waits with capped exponential backoff between retries", async () => {
    let gaveUp!: () => void;
    const givenUp = new Promise<void>((resolve) => gaveUp = resolve);
    await using collector = new ArrayCollector({
      batchSize: 1,
      maxRetries: 4,
      retryBaseMs: 20,
      retryMaxMs: 40,
      onError: () => gaveUp(),
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

  test("a flush() stops retrying after 3 retries, so it cannot hang on a dead destination", async () => {
    await using collector = new ArrayCollector({
      retryBaseMs: 1,
      retryMaxMs: 2,
      onError: () => {},
    });
    collector.always = "fail";
    collector.add(trace(0));
    await collector.flush();
    assert.equal(collector.calls, 4);
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
    assert.equal(stats.dropped.flushFailed, 10);
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

describe("BatchCollector maxExportBatchSize", () => {
  class Recording extends BatchCollector {
    sizes: number[] = [];
    protected override flushBatch(batch: Trace[]): Promise<void> {
      this.sizes.push(batch.length);
      return Promise.resolve();
    }
    traces(): Promise<Trace[]> {
      return Promise.resolve([]);
    }
    clear(): Promise<void> {
      return Promise.resolve();
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
