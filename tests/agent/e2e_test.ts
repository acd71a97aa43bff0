/**
 * End to end: an agent with a Redis sink on a free loopback port, and two
 * client processes (one Deno, one Bun) shipping 10,000 traces each through
 * ConnectCollector, one over Connect, one over gRPC-web.
 */

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { computePss } from "../../src/score/pss.ts";
import { stringifyTrace, traceFromJson } from "../../src/trace.ts";
import { RedisCollector } from "../../src/collect/redis.ts";
import { type RunningAgent, serveAgent } from "../../src/agent/mod.ts";
import { ConnectCollector } from "../../src/collect/connect.ts";
import { redisUrl, requireRedis, uniqueKey } from "../_redis.ts";
import { spawnRuntime } from "../fixtures/spawn.ts";
import { clientTrace } from "./_traces.ts";

const skip = await requireRedis();
const PER_CLIENT = 10_000;

describe("agent end to end", { skip }, () => {
  let sink: RedisCollector;
  let agent: RunningAgent;
  before(async () => {
    sink = new RedisCollector({ url: redisUrl(), key: uniqueKey("agent-e2e") });
    agent = await serveAgent({ port: 0, sink, authToken: "e2e-token" });
  });
  after(async () => {
    await agent.close();
    await sink.clear();
    await sink.close();
  });

  test("GetScore counts the 20,000 traces of a Deno and a Bun client and equals computePss over them", async () => {
    const [deno, bun] = await Promise.all([
      spawnRuntime("deno", "connect_client.ts", [
        agent.url,
        "connect",
        String(PER_CLIENT),
        "deno",
        "e2e-token",
      ], { deadlineMs: 90_000 }),
      spawnRuntime("bun", "connect_client.ts", [
        agent.url,
        "grpc-web",
        String(PER_CLIENT),
        "bun",
        "e2e-token",
      ], { deadlineMs: 90_000 }),
    ]);
    for (const run of [deno, bun]) {
      assert.equal(run.code, 0, run.stderr);
      const { stats, rejected } = JSON.parse(
        run.stdout.trim().split("\n").at(-1)!,
      );
      assert.equal(stats.sent, PER_CLIENT);
      assert.equal(rejected, 0);
    }

    const expected: ReturnType<typeof clientTrace>[] = [];
    for (const label of ["deno", "bun"]) {
      for (let i = 0; i < PER_CLIENT; i++) expected.push(clientTrace(label, i));
    }
    const want = computePss(expected);

    await using client = new ConnectCollector({
      baseUrl: agent.url,
      headers: { authorization: "Bearer e2e-token" },
    });
    const score = await client.score();
    assert.equal(score.traceCount + score.systemTraceCount, 2 * PER_CLIENT);
    assert.equal(score.traceCount, want.traceCount);
    assert.equal(score.systemTraceCount, want.systemTraceCount);
    assert.equal(score.skippedCount, 0);
    assert.equal(score.pss, want.pss);
    // The two clients interleave in the sink, so sums run in another order:
    // equal to the last few bits over the shipped traces, and exactly
    // equal over the traces in the order the sink holds them.
    for (const [pillar, value] of Object.entries(want.breakdown)) {
      const got = score.breakdown[pillar as keyof typeof want.breakdown];
      assert.ok(Math.abs(got - value) < 1e-12, `${pillar}: ${got} vs ${value}`);
    }
    const held = await sink.traces();
    assert.deepEqual(score.breakdown, computePss(held).breakdown);
    assert.equal(agent.stats().accepted, 2 * PER_CLIENT);

    // Every trace arrived once, exactly as if it had been written to Redis
    // directly (the same wire codec reads it back).
    assert.equal(held.length, 2 * PER_CLIENT);
    const byId = new Map(held.map((trace) => [trace.traceId, trace]));
    assert.equal(byId.size, 2 * PER_CLIENT);
    for (const sent of expected) {
      const got = byId.get(sent.traceId)!;
      assert.ok(got !== undefined, `missing ${sent.traceId}`);
      assert.deepEqual(got, traceFromJson(JSON.parse(stringifyTrace(sent))));
    }
  });
});
