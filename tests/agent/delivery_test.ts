/**
 * Delivery through the agent when its sink is slower than the client's
 * deadline: the agent's sink is a RedisCollector on a private redis-server
 * that is paused (SIGSTOP) while clients ship, so every call times out on
 * the client side and is retried while the agent still holds the first
 * attempt. A retried batch must be stored once, not once per attempt, over
 * Connect and over gRPC-web alike.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createClient } from "redis";
import { ConnectCollector } from "../../src/collect/connect.ts";
import { RedisCollector } from "../../src/collect/redis.ts";
import { serveAgent } from "../../src/agent/mod.ts";
import {
  privateRedisServers,
  requireRedis,
  requireRedisServer,
  uniqueKey,
} from "../_redis.ts";

const skip = (await requireRedis()) || requireRedisServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("an agent whose sink is slower than the client's deadline", {
  skip,
}, () => {
  const startServer = privateRedisServers();

  for (const protocol of ["connect", "grpc-web"] as const) {
    test(`over ${protocol}: batches retried after a timeout are stored once`, async () => {
      const server = await startServer();
      const key = uniqueKey(`agent-slow-${protocol}`);
      const sink = new RedisCollector({
        url: server.url,
        key,
        batchSize: 100,
        flushIntervalMs: 10,
        exportTimeoutMs: 5000, // longer than the pause: no doubt in the sink
        retryBaseMs: 20,
        retryMaxMs: 100, // back at once when the server resumes
        onError: () => {},
      });
      const agent = await serveAgent({ port: 0, sink });
      const errors: string[] = [];
      const client = new ConnectCollector({
        baseUrl: agent.url,
        protocol,
        batchSize: 50,
        flushIntervalMs: 10,
        timeoutMs: 300,
        retryBaseMs: 50,
        retryMaxMs: 150,
        maxQueueSize: 10_000,
        closeTimeoutMs: 15_000,
        onError: (error) => errors.push(String(error)),
      });
      try {
        let seq = 0;
        const add = (n: number) => {
          for (let i = 0; i < n; i++) {
            client.add({ name: "slow-sink", metadata: { seq: seq++ } });
          }
        };
        add(100);
        await client.flush();
        assert.equal(client.stats().sent, 100, String(errors));

        process.kill(server.pid, "SIGSTOP");
        add(200);
        // Several client deadlines pass: calls are abandoned and retried
        // while the agent still waits on its sink for the first attempt.
        await sleep(1500);
        server.resume();
        // Retries go on until the sink has caught up (close() alone would
        // allow only a few more, and give up a batch still in doubt).
        await client.flush();
        await client.close();
        await sink.flush();

        const stats = client.stats();
        const message = `${JSON.stringify(stats)} ${errors.slice(0, 3)}`;
        assert.ok(
          errors.some((e) => /longer than 300 ms|deadline/i.test(e)),
          `the client never timed out: ${message}`,
        );
        const reader = createClient({ url: server.url });
        await reader.connect();
        const seqs = (await reader.lRange(key, 0, -1)).map((line) =>
          JSON.parse(line).seq as number
        );
        reader.destroy();
        const counts = new Map<number, number>();
        for (const s of seqs) counts.set(s, (counts.get(s) ?? 0) + 1);
        const twice = [...counts].filter(([, n]) => n > 1).length;
        assert.equal(twice, 0, `${twice} traces stored twice; ${message}`);
        assert.equal(seqs.length, 300, message);
        assert.equal(stats.sent, 300, message);
        assert.ok(agent.stats().duplicateBatches > 0, message);
      } finally {
        await client.close();
        await agent.close();
        await sink.close();
      }
    });
  }
});
