/**
 * The Redis connection's lifecycle on its own, against private
 * `redis-server` processes that the tests stop and restart: an outage is
 * reported once per cause however many reconnection attempts it takes, and
 * its end once; a collector whose constructor throws leaves nothing
 * connecting; a given client gets one set of listeners.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "redis";
import {
  openConnection,
  type RedisConnection,
} from "../../src/collect/redis_connection.ts";
import { causeOf } from "../../src/collect/exporter.ts";
import { RedisCollector, RedisExporter } from "../../src/collect/redis.ts";
import { BatchCollector } from "../../src/collect/batch.ts";
import {
  type PrivateRedis,
  privateRedisServers,
  requireRedisServer,
  uniqueKey,
  waitFor,
} from "../_redis.ts";

const skipServer = requireRedisServer();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A connection to `url` that records what it reports. */
function watched(url: string): {
  connection: RedisConnection;
  downs: (Error & { code: string })[];
  ups: string[];
} {
  const downs: (Error & { code: string })[] = [];
  const ups: string[] = [];
  const connection = openConnection("Test", { url }, {
    down: (error) => downs.push(error),
    up: (message) => ups.push(message),
  });
  return { connection, downs, ups };
}

/**
 * How many connections `server` has accepted since it started, this look's
 * own included (the probes that start it count too: compare two looks).
 */
async function connectionsReceived(server: PrivateRedis): Promise<number> {
  const client = createClient({ url: server.url });
  await client.connect();
  try {
    const info = await client.info("stats");
    return Number(/total_connections_received:(\d+)/.exec(info)?.[1]);
  } finally {
    client.destroy();
  }
}

describe("RedisConnection through outages", { skip: skipServer }, () => {
  const startServer = privateRedisServers();

  test("an outage of many reconnection attempts is reported once, with its cause, and its end once", async () => {
    let server = await startServer();
    const { connection, downs, ups } = watched(server.url);
    try {
      connection.start();
      await waitFor(() => connection.connected, "the connection");
      await server.stop();
      await waitFor(() => downs.length > 0, "the outage");
      const since = (connection.state as { outage?: { since: number } })
        .outage?.since;
      // node-redis reports each failed attempt on the client.
      let attempts = 0;
      connection.client.on("error", () => attempts++);
      await sleep(1500); // several attempts: 50, 100, 200, 400, 800 ms apart
      assert.ok(attempts >= 3, `only ${attempts} attempts`);
      // The attempts carry the outage: its start and its error stay.
      const state = connection.state;
      assert.ok(state.kind === "down" || state.kind === "connecting");
      assert.equal(state.outage?.since, since);
      assert.match(String(connection.error), /cannot reach Redis/);
      // The break, then why reconnecting fails: once each, not per attempt.
      assert.deepEqual(
        downs.map((e) => e.code),
        ["CONNECTION_LOST", "ECONNREFUSED"],
        downs.join("; "),
      );
      assert.deepEqual(ups, []);
      server = await startServer({ port: server.port });
      await waitFor(() => connection.connected, "the reconnection");
      assert.equal(ups.length, 1, ups.join("; "));
      const after = Number(/after (\d+\.\d) s/.exec(ups[0])?.[1]);
      assert.ok(after >= 1.5, ups[0]); // measured from the outage's start
      assert.equal(connection.error, undefined);
      assert.equal(downs.length, 2);
    } finally {
      await connection.close();
    }
  });

  test("each new cause within an outage is reported once, then the recovery once", async () => {
    let server = await startServer();
    const { connection, downs, ups } = watched(server.url);
    try {
      connection.start();
      await waitFor(() => connection.connected, "the connection");
      await server.stop();
      await waitFor(() => downs.length > 1, "the refused reconnection");
      // Back, but refusing us: a new cause of the same outage.
      server = await startServer({
        port: server.port,
        args: ["--requirepass", "sekret"],
      });
      await waitFor(() => downs.length > 2, "the third cause");
      await sleep(1200); // more attempts, refused the same way
      const codes = ["CONNECTION_LOST", "ECONNREFUSED", "NOAUTH"];
      assert.deepEqual(downs.map((e) => e.code), codes);
      assert.equal(causeOf(downs[2]), "NOAUTH");
      assert.deepEqual(ups, []);
      assert.equal(connection.connected, false);
      await server.stop();
      server = await startServer({ port: server.port });
      await waitFor(() => connection.connected, "the reconnection");
      // Refused again while restarting (ECONNREFUSED): already reported in
      // this outage.
      assert.deepEqual(downs.map((e) => e.code), codes);
      assert.equal(ups.length, 1, ups.join("; "));
    } finally {
      await connection.close();
    }
  });

  test("start() twice connects once", async () => {
    const server = await startServer();
    const { connection } = watched(server.url);
    try {
      const client = connection.client as unknown as {
        listenerCount(event: string): number;
      };
      const before = await connectionsReceived(server);
      connection.start();
      connection.start();
      await waitFor(() => connection.connected, "the connection");
      assert.equal(client.listenerCount("error"), 1);
      assert.equal(client.listenerCount("ready"), 1);
      // One for the connection, one for this look.
      assert.equal(await connectionsReceived(server), before + 2);
    } finally {
      await connection.close();
    }
  });
});

describe("RedisCollector's connection, as the collector makes it", {
  skip: skipServer,
}, () => {
  const startServer = privateRedisServers();

  test("a constructor that throws PssConfigError leaves nothing connecting", async () => {
    const server = await startServer();
    const errors: unknown[] = [];
    const before = await connectionsReceived(server);
    for (
      const bad of [
        { batchSize: 0 },
        { maxExportBatchSize: 1, batchSize: 10 },
        { readPageSize: 0 },
        { maxLen: -1 },
        { flushIntervalMs: -5 },
      ]
    ) {
      assert.throws(() =>
        new RedisCollector({
          url: server.url,
          onError: (error) => errors.push(error),
          ...bad,
        })
      );
    }
    await sleep(300);
    assert.equal(await connectionsReceived(server), before + 1); // this look

    assert.deepEqual(errors, []);
  });

  test("a given client gets one error and one ready listener", async () => {
    const server = await startServer();
    const client = createClient({ url: server.url, disableOfflineQueue: true });
    client.on("error", () => {});
    await client.connect();
    const collector = new RedisCollector({ client, key: uniqueKey("given") });
    try {
      assert.equal(client.listenerCount("error"), 2); // ours and the host's
      assert.equal(client.listenerCount("ready"), 1);
      collector.add({ name: "op" });
      await collector.flush();
      assert.equal(collector.stats().sent, 1);
    } finally {
      await collector.close();
      client.destroy();
    }
  });

  test("the default warning prints each new cause of an outage at once, and the recovery", async () => {
    let server = await startServer();
    const lines: string[] = [];
    const warn = console.warn;
    console.warn = (line: unknown) => lines.push(String(line));
    const collector = new RedisCollector({ url: server.url });
    try {
      await waitFor(() => collector.stats().connected, "the connection");
      await server.stop();
      await waitFor(
        () => lines.some((l) => /ECONNREFUSED/.test(l)),
        "the refused reconnection",
      );
      server = await startServer({
        port: server.port,
        args: ["--requirepass", "sekret"],
      });
      // Well within the 60 s a cause is held back: a new cause is not.
      await waitFor(
        () => lines.some((l) => /NOAUTH/.test(l)),
        "the NOAUTH warning",
      );
      await server.stop();
      server = await startServer({ port: server.port });
      await waitFor(() => collector.stats().connected, "the reconnection");
      await waitFor(
        () => lines.some((l) => /reconnected/.test(l)),
        "the recovery",
      );
      const connection = lines.filter((l) => /cannot reach/.test(l));
      assert.equal(connection.length, 3, lines.join("\n"));
      assert.match(connection[0], /Socket closed/);
      assert.match(connection[1], /ECONNREFUSED/);
      assert.match(connection[2], /NOAUTH/);
      assert.equal(lines.filter((l) => /reconnected/.test(l)).length, 1);
    } finally {
      console.warn = warn;
      await collector.close();
    }
  });
});

describe("RedisExporter, public", { skip: skipServer }, () => {
  const startServer = privateRedisServers();

  test("a BatchCollector over a RedisExporter stores each trace once and disconnects on close()", async () => {
    const server = await startServer();
    const key = uniqueKey("exporter");
    const exporter = new RedisExporter({ url: server.url, key });
    const collector = new BatchCollector({ exporter, batchSize: 3 });
    for (let i = 0; i < 7; i++) collector.add({ name: `e${i}` });
    await collector.flush();
    assert.equal(collector.stats().sent, 7);
    assert.equal(exporter.connected, true);
    await collector.close();
    assert.equal(exporter.connected, false);
    const client = createClient({ url: server.url });
    await client.connect();
    const names = (await client.lRange(key, 0, -1)).map((t) =>
      JSON.parse(t).name
    );
    const clients = String(await client.sendCommand(["CLIENT", "LIST"]))
      .trim().split("\n");
    client.destroy();
    assert.deepEqual(names, ["e0", "e1", "e2", "e3", "e4", "e5", "e6"]);
    assert.equal(clients.length, 1, clients.join("\n")); // only this look
  });

  test("new RedisExporter() checks its options by its own name", () => {
    assert.throws(
      () => new RedisExporter({ key: "" }),
      /RedisExporter's 'key' must be a non-empty string/,
    );
    assert.throws(
      () => new RedisExporter({ batchSize: 5 } as never),
      /'batchSize' is not a known option of RedisExporter/,
    );
  });
});
