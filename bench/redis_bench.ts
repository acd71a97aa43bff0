/**
 * How fast does RedisCollector ship traces, compared with the floor: the
 * same traces, serialised the same way, pushed by a hand-written pipelined
 * `RPUSH` loop on one node-redis client (every batch written without waiting
 * for the previous reply)?
 *
 * Deno: `npx deno bench -A bench/redis_bench.ts` (Redis at REDIS_URL, else
 * 127.0.0.1:6379). Bun: `npx bun bench/redis_bench.ts` (a small runner that
 * stands in for `Deno.bench`, printing the same ratios).
 *
 * @module
 */

import { createClient } from "redis";
import { RedisCollector } from "../src/collect/redis.ts";
import { type Trace, traceToJson } from "../src/trace.ts";

const URL = (globalThis as { process?: { env: Record<string, string> } })
  .process?.env.REDIS_URL || "redis://127.0.0.1:6379";
const TRACES = 10_000;

const traces: Trace[] = Array.from({ length: TRACES }, (_, i) => ({
  traceId: `bench-${i}`,
  name: `op.${i % 20}`,
  module: "bench",
  duration: 0.001 + (i % 100) * 1e-5,
  cpuTime: 0.0008,
  waitTime: 0.0002,
  memory: 50_000_000 + i,
  memoryDiff: i % 7,
  error: i % 50 === 0,
  branchTag: i % 2 === 0 ? "hit" : "miss",
  timestamp: 1_700_000_000 + i / 1000,
  asyncOp: true,
  metadata: { route: "/api/items", attempt: 1 },
}));

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

interface Bench {
  start(): void;
  end(): void;
}

type BenchFn = (b: Bench) => Promise<void>;

interface BenchDefinition {
  name: string;
  group: string;
  baseline?: boolean;
  fn: BenchFn;
}

const definitions: BenchDefinition[] = [];
for (const batchSize of [100, 500]) {
  const group = `ship ${TRACES} traces, batches of ${batchSize}`;
  const collector = new RedisCollector({
    client,
    key: `${prefix}:collector:${batchSize}`,
    batchSize,
    maxQueueSize: TRACES,
    flushIntervalMs: 60_000,
  });
  definitions.push({
    name: `pipelined RPUSH loop (floor), batches of ${batchSize}`,
    group,
    baseline: true,
    fn: async (b) => {
      const key = `${prefix}:floor:${batchSize}`;
      b.start();
      await handWritten(key, batchSize);
      b.end();
      await client.del(key);
    },
  });
  definitions.push({
    name: `RedisCollector, batchSize ${batchSize}`,
    group,
    fn: async (b) => {
      b.start();
      for (let i = 0; i < TRACES; i++) collector.add(traces[i]);
      await collector.flush();
      b.end();
      sink += collector.stats().sent;
      await client.del(collector.key);
    },
  });
}

const deno = (globalThis as {
  Deno?: {
    bench?(
      options: {
        name: string;
        group: string;
        baseline?: boolean;
        n?: number;
        warmup?: number;
        fn: BenchFn;
      },
    ): void;
  };
}).Deno;

if (deno?.bench !== undefined) {
  for (const definition of definitions) {
    deno.bench({ ...definition, n: 40, warmup: 5 });
  }
  // Deno.bench runs after this module is evaluated; once every bench is
  // done, the process is about to exit and the client can go.
  globalThis.addEventListener("beforeunload", () => {
    if (sink < 0) console.log(sink);
    if (client.isOpen) client.destroy();
  });
} else {
  await runWithoutDeno(definitions);
  client.destroy();
}

/**
 * A stand-in for `Deno.bench` (Bun): runs the benches of a group in turn
 * (so noise hits them alike), then prints each median and its ratio to the
 * group's baseline.
 */
async function runWithoutDeno(list: BenchDefinition[]): Promise<void> {
  const runs = 40;
  const warmup = 5;
  const times = new Map<BenchDefinition, number[]>(list.map((d) => [d, []]));
  for (let run = 0; run < warmup + runs; run++) {
    for (const definition of list) {
      let started = 0;
      let elapsed = 0;
      await definition.fn({
        start: () => started = performance.now(),
        end: () => elapsed = performance.now() - started,
      });
      if (run >= warmup) times.get(definition)!.push(elapsed);
    }
  }
  const median = (values: number[]): number =>
    [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  for (const definition of list) {
    const ms = median(times.get(definition)!);
    const baseline = list.find((d) =>
      d.group === definition.group && d.baseline
    )!;
    const ratio = median(times.get(baseline)!) / ms;
    console.log(
      `${definition.group} | ${definition.name}: median ${ms.toFixed(2)} ms, ${
        Math.round(TRACES / ms * 1000)
      } traces/s${definition.baseline ? "" : `, ${ratio.toFixed(2)}x floor`}`,
    );
  }
  if (sink < 0) console.log(sink);
}
