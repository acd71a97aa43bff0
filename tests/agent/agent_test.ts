/**
 * The agent over real loopback HTTP: what arrives, authentication, limits,
 * malformed input, and an agent that goes down and comes back while a
 * client ships.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Code, ConnectError } from "@connectrpc/connect";
import { MemoryCollector } from "../../src/collect/memory.ts";
import {
  ConnectCollector,
  ConnectExporter,
} from "../../src/collect/connect.ts";
import {
  ExportInDoubtError,
  PermanentExportError,
} from "../../src/collect/exporter.ts";
import { runtime } from "../../src/runtime/adapter.ts";
import { createAgentHandler, serveAgent } from "../../src/agent/mod.ts";
import { PssConfigError } from "../../src/score/config.ts";
import { computePss } from "../../src/score/pss.ts";
import type { Trace } from "../../src/trace.ts";
import { encodeSubmitTraces } from "../../src/collect/_trace_wire.ts";
import { freePort } from "../_redis.ts";

const SUBMIT = "/pss.v1.TraceService/SubmitTraces";
const GET_SCORE = "/pss.v1.TraceService/GetScore";

function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

/** Every field of the trace model, with nested metadata. */
const FULL: Trace & { host: string; pid: number } = {
  traceId: "t-1",
  name: "db.query",
  filename: "/srv/db.ts",
  lineno: 42,
  module: "db",
  duration: 0.0125,
  cpuTime: 0.002,
  waitTime: 0.01,
  memory: 123_456_789,
  memoryDiff: -4096,
  error: true,
  exceptionType: "TimeoutError",
  exceptionMessage: "took too long",
  branchTag: "cache_miss",
  timestamp: 1_700_000_000.25,
  asyncOp: true,
  yieldCount: 3,
  systemMetric: false,
  metadata: { user: "u1", nested: { list: [1, "two", null, true] } },
  host: "web-1",
  pid: 4242,
};

const LOOP: Trace = {
  name: "__event_loop_health__",
  module: "pss.system",
  waitTime: 0.02,
  systemMetric: true,
  metadata: { lag: 0.02, active_tasks: 3, churn_rate: 1.5, extra: "x" },
};

describe("ConnectCollector to the agent", () => {
  for (const protocol of ["connect", "grpc-web"] as const) {
    test(`every trace field arrives unchanged over ${protocol}`, async () => {
      const sink = new MemoryCollector();
      await using agent = await serveAgent({ port: 0, sink });
      await using client = new ConnectCollector({
        baseUrl: agent.url,
        protocol,
      });
      client.add(FULL);
      client.add(LOOP);
      const sent: Trace = {
        name: "odd",
        metadata: { big: 10n, inf: Infinity },
      };
      client.add(sent);
      await client.flush();
      const [full, loop, odd] = sink.snapshot();
      assert.deepEqual(full, FULL);
      assert.deepEqual(loop, LOOP);
      // A trace without an id leaves with one, as on every other wire.
      assert.match(sent.traceId ?? "", /^[0-9a-f]+-\d+$/);
      assert.deepEqual(odd, {
        traceId: sent.traceId,
        name: "odd",
        metadata: { big: "10", inf: "Infinity" },
      });
      assert.equal(client.stats().sent, 3);
    });
  }

  test("GetScore equals computePss over what the sink holds, by name too", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink });
    await using client = new ConnectCollector({ baseUrl: agent.url });
    for (let i = 0; i < 300; i++) {
      client.add({ name: i % 2 ? "a" : "b", duration: 0.01 + (i % 9) / 100 });
    }
    client.add(LOOP);
    await client.flush();
    const want = computePss(sink.snapshot());
    const got = await client.score({ byName: true });
    assert.equal(got.pss, want.pss);
    assert.deepEqual(got.breakdown, want.breakdown);
    assert.equal(got.traceCount, 300);
    assert.equal(got.systemTraceCount, 1);
    assert.deepEqual(got.byName.map((n) => [n.name, n.traceCount]), [
      ["a", 150],
      ["b", 150],
    ]);
    const onlyA = await client.score({ names: ["a"] });
    assert.equal(onlyA.traceCount, 150);
    assert.equal(onlyA.systemTraceCount, 1);
  });

  test("curl-style JSON reaches SubmitTraces and GetScore reads pss and breakdown.timingStability", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink });
    const submitted = await postJson(agent.url + SUBMIT, {
      traces: [
        { name: "op", duration: 0.1, metadata: { region: "eu", n: "3" } },
        { name: "op", duration: 0.1, metadata: { quoted: '"3"' } },
      ],
    });
    assert.equal(submitted.status, 200);
    assert.deepEqual(await submitted.json(), { accepted: 2 });
    // Metadata values are JSON text; text that is not JSON stays a string.
    assert.deepEqual(sink.snapshot().map((trace) => trace.metadata), [
      { region: "eu", n: 3 },
      { quoted: "3" },
    ]);
    const score = await (await postJson(agent.url + GET_SCORE, {})).json();
    assert.equal(score.pss, 100);
    assert.equal(score.breakdown.timingStability, 1);
    assert.equal(score.traceCount, 2);
    const plain = await (await fetch(agent.url + "/score?by_name=1")).json();
    assert.equal(plain.pss, 100);
    assert.equal(plain.counts.traces, 2);
    assert.equal(plain.by_name[0].name, "op");
  });
});

describe("agent authentication", () => {
  test("without the bearer token: unauthenticated (401 on /score), /healthz stays open", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({
      port: 0,
      sink,
      authToken: "s3cret",
    });
    const none = new ConnectCollector({ baseUrl: agent.url });
    const wrong = new ConnectCollector({
      baseUrl: agent.url,
      headers: { authorization: "Bearer s3cret-not" },
    });
    for (const client of [none, wrong]) {
      await assert.rejects(
        client.score(),
        (error: unknown) =>
          ConnectError.from(error).code === Code.Unauthenticated,
      );
    }
    const raw = await postJson(agent.url + SUBMIT, {
      traces: [{ name: "op" }],
    });
    assert.equal(raw.status, 401);
    assert.equal((await raw.json()).code, "unauthenticated");
    const score = await fetch(agent.url + "/score");
    assert.equal(score.status, 401);
    assert.match(score.headers.get("www-authenticate") ?? "", /^Bearer/);
    await score.body?.cancel();
    const health = await fetch(agent.url + "/healthz");
    assert.equal(health.status, 200);
    await health.body?.cancel();
    assert.equal(sink.size, 0);
    assert.equal(agent.stats().unauthenticated, 4);

    await using right = new ConnectCollector({
      baseUrl: agent.url,
      headers: { authorization: "Bearer s3cret" },
    });
    right.add({ name: "op", duration: 0.1 });
    await right.flush();
    assert.equal(sink.size, 1);
    assert.equal((await right.score()).traceCount, 1);
  });
});

describe("agent exposure", () => {
  test("listening beyond loopback without a token warns at start; with a token it does not", async () => {
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => void warnings.push(args.join(" "));
    try {
      const open = await serveAgent({
        hostname: "0.0.0.0",
        port: 0,
        sink: new MemoryCollector(),
      });
      await open.close();
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /listening on 0\.0\.0\.0 without an authToken/);
      const closed = await serveAgent({
        hostname: "0.0.0.0",
        port: 0,
        sink: new MemoryCollector(),
        authToken: "t",
      });
      await closed.close();
      const local = await serveAgent({ port: 0, sink: new MemoryCollector() });
      await local.close();
      assert.equal(warnings.length, 1);
    } finally {
      console.warn = warn;
    }
  });
});

describe("agent limits and malformed input", () => {
  test("a body over maxBodyBytes gets resource_exhausted, declared or streamed, and the agent keeps serving", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink, maxBodyBytes: 1024 });
    const big = { traces: [{ name: "x".repeat(2000) }] };
    const declared = await postJson(agent.url + SUBMIT, big);
    assert.equal((await declared.json()).code, "resource_exhausted");
    // Streamed without a declared length: refused once the limit is
    // passed (the agent stops reading there).
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= 1024 * 1024) return controller.close();
        pulled += 4096;
        controller.enqueue(new TextEncoder().encode(" ".repeat(4096)));
      },
    });
    const streamed = await fetch(agent.url + SUBMIT, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    assert.equal((await streamed.json()).code, "resource_exhausted");
    const ok = await postJson(agent.url + SUBMIT, {
      traces: [{ name: "op" }],
    });
    assert.deepEqual(await ok.json(), { accepted: 1 });
  });

  test("more than maxBatchTraces in one request gets resource_exhausted, nothing of it is stored", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink, maxBatchTraces: 10 });
    const response = await postJson(agent.url + SUBMIT, {
      traces: Array.from({ length: 11 }, () => ({ name: "op" })),
    });
    assert.equal((await response.json()).code, "resource_exhausted");
    assert.equal(sink.size, 0);
    assert.equal(agent.stats().batchesTooLarge, 1);
  });

  test("malformed protobuf and JSON get invalid_argument", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink });
    const proto = await fetch(agent.url + SUBMIT, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
    });
    assert.equal(proto.status, 400);
    assert.equal((await proto.json()).code, "invalid_argument");
    const json = await fetch(agent.url + SUBMIT, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"traces": [{"name": ',
    });
    assert.equal((await json.json()).code, "invalid_argument");
    const wrongType = await postJson(agent.url + SUBMIT, {
      traces: [{ name: "op", duration: "soon" }],
    });
    assert.equal((await wrongType.json()).code, "invalid_argument");
    assert.equal(sink.size, 0);
  });

  test("a batch sent again under the same pss-batch-id is answered, not stored again; a malformed id is invalid_argument", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink });
    const batch = [{ name: "once", duration: 0.1 }, {
      name: "bad",
      duration: -1,
    }];
    const binary = (id: string) =>
      fetch(agent.url + SUBMIT, {
        method: "POST",
        headers: { "content-type": "application/proto", "pss-batch-id": id },
        body: encodeSubmitTraces(batch) as Uint8Array<ArrayBuffer>,
      });
    const json = (id: string) =>
      postJson(agent.url + SUBMIT, { traces: batch }, { "pss-batch-id": id });
    // Binary (the direct path), then JSON (the router) under the same id.
    const first = await binary("client-a-batch-1");
    assert.equal(first.status, 200);
    assert.equal(sink.size, 1);
    for (const again of [binary, json]) {
      const response = await again("client-a-batch-1");
      assert.equal(response.status, 200);
      assert.equal(sink.size, 1, "a repeated batch was stored again");
    }
    const answer = await (await json("client-a-batch-1")).json();
    assert.equal(answer.accepted, 1);
    assert.equal(answer.rejected, 1);
    assert.equal(answer.rejections[0].index, 1);
    // Another id is another batch.
    assert.equal((await json("client-a-batch-2")).status, 200);
    assert.equal(sink.size, 2);
    const stats = agent.stats();
    assert.equal(stats.duplicateBatches, 3);
    assert.equal(stats.accepted, 2);
    for (const bad of ["with space", "x".repeat(129), "é"]) {
      for (const send of [binary, json]) {
        const response = await send(bad).catch(() => undefined);
        if (response === undefined) continue; // fetch refused the header
        assert.equal(response.status, 400, bad);
        assert.equal((await response.json()).code, "invalid_argument");
      }
    }
    assert.equal(sink.size, 2);
  });

  test("a trace with NaN, negative or absurd values is rejected on its own; the rest of its batch is kept", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink });
    const response = await postJson(agent.url + SUBMIT, {
      traces: [
        { name: "good", duration: 0.1 },
        { name: "nan", duration: "NaN" },
        { name: "negative", memory: -1 },
        { name: "absurd", duration: 1e12 },
        { name: "lag", systemMetric: true, lag: -0.5 },
        { name: "good", duration: 0.2 },
      ],
    });
    const body = await response.json();
    assert.equal(body.accepted, 2);
    assert.equal(body.rejected, 4);
    assert.deepEqual(body.rejections.map((r: { index: number }) => r.index), [
      1,
      2,
      3,
      4,
    ]);
    assert.match(
      body.rejections[0].reason,
      /'duration' must be a finite number/,
    );
    assert.deepEqual(sink.snapshot().map((t) => t.duration), [0.1, 0.2]);
    assert.equal(agent.stats().rejected, 4);

    // Through ConnectCollector: counted as rejected by the agent.
    await using client = new ConnectCollector({ baseUrl: agent.url });
    client.add({ name: "bad", duration: NaN });
    client.add({ name: "fine", duration: 0.3 });
    await client.flush();
    assert.equal(client.rejected, 1);
    assert.equal(sink.size, 3);
  });

  test("bad options throw PssConfigError", () => {
    assert.throws(
      () => new ConnectCollector({ baseUrl: "ftp://x" }),
      (error: unknown) =>
        error instanceof PssConfigError &&
        /'baseUrl' must be an http/.test(error.message),
    );
    assert.throws(
      () =>
        new ConnectCollector({
          baseUrl: "http://x",
          protocol: "grpc" as "connect",
        }),
      PssConfigError,
    );
    assert.throws(
      () =>
        new ConnectCollector({ baseUrl: "http://x", batchSzie: 5 } as never),
      /did you mean 'batchSize'/,
    );
    assert.throws(
      () => createAgentHandler({ sink: {} as never }),
      /'sink' must be a collector/,
    );
    assert.throws(
      () =>
        createAgentHandler({ sink: new MemoryCollector(), maxBodyBytes: 0 }),
      PssConfigError,
    );
  });
});

describe("agent down and back up", () => {
  test("nothing is lost below the queue capacity; beyond it drops are counted", async () => {
    const sink = new MemoryCollector({ maxTraces: 100_000 });
    const port = await freePort();
    let agent = await serveAgent({ port, sink });
    const errors: unknown[] = [];
    const client = new ConnectCollector({
      baseUrl: agent.url,
      batchSize: 100,
      flushIntervalMs: 20,
      maxQueueSize: 1000,
      retryBaseMs: 20,
      retryMaxMs: 100,
      timeoutMs: 2000,
      onError: (error) => errors.push(error),
    });
    for (let i = 0; i < 300; i++) client.add({ name: "before", duration: 0.1 });
    await client.flush();
    assert.equal(sink.size, 300);

    await agent.close();
    for (let i = 0; i < 800; i++) client.add({ name: "during", duration: 0.1 });
    // Let the client fail against the closed port a few times.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(client.stats().lastError !== undefined);
    agent = await serveAgent({ port, sink });
    await client.flush();
    assert.equal(sink.size, 1100);
    assert.equal(client.stats().dropped.queueFull, 0);

    await agent.close();
    for (let i = 0; i < 1500; i++) {
      client.add({ name: "overflow", duration: 0.1 });
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    agent = await serveAgent({ port, sink });
    await client.close();
    await agent.close();
    const stats = client.stats();
    assert.equal(stats.added, 2600);
    assert.ok(stats.dropped.queueFull >= 500, JSON.stringify(stats));
    assert.equal(
      stats.sent + stats.dropped.queueFull + stats.dropped.flushFailed,
      2600,
    );
    assert.equal(sink.size, stats.sent);
  });
});

describe("the binary fast paths (Connect and gRPC-web) answer as the router does", () => {
  /** Posts `body` twice: with a declared length (the fast path) and streamed (the router). */
  async function both(
    url: string,
    body: Uint8Array,
    headers: Record<string, string> = {},
  ): Promise<
    {
      status: number;
      type: string | null;
      grpcStatus: string | null;
      bytes: Uint8Array;
    }[]
  > {
    const out = [];
    for (const streamed of [false, true]) {
      const response = await fetch(url + SUBMIT, {
        method: "POST",
        headers,
        body: streamed
          ? new ReadableStream<Uint8Array>({
            start(controller) {
              controller.enqueue(body);
              controller.close();
            },
          })
          : body,
        duplex: "half",
      } as RequestInit);
      out.push({
        status: response.status,
        type: response.headers.get("content-type"),
        grpcStatus: response.headers.get("grpc-status"),
        bytes: new Uint8Array(await response.arrayBuffer()),
      });
    }
    return out;
  }

  test("the same answer, counts and errors over both paths", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({
      port: 0,
      sink,
      maxBatchTraces: 3,
      authToken: "s3cret",
    });
    const auth = { authorization: "Bearer s3cret" };
    const cases: [string, Uint8Array, Record<string, string>][] = [
      [
        "a batch with a refused trace",
        encodeSubmitTraces([
          { name: "good", duration: 0.1 },
          { name: "negative", memory: -1 },
          { name: "good", duration: 0.2 },
        ]),
        auth,
      ],
      ["an empty batch", new Uint8Array(0), auth],
      [
        "too many traces",
        encodeSubmitTraces(
          Array.from({ length: 4 }, () => ({ name: "op" })),
        ),
        auth,
      ],
      [
        "bytes that are not a message",
        new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]),
        auth,
      ],
      [
        "no token",
        encodeSubmitTraces([{ name: "op" }]),
        {},
      ],
    ];
    for (const [what, body, headers] of cases) {
      const [fast, router] = await both(agent.url, body, {
        "content-type": "application/proto",
        ...headers,
      });
      assert.equal(fast.status, router.status, what);
      assert.equal(fast.type, router.type, what);
      if (fast.type === "application/json") {
        // The error's code is the same; Connect words some messages its
        // own way.
        const code = (bytes: Uint8Array) =>
          JSON.parse(new TextDecoder().decode(bytes)).code;
        assert.equal(code(fast.bytes), code(router.bytes), what);
      } else {
        assert.deepEqual(fast.bytes, router.bytes, what);
      }
    }
    // gRPC-web: the same message in one envelope, and the answer and the
    // trailer (or the error's status) read back.
    const status = (answer: { bytes: Uint8Array; grpcStatus: string | null }) =>
      answer.grpcStatus ?? /grpc-status: ?(\d+)/.exec(
        new TextDecoder().decode(answer.bytes),
      )?.[1];
    for (const [what, body, headers] of cases) {
      const framed = new Uint8Array(5 + body.length);
      new DataView(framed.buffer).setUint32(1, body.length);
      framed.set(body, 5);
      const [fast, router] = await both(agent.url, framed, {
        "content-type": "application/grpc-web+proto",
        "x-grpc-web": "1",
        ...headers,
      });
      assert.equal(fast.status, router.status, what);
      assert.equal(fast.type, router.type, what);
      assert.equal(status(fast), status(router), what);
      if (status(fast) === "0") {
        assert.deepEqual(fast.bytes, router.bytes, what);
      }
    }
    // Two accepted per path and protocol for the first case, nothing else.
    assert.equal(sink.size, 8);
    const stats = agent.stats();
    assert.equal(stats.accepted, 8);
    assert.equal(stats.rejected, 4);
    assert.equal(stats.batchesTooLarge, 4);
    assert.equal(stats.unauthenticated, 4);
  });
});

describe("ConnectExporter's errors, over Connect and gRPC-web alike", () => {
  test("a wrong token is permanent, a refused connection or a 503 is retried, a timed-out call is in doubt", async () => {
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, sink, authToken: "t" });
    const closed = `http://127.0.0.1:${await freePort()}`;
    const plain = await runtime.http.serveHttp(() =>
      new Response("busy", { status: 503 })
    );
    // Reads the call, then answers only when the test ends.
    const hold = Promise.withResolvers<void>();
    const silent = await runtime.http.serveHttp(async (request) => {
      await request.arrayBuffer();
      await hold.promise;
      return new Response(null, { status: 503 });
    });
    try {
      for (const protocol of ["connect", "grpc-web"] as const) {
        const wrong = new ConnectExporter({
          baseUrl: agent.url,
          protocol,
          headers: { authorization: "Bearer nope" },
        });
        await assert.rejects(
          wrong.export([{ name: "op" }]),
          (error: unknown) =>
            error instanceof PermanentExportError &&
            ConnectError.from(error.cause).code === Code.Unauthenticated,
          protocol,
        );
        for (const baseUrl of [closed, plain.url.replace(/\/$/, "")]) {
          const down = new ConnectExporter({ baseUrl, protocol });
          await assert.rejects(
            down.export([{ name: "op" }]),
            (error: unknown) =>
              !(error instanceof PermanentExportError) &&
              !(error instanceof ExportInDoubtError),
            `${protocol} ${baseUrl}`,
          );
        }
        // A call that outlives its deadline may still be stored: in doubt.
        const slow = new ConnectExporter({
          baseUrl: silent.url.replace(/\/$/, ""),
          protocol,
          timeoutMs: 100,
        });
        await assert.rejects(
          slow.export([{ name: "op" }]),
          (error: unknown) =>
            error instanceof ExportInDoubtError &&
            ConnectError.from(error.cause).code === Code.DeadlineExceeded,
          protocol,
        );
        const right = new ConnectExporter({
          baseUrl: agent.url,
          protocol,
          headers: { authorization: "Bearer t" },
        });
        await right.export([{ name: "ok" }, { name: "bad", duration: -1 }]);
        assert.equal(right.rejected, 1, protocol);
        assert.match(right.lastRejection ?? "", /^trace 1: /, protocol);
      }
      assert.equal(sink.size, 2);
    } finally {
      hold.resolve();
      await plain.shutdown();
      await silent.shutdown();
    }
  });
});
