/**
 * How fast does RedisCollector ship traces, compared with the floor: the
 * same traces, serialised the same way, pushed by a hand-written pipelined
 * `RPUSH` loop on one node-redis client (every batch written without waiting
 * for the previous reply)?
 *
 * Two shapes of load: a burst (10,000 traces added at once, then `flush()`;
 * the collector is timed until Redis has acknowledged every trace) and a
 * steady trickle (200 traces per 1 ms timer tick, which bounds both sides,
 * so that ratio only shows whether the collector keeps up). Before the
 * benches run, one pass of each checks that both sides store the very same
 * bytes.
 *
 * Deno: `npx deno bench -A bench/redis_bench.ts` (Redis at REDIS_URL, else
 * 127.0.0.1:6379). Bun: `npx bun bench/redis_bench.ts` (a small runner that
 * stands in for `Deno.bench`, printing the same ratios).
 *
 * @module
 */

import { createClient } from "redis";
import { RedisCollector } from "../src/collect/redis.ts";
import { type BenchDefinition, benchTraces, runBenches } from "./_runner.ts";
import { type Trace, traceToJson } from "../src/trace.ts";
import { STORE_ONCE_TEXT } from "../src/collect/redis_store.ts";

const URL = (globalThis as { process?: { env: Record<string, string> } })
  .process?.env.REDIS_URL || "redis://127.0.0.1:6379";
const TRACES = 10_000;
/** The trickle: this many traces per timer tick. */
const CHUNK = 200;

const traces: Trace[] = benchTraces(TRACES);

const client = createClient({ url: URL, disableOfflineQueue: true });
client.on("error", () => {});
await client.connect();
const prefix = `pss:bench:${Date.now()}:${Math.random().toString(36).slice(2)}`;
let sink = 0;

/** The floor: serialise, then RPUSH every batch without awaiting replies. */
async function handWritten(key: string, batchSize: number): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let start = 0; start < TRACES; start += batchSize) {
    const end = Math.min(TRACES, start + batchSize);
    const args = new Array<string>(end - start + 2);
    args[0] = "RPUSH";
    args[1] = key;
    for (let i = start; i < end; i++) {
      args[i - start + 2] = JSON.stringify(traceToJson(traces[i]));
    }
    pending.push(client.sendCommand(args));
  }
  const replies = await Promise.all(pending);
  sink += Number(replies[replies.length - 1]);
}

const storeOnce = String(
  await client.sendCommand(["SCRIPT", "LOAD", STORE_ONCE_TEXT]),
);

/**
 * A contrast, not a floor: the collector's own store-once script run by
 * hand, every batch pipelined under a fresh id (KEYS: target, id; ARGV:
 * ttl, mode, maxLen, traces), without the engine. It shows what exactly-once
 * storage costs Redis, apart from what the collector adds.
 */
async function handWrittenScript(
  key: string,
  batchSize: number,
): Promise<void> {
  const pending: Promise<unknown>[] = [];
  for (let start = 0; start < TRACES; start += batchSize) {
    const end = Math.min(TRACES, start + batchSize);
    const args = ["EVALSHA", storeOnce, "2", key, idKey(key, start)];
    args.push("3600", "list", "");
    for (let i = start; i < end; i++) {
      args.push(JSON.stringify(traceToJson(traces[i])));
    }
    pending.push(client.sendCommand(args));
  }
  await Promise.all(pending);
  sink += pending.length;
}

/** The batch-id key of the hand-run script's batch starting at `start`. */
function idKey(key: string, start: number): string {
  return `${key}:id:${start}`;
}

/** Resolves after one timer tick (at least 1 ms). */
function tick(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * The trickle's floor: `CHUNK` traces per tick, each full batch serialised
 * and pushed at once without waiting for replies; the rest at the end. The
 * tick's timer starts before the serialising, so the serialising overlaps
 * the wait (as the collector's, which runs after `add()` returns, does).
 */
async function handWrittenTrickle(
  key: string,
  batchSize: number,
): Promise<void> {
  const pending: Promise<unknown>[] = [];
  let args: string[] = ["RPUSH", key];
  for (let start = 0; start < TRACES; start += CHUNK) {
    const ticked = tick();
    for (let i = start; i < start + CHUNK; i++) {
      args.push(JSON.stringify(traceToJson(traces[i])));
      if (args.length - 2 === batchSize) {
        pending.push(client.sendCommand(args));
        args = ["RPUSH", key];
      }
    }
    await ticked;
  }
  if (args.length > 2) pending.push(client.sendCommand(args));
  const replies = await Promise.all(pending);
  sink += Number(replies[replies.length - 1]);
}

/** Adds every trace to `collector` at the trickle's pace. */
async function trickle(collector: RedisCollector): Promise<void> {
  for (let start = 0; start < TRACES; start += CHUNK) {
    for (let i = start; i < start + CHUNK; i++) collector.add(traces[i]);
    await tick();
  }
}

/**
 * Awaits `collector.flush()` and checks that it settled every trace as sent
 * (none dropped), so the timing covers acknowledged traces only.
 */
async function flushed(
  collector: RedisCollector,
  before: number,
): Promise<void> {
  await collector.flush();
  const { sent } = collector.stats();
  if (sent - before !== TRACES) {
    throw new Error(`${collector.key}: ${sent - before} of ${TRACES} sent`);
  }
  sink += sent;
}

/**
 * Fairness: the collector stores exactly the bytes the floor stores, in the
 * same order.
 */
async function checkSameBytes(): Promise<void> {
  const floorKey = `${prefix}:check:floor`;
  const collector = new RedisCollector({
    client,
    key: `${prefix}:check:collector`,
    batchSize: 100,
    maxQueueSize: TRACES,
  });
  await handWritten(floorKey, 100);
  for (const trace of traces) collector.add(trace);
  await flushed(collector, 0);
  const [floor, shipped] = await Promise.all([
    client.lRange(floorKey, 0, -1),
    client.lRange(collector.key, 0, -1),
  ]);
  await client.del([floorKey, collector.key]);
  await collector.close();
  if (
    floor.length !== TRACES || shipped.length !== TRACES ||
    floor.some((text, i) => text !== shipped[i])
  ) {
    throw new Error("the collector and the floor stored different bytes");
  }
}

await checkSameBytes();

const definitions: BenchDefinition[] = [];

function collectorBench(
  group: string,
  name: string,
  options: { batchSize: number; maxExportBatchSize?: number },
  load: (collector: RedisCollector) => void | Promise<void>,
): BenchDefinition {
  const collector = new RedisCollector({
    client,
    key: `${prefix}:collector:${definitions.length}`,
    maxQueueSize: TRACES,
    flushIntervalMs: 60_000,
    ...options,
  });
  return {
    name,
    group,
    fn: async (b) => {
      const before = collector.stats().sent;
      b.start();
      await load(collector);
      await flushed(collector, before);
      b.end();
      await client.del(collector.key);
    },
  };
}

/**
 * A hand-written case: the floor (`baseline`) or a contrast. Its key, and
 * the batch-id keys a script case wrote, go after each run, untimed.
 */
function handBench(
  group: string,
  name: string,
  push: (key: string) => Promise<void>,
  baseline = false,
): BenchDefinition {
  const key = `${prefix}:hand:${definitions.length}`;
  const ids: string[] = [];
  for (let start = 0; start < TRACES; start += 100) ids.push(idKey(key, start));
  return {
    name,
    group,
    baseline,
    fn: async (b) => {
      b.start();
      await push(key);
      b.end();
      await client.del([key, ...ids]);
    },
  };
}

const burst = (collector: RedisCollector): void => {
  for (let i = 0; i < TRACES; i++) collector.add(traces[i]);
};

for (const batchSize of [100, 500]) {
  const group = `ship ${TRACES} traces, batches of ${batchSize}`;
  definitions.push(
    handBench(
      group,
      `pipelined RPUSH loop (floor), batches of ${batchSize}`,
      (key) => handWritten(key, batchSize),
      true,
    ),
    handBench(
      group,
      `pipelined EVALSHA of the collector's script, batches of ${batchSize}`,
      (key) => handWrittenScript(key, batchSize),
    ),
    collectorBench(
      group,
      `RedisCollector, batchSize ${batchSize}`,
      { batchSize },
      burst,
    ),
  );
}
definitions.push(
  collectorBench(
    `ship ${TRACES} traces, batches of 100`,
    "RedisCollector, batchSize 100, maxExportBatchSize 100",
    { batchSize: 100, maxExportBatchSize: 100 },
    burst,
  ),
);
{
  const group = `trickle ${TRACES} traces, ${CHUNK} per tick, batches of 100`;
  definitions.push(
    handBench(
      group,
      "pipelined RPUSH loop (floor), trickle",
      (key) => handWrittenTrickle(key, 100),
      true,
    ),
    collectorBench(
      group,
      "RedisCollector, batchSize 100, trickle",
      { batchSize: 100 },
      trickle,
    ),
  );
}

await runBenches(definitions, {
  describe: (_definition, ms) => `, ${Math.round(TRACES / ms * 1000)} traces/s`,
  done: () => {
    if (sink < 0) console.log(sink);
    if (client.isOpen) client.destroy();
  },
});
