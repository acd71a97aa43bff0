import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "redis";
import {
  DEFAULT_REDIS_KEY,
  RedisCollector,
  type RedisCollectorOptions,
} from "../../src/collect/redis.ts";
import { readTraces } from "../../src/collect/read.ts";
import { PssConfigError } from "../../src/score/config.ts";
import { type Trace, traceFromJson, traceToJson } from "../../src/trace.ts";
import { spawnRuntime } from "../fixtures/spawn.ts";
import {
  freePort,
  redisUrl,
  requireRedis,
  requireRedisServer,
  startPrivateRedis,
  startProxy,
  uniqueKey,
  waitFor,
} from "../_redis.ts";

const skipRedis = await requireRedis();
const skipServer = requireRedisServer();

type Raw = ReturnType<typeof createClient>;

/** An independent client, to look at what the collector stored. */
async function rawClient(url: string): Promise<Raw> {
  const client = createClient({ url });
  client.on("error", () => {});
  await client.connect();
  return client;
}

/** What a trace becomes after a trip through pypss JSON. */
function normalized(trace: Trace): Trace {
  return traceFromJson(JSON.parse(JSON.stringify(traceToJson(trace))))!;
}

function sampleTraces(count: number): Trace[] {
  return Array.from({ length: count }, (_, i) => ({
    traceId: `t${i}`,
    name: `op.${i % 7}`,
    module: "tests",
    duration: 0.001 * (i + 1),
    cpuTime: 0.0005 * i,
    memory: 1024 * i,
    error: i % 11 === 0,
    exceptionType: i % 11 === 0 ? "TypeError" : undefined,
    branchTag: i % 2 === 0 ? "even" : "odd",
    timestamp: 1_700_000_000 + i,
    asyncOp: i % 3 === 0,
    metadata: { seq: i, note: 'ü\n"quoted"' },
  }));
}

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

describe("RedisCollector configuration", () => {
  const invalid: [string, RedisCollectorOptions, string, string][] = [
    [
      "batchSize 0",
      { batchSize: 0 },
      "batchSize",
      "RedisCollector's 'batchSize' must be a positive integer: got 0",
    ],
    [
      "a URL that does not parse",
      { url: "not a url" },
      "url",
      `RedisCollector's 'url' must be a redis:// or rediss:// URL: got "not a url"`,
    ],
    [
      "an http URL",
      { url: "http://127.0.0.1:6379" },
      "url",
      "RedisCollector's 'url' must be a redis:// or rediss:// URL",
    ],
    [
      "an empty key",
      { key: "" },
      "key",
      `RedisCollector's 'key' must be a non-empty string: got ""`,
    ],
    [
      "an unknown mode",
      { mode: "queue" as "list" },
      "mode",
      `RedisCollector's 'mode' must be "list" or "stream": got "queue"`,
    ],
    [
      "maxLen 0",
      { maxLen: 0 },
      "maxLen",
      "RedisCollector's 'maxLen' must be a positive integer: got 0",
    ],
    [
      "readPageSize 1.5",
      { readPageSize: 1.5 },
      "readPageSize",
      "RedisCollector's 'readPageSize' must be a positive integer: got 1.5",
    ],
    [
      "a client that is not a node-redis client",
      { client: {} as RedisCollectorOptions["client"] },
      "client",
      "RedisCollector's 'client' must be a node-redis v5 client",
    ],
  ];
  for (const [label, options, field, message] of invalid) {
    test(`new RedisCollector() throws PssConfigError for ${label}`, () => {
      assert.throws(
        () => new RedisCollector(options),
        (error: unknown) => {
          assert.ok(error instanceof PssConfigError);
          assert.equal(error.field, field);
          assert.ok(
            error.message.includes(message),
            `${error.message} should include ${message}`,
          );
          return true;
        },
      );
    });
  }

  test("RedisCollector writes to pypss's default key when none is given", () => {
    assert.equal(DEFAULT_REDIS_KEY, "pypss:traces");
  });
});

describe("RedisCollector against an unreachable Redis", () => {
  const unreachable: [string, () => Promise<string>][] = [
    ["a refused port", async () => `redis://127.0.0.1:${await freePort()}`],
    ["an unknown host", () => Promise.resolve("redis://pss-no-host.invalid")],
  ];
  for (const [label, makeUrl] of unreachable) {
    test(`RedisCollector at ${label} never throws, reports the failure and counts the traces it gives up`, async () => {
      const url = await makeUrl();
      const errors: unknown[] = [];
      let collector: RedisCollector | undefined;
      assert.doesNotThrow(() => {
        collector = new RedisCollector({
          url,
          connectTimeoutMs: 1000,
          maxRetries: 1,
          retryBaseMs: 10,
          onError: (error) => errors.push(error),
        });
      });
      const c = collector!;
      await waitFor(() => errors.length > 0, "onError");
      for (let i = 0; i < 10; i++) c.add({ name: `lost.${i}` });
      await c.flush();
      c.add({ name: "late" });
      await c.close();
      const stats = c.stats();
      assert.equal(stats.connected, false);
      assert.equal(stats.added, 11);
      assert.equal(stats.sent, 0);
      assert.equal(stats.dropped.flushFailed, 11);
      assert.match(stats.lastError ?? "", /cannot reach Redis at redis:\/\//);
      assert.ok(errors[0] instanceof Error);
      assert.match((errors[0] as Error).message, /cannot reach Redis at/);
      assert.ok(
        errors.some((e) => /gave up a batch of 10 traces/.test(String(e))),
        `errors: ${errors.join("; ")}`,
      );
    });
  }

  test("RedisCollector.traces() rejects when Redis is unreachable", async () => {
    const collector = new RedisCollector({
      url: `redis://127.0.0.1:${await freePort()}`,
      onError: () => {},
    });
    await assert.rejects(collector.traces(), /cannot reach Redis at/);
    await collector.close();
  });
});

describe("RedisCollector in a script that ends without close()", () => {
  for (const runtime of ["deno", "bun"] as const) {
    test(
      `on ${runtime}, a script whose Redis refuses connections exits on its own after one last flush attempt`,
      { timeout: 60_000 },
      async () => {
        const url = `redis://127.0.0.1:${await freePort()}`;
        const run = await spawnRuntime(runtime, "redis_exit_script.ts", [
          url,
          uniqueKey("exit-refused"),
          "5",
        ], { deadlineMs: 20_000 });
        const output = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
        assert.equal(run.hung, false, `still running, killed:\n${output}`);
        assert.equal(run.code, 0, output);
        assert.match(run.stdout, /script ends/);
        assert.match(run.stdout, /onError: .*cannot reach Redis at/);
        // The exit flush ran, and gave up rather than holding the process.
        assert.match(run.stdout, /onError: .*gave up a batch of 5 traces/);
      },
    );

    test(
      `on ${runtime}, a script with Redis up exits on its own and its traces arrive`,
      { skip: skipRedis, timeout: 60_000 },
      async () => {
        const key = uniqueKey("exit-up");
        const raw = await rawClient(redisUrl());
        try {
          const run = await spawnRuntime(runtime, "redis_exit_script.ts", [
            redisUrl(),
            key,
            "25",
          ], { deadlineMs: 20_000 });
          const output = `stdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
          assert.equal(run.hung, false, `still running, killed:\n${output}`);
          assert.equal(run.code, 0, output);
          assert.doesNotMatch(run.stdout, /onError/);
          const names = (await raw.lRange(key, 0, -1))
            .map((text) => JSON.parse(text).name);
          assert.deepEqual(
            names,
            Array.from({ length: 25 }, (_, i) => `exit.${i}`),
          );
        } finally {
          await raw.del(key);
          raw.destroy();
        }
      },
    );
  }
});

describe("RedisCollector against a real Redis", { skip: skipRedis }, () => {
  let raw: Raw;
  const keys: string[] = [];
  const key = (label: string): string => {
    const k = uniqueKey(label);
    keys.push(k);
    return k;
  };
  before(async () => {
    raw = await rawClient(redisUrl());
  });
  after(async () => {
    if (keys.length > 0) await raw.del(keys);
    raw.destroy();
  });

  test("RedisCollector round-trips traces through a list", async () => {
    const traces = sampleTraces(250);
    await using collector = new RedisCollector({
      url: redisUrl(),
      key: key("list"),
    });
    for (const trace of traces) collector.add(trace);
    await collector.flush();
    assert.deepEqual(await collector.traces(), traces.map(normalized));
    assert.equal(collector.stats().sent, 250);
  });

  test("RedisCollector keeps a batch whose trace has metadata JSON cannot encode", async () => {
    await using collector = new RedisCollector({
      url: redisUrl(),
      key: key("bigint"),
    });
    collector.add({ name: "plain", duration: 0.1 });
    collector.add({ name: "odd", duration: 0.2, metadata: { id: 7n } });
    await collector.flush();
    assert.equal(collector.stats().sent, 2);
    const [plain, odd] = await collector.traces();
    assert.equal(plain.name, "plain");
    assert.equal(odd.duration, 0.2);
    assert.equal(typeof odd.metadata?.pss_unserializable_metadata, "string");
  });

  test("RedisCollector stores each trace as pypss JSON (snake_case) with RPUSH", async () => {
    const k = key("wire");
    const trace = sampleTraces(2)[1];
    await using collector = new RedisCollector({ url: redisUrl(), key: k });
    collector.add(trace);
    await collector.flush();
    assert.equal(await raw.type(k), "list");
    const [text] = await raw.lRange(k, 0, -1);
    assert.equal(text, JSON.stringify(traceToJson(trace)));
    const parsed = JSON.parse(text);
    assert.equal(parsed.trace_id, "t1");
    assert.equal(parsed.cpu_time, 0.0005);
    assert.equal(parsed.branch_tag, "odd");
    assert.equal(parsed.async_op, false);
    assert.ok(!("cpuTime" in parsed));
  });

  test("RedisCollector reads entries written by others (pypss) and readTraces() counts the malformed", async () => {
    const k = key("foreign");
    await raw.rPush(k, [
      '{"name": "py.op", "duration": "0.5", "error": false}',
      "not json",
      '{"name": "bad", "duration": -1}',
    ]);
    await using collector = new RedisCollector({ url: redisUrl(), key: k });
    collector.add({ name: "ts.op", duration: 0.25 });
    await collector.flush();
    const skipped: string[] = [];
    const reader = readTraces(collector, {
      onSkip: (position) => skipped.push(position),
    });
    const names = (await Array.fromAsync(reader)).map((t) => t.name);
    assert.deepEqual(names, ["py.op", "ts.op"]);
    assert.deepEqual(reader.stats, { read: 2, skipped: 2 });
    assert.deepEqual(skipped, ["index 1", "index 2"]);
  });

  test("RedisCollector.readRawEntries() pages through a list with index positions", async () => {
    const k = key("pages");
    await using collector = new RedisCollector({
      url: redisUrl(),
      key: k,
      readPageSize: 10,
    });
    for (let i = 0; i < 20; i++) collector.add({ name: `n${i}` });
    await collector.flush();
    const entries = await Array.fromAsync(collector.readRawEntries());
    assert.deepEqual(
      entries.map((e) => e.position),
      Array.from({ length: 20 }, (_, i) => `index ${i}`),
    );
    assert.deepEqual(
      entries.map((e) => JSON.parse(e.text).name),
      Array.from({ length: 20 }, (_, i) => `n${i}`),
    );
  });

  test("RedisCollector round-trips traces through a stream (XADD, field 'trace')", async () => {
    const k = key("stream");
    const traces = sampleTraces(25);
    await using collector = new RedisCollector({
      url: redisUrl(),
      key: k,
      mode: "stream",
      readPageSize: 7,
    });
    for (const trace of traces) collector.add(trace);
    await collector.flush();
    assert.equal(await raw.type(k), "stream");
    const stored = await raw.xRange(k, "-", "+");
    assert.equal(stored.length, 25);
    assert.deepEqual(Object.keys(stored[0].message), ["trace"]);
    assert.equal(
      stored[0].message.trace,
      JSON.stringify(traceToJson(traces[0])),
    );
    const entries = await Array.fromAsync(collector.readRawEntries());
    assert.deepEqual(
      entries.map((e) => e.position),
      stored.map((s) => `entry ${s.id}`),
    );
    const read = await Array.fromAsync(readTraces(collector));
    assert.deepEqual(read, traces.map(normalized));
  });

  test("RedisCollector reads stream entries with flat fields as traces", async () => {
    const k = key("flat");
    await raw.xAdd(k, "*", { name: "flat.op", duration: "0.125" });
    await using collector = new RedisCollector({
      url: redisUrl(),
      key: k,
      mode: "stream",
    });
    const [trace] = await collector.traces();
    assert.equal(trace.name, "flat.op");
    assert.equal(trace.duration, 0.125);
  });

  test("RedisCollector with maxLen keeps the newest maxLen traces of a list", async () => {
    const k = key("capped");
    await using collector = new RedisCollector({
      url: redisUrl(),
      key: k,
      maxLen: 50,
      batchSize: 30,
    });
    for (let i = 0; i < 120; i++) collector.add({ name: `n${i}` });
    await collector.flush();
    const names = (await collector.traces()).map((t) => t.name);
    assert.deepEqual(names, Array.from({ length: 50 }, (_, i) => `n${i + 70}`));
  });

  test("RedisCollector with maxLen trims a stream approximately", async () => {
    const k = key("capped-stream");
    await using collector = new RedisCollector({
      url: redisUrl(),
      key: k,
      mode: "stream",
      maxLen: 100,
      batchSize: 500,
      maxQueueSize: 2000,
    });
    for (let i = 0; i < 2000; i++) collector.add({ name: `n${i}` });
    await collector.flush();
    const length = await raw.xLen(k);
    assert.ok(length >= 100 && length < 2000, `XLEN ${length}`);
  });

  test("RedisCollector.clear() deletes the key", async () => {
    const k = key("clear");
    await using collector = new RedisCollector({ url: redisUrl(), key: k });
    collector.add({ name: "a" });
    await collector.clear();
    assert.equal(await raw.exists(k), 0);
    assert.deepEqual(await collector.traces(), []);
  });

  test("RedisCollector uses a given client and leaves it open on close()", async () => {
    const k = key("client");
    const client = createClient({ url: redisUrl(), disableOfflineQueue: true });
    client.on("error", () => {});
    await client.connect();
    const collector = new RedisCollector({ client, key: k });
    collector.add({ name: "shared" });
    await collector.close();
    assert.equal(client.isOpen, true);
    assert.deepEqual(await client.lLen(k), 1);
    client.destroy();
  });

  test("RedisCollector reconnects after an established connection drops and reports that outage once, and its end", async () => {
    const k = key("dropped");
    const proxy = await startProxy(redisUrl());
    const errors: unknown[] = [];
    const collector = new RedisCollector({
      url: proxy.url,
      key: k,
      onError: (error) => errors.push(error),
    });
    try {
      await waitFor(() => collector.stats().connected, "the connection");
      proxy.breakConnections();
      await waitFor(() => errors.length > 0, "the outage report");
      await waitFor(() => collector.stats().connected, "the reconnection");
      collector.add({ name: "after.drop" });
      await collector.flush();
      assert.deepEqual(
        await raw.lRange(k, 0, -1).then((all) =>
          all.map((text) => JSON.parse(text).name)
        ),
        ["after.drop"],
      );
      assert.equal(errors.length, 2, errors.join("; "));
      assert.match(String(errors[0]), /cannot reach Redis at/);
      assert.match(String(errors[1]), /reconnected to Redis at .* after/);
      assert.equal((errors[1] as { code?: string }).code, "RECONNECTED");
    } finally {
      await collector.close();
      await proxy.close();
    }
  });

  test("RedisCollector stores an export whose reply is lost exactly once (its retry is a no-op)", async () => {
    const k = key("lost-reply");
    const proxy = await startProxy(redisUrl());
    const collector = new RedisCollector({
      url: proxy.url,
      key: k,
      batchSize: 100,
      maxQueueSize: 2500,
      flushIntervalMs: 60_000,
      retryBaseMs: 100,
      maxRetries: 100,
      onError: () => {},
    });
    try {
      await waitFor(() => collector.stats().connected, "the connection");
      proxy.loseReplies();
      // A burst: the backlog goes out as RPUSHes of 1000, 1000 and 500.
      for (let i = 0; i < 2500; i++) collector.add({ name: `r${i}` });
      const deadline = Date.now() + 10_000;
      while (await raw.lLen(k) < 1000) {
        if (Date.now() > deadline) throw new Error("the RPUSH never ran");
        await sleep(5);
      }
      proxy.breakConnections();
      await collector.flush();
      const names = (await raw.lRange(k, 0, -1)).map((t) => JSON.parse(t).name);
      const run = (from: number, to: number): string[] =>
        Array.from({ length: to - from }, (_, i) => `r${from + i}`);
      assert.deepEqual(names, run(0, 2500));
      const stats = collector.stats();
      // The batch whose reply was lost is sent (its retry found its id) or,
      // if the retries ran out first, unconfirmed: never dropped.
      assert.equal(stats.sent + stats.unconfirmed, 2500);
      assert.equal(stats.dropped.flushFailed, 0);
    } finally {
      await collector.close();
      await proxy.close();
    }
  });

  test("RedisCollector.close() ships all 50,000 queued traces", async () => {
    const k = key("shutdown");
    const collector = new RedisCollector({
      url: redisUrl(),
      key: k,
      maxQueueSize: 50_000,
    });
    for (let i = 0; i < 50_000; i++) collector.add({ name: `s${i}` });
    await collector.close();
    await collector.close();
    assert.equal(await raw.lLen(k), 50_000);
    const names = await raw.lRange(k, 0, -1);
    assert.equal(new Set(names.map((n) => JSON.parse(n).name)).size, 50_000);
    assert.equal(collector.stats().sent, 50_000);
  });
});

describe(
  "RedisCollector export sizes (a private redis-server, its batch count)",
  { skip: skipServer },
  () => {
    let server: Awaited<ReturnType<typeof startPrivateRedis>>;
    let raw: Raw;
    before(async () => {
      server = await startPrivateRedis();
      raw = await rawClient(server.url);
    });
    after(async () => {
      raw?.destroy();
      await server?.kill();
    });

    /**
     * Adds `count` traces in one synchronous burst (a backlog), flushes, and
     * returns how many RPUSH commands the server ran and how many values it
     * stored.
     */
    async function burst(
      options: RedisCollectorOptions,
      count: number,
    ): Promise<{ rpush: number; stored: number }> {
      const k = uniqueKey("export-size");
      await raw.sendCommand(["CONFIG", "RESETSTAT"]);
      await using collector = new RedisCollector({
        url: server.url,
        key: k,
        maxQueueSize: count,
        flushIntervalMs: 60_000,
        ...options,
      });
      for (let i = 0; i < count; i++) collector.add({ name: `b${i}` });
      await collector.flush();
      // Each export leaves its batch id behind, once per part
      // (`<key>:pss-batch:<id>:<part>`): count the ids.
      const ids = await raw.sendCommand(["KEYS", `${k}:pss-batch:*`]);
      const exports = new Set(
        (Array.isArray(ids) ? ids : []).map((id) =>
          String(id).replace(/:\d+$/, "")
        ),
      );
      return { rpush: exports.size, stored: await raw.lLen(k) };
    }

    const cases: [string, RedisCollectorOptions, number, number][] = [
      [
        "batchSize 100 (default maxExportBatchSize 1000)",
        {
          batchSize: 100,
        },
        2500,
        3,
      ],
      ["batchSize 500, its default", {}, 2500, 3],
      [
        "batchSize 1500 (maxExportBatchSize follows it)",
        {
          batchSize: 1500,
        },
        3000,
        2,
      ],
      [
        "batchSize 100 and maxExportBatchSize 100",
        {
          batchSize: 100,
          maxExportBatchSize: 100,
        },
        2500,
        25,
      ],
    ];
    for (const [label, options, count, expected] of cases) {
      test(`RedisCollector with ${label} ships a burst of ${count} traces in ${expected} exports`, async () => {
        const { rpush, stored } = await burst(options, count);
        assert.equal(stored, count);
        assert.equal(rpush, expected);
      });
    }
  },
);

interface OutageFigures {
  /** Whether the collector reported losing Redis. */
  outageReported: boolean;
  arrived: number;
  unique: number;
  duplicates: number;
  /**
   * List positions of the first and the second copy of each trace stored
   * twice (none is stored three times: that would fail the test).
   */
  repeats: { first: number[]; second: number[] };
  dropped: number;
  queueFull: number;
  flushFailed: number;
  sent: number;
  unconfirmed: number;
}

/**
 * Adds `total` traces at a steady rate over `durationMs` to a collector on a
 * private append-only redis-server, SIGKILLs the server at `killAtMs`, keeps
 * it down for `downMs`, restarts it on the same port and directory, flushes,
 * and counts what arrived.
 */
async function outage(
  options: RedisCollectorOptions,
  { total = 20_000, durationMs = 4000, killAtMs = 1000, downMs = 2000 } = {},
): Promise<OutageFigures> {
  const dir = mkdtempSync(join(tmpdir(), "pss-redis-outage-"));
  let server = await startPrivateRedis({ appendonly: true, dir });
  const key = uniqueKey("outage");
  const errors: string[] = [];
  const collector = new RedisCollector({
    url: server.url,
    key,
    onError: (error) => errors.push(String(error)),
    ...options,
  });
  try {
    await waitFor(() => collector.stats().connected, "the first connection");
    const start = Date.now();
    let added = 0;
    const producer = (async () => {
      while (added < total) {
        const due = Math.min(
          total,
          Math.ceil((Date.now() - start) / durationMs * total),
        );
        while (added < due) collector.add({ name: `seq-${added++}` });
        await sleep(5);
      }
    })();
    await sleep(killAtMs);
    await server.kill();
    await sleep(downMs);
    server = await startPrivateRedis({
      appendonly: true,
      dir,
      port: server.port,
    });
    await producer;
    await collector.flush();
    const raw = await rawClient(server.url);
    const stored = await raw.lRange(key, 0, -1);
    raw.destroy();
    const firstAt = new Map<string, number>();
    const repeated = new Set<string>();
    const repeats = { first: [] as number[], second: [] as number[] };
    stored.forEach((text, position) => {
      const name = JSON.parse(text).name as string;
      const first = firstAt.get(name);
      if (first === undefined) firstAt.set(name, position);
      else {
        assert.ok(!repeated.has(name), `${name} stored three times`);
        repeated.add(name);
        repeats.first.push(first);
        repeats.second.push(position);
      }
    });
    const { sent, unconfirmed, dropped: { queueFull, flushFailed } } = collector
      .stats();
    return {
      outageReported: errors.some((e) => e.includes("cannot reach Redis")),
      arrived: stored.length,
      unique: firstAt.size,
      duplicates: stored.length - firstAt.size,
      repeats,
      dropped: queueFull + flushFailed,
      queueFull,
      flushFailed,
      sent,
      unconfirmed,
    };
  } finally {
    await collector.close();
    await server.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The figures without the position lists, for messages. */
function summary(
  figures: OutageFigures,
): Omit<OutageFigures, "repeats"> {
  const { repeats: _, ...rest } = figures;
  return rest;
}

/**
 * True accounting: nothing stored twice, every trace counted sent is stored,
 * none counted dropped is (only `unconfirmed` ones may go either way).
 */
function assertExact(figures: OutageFigures, total = 20_000): void {
  const message = JSON.stringify(summary(figures));
  assert.equal(figures.duplicates, 0, message);
  assert.equal(
    figures.sent + figures.unconfirmed + figures.dropped,
    total,
    message,
  );
  assert.ok(figures.unique >= figures.sent, message);
  assert.ok(figures.unique <= figures.sent + figures.unconfirmed, message);
}

describe(
  "RedisCollector through a Redis outage (SIGKILL, 2 s down, restart)",
  { skip: skipServer },
  () => {
    test("RedisCollector stops reconnecting once close() has resolved", async () => {
      let server = await startPrivateRedis();
      const collector = new RedisCollector({
        url: server.url,
        onError: () => {},
      });
      try {
        await waitFor(() => collector.stats().connected, "the connection");
        await server.kill();
        await waitFor(() => !collector.stats().connected, "the outage");
        await collector.close();
        server = await startPrivateRedis({ port: server.port });
        // Longer than the longest wait between two attempts (1 s + jitter).
        await sleep(1500);
        const raw = await rawClient(server.url);
        const clients = String(await raw.sendCommand(["CLIENT", "LIST"]))
          .trim().split("\n");
        raw.destroy();
        assert.equal(clients.length, 1, clients.join("\n"));
        assert.equal(collector.stats().connected, false);
      } finally {
        await collector.close();
        await server.kill();
      }
    });

    const retries: RedisCollectorOptions = {
      batchSize: 100,
      maxExportBatchSize: 1000,
      flushIntervalMs: 50,
      maxRetries: 1000,
      retryBaseMs: 50,
      retryMaxMs: 200,
      exportTimeoutMs: 2000,
    };

    test("RedisCollector delivers every one of 20,000 traces when the queue holds the outage", async () => {
      const figures = await outage({ ...retries, maxQueueSize: 20_000 });
      console.log("outage, queue 20,000:", summary(figures));
      assert.ok(figures.outageReported);
      assert.equal(figures.dropped, 0);
      assert.equal(figures.unique, 20_000);
      assertExact(figures);
    });

    test("RedisCollector counts exactly the traces a small queue drops during an outage", async () => {
      const figures = await outage({ ...retries, maxQueueSize: 3000 });
      console.log("outage, queue 3,000:", summary(figures));
      assert.ok(figures.outageReported);
      assert.ok(figures.queueFull > 0, "the outage should overflow the queue");
      assertExact(figures);
    });
  },
);
