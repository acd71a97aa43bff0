/**
 * How fast does ConnectCollector ship traces to the agent over loopback,
 * compared with the floor: the same traces, already encoded as
 * `SubmitTracesRequest` bytes, posted with plain `fetch` (one request in
 * flight, as the collector has) to a bare handler that reads and discards
 * the body? Batches of 500.
 *
 * Also: the agent's intake (the same encoded bytes posted to the agent,
 * which decodes, checks and stores them in a memory sink); what a shipper
 * written by hand with the runtime's native JSON would do (`JSON.stringify`
 * each batch, `fetch`, `JSON.parse` in a bare handler that keeps the
 * objects), the cheapest way to move traces as objects from one side to the
 * other with what the runtime offers; and, for contrast, pypss's way of
 * shipping: one gRPC call per trace, measured once with python3-grpcio when
 * it is installed.
 *
 * Deno: `npx deno bench -A bench/connect_bench.ts`. Bun:
 * `npx bun bench/connect_bench.ts` (a small runner that stands in for
 * `Deno.bench`, printing the same ratios).
 *
 * @module
 */

import { spawn, spawnSync } from "node:child_process";
import { encodeSubmitTraces } from "../src/collect/_trace_wire.ts";
import { ConnectCollector } from "../src/collect/connect.ts";
import { MemoryCollector } from "../src/collect/memory.ts";
import { serveAgent } from "../src/agent/mod.ts";
import { runtime } from "../src/runtime/adapter.ts";
import { type BenchDefinition, benchTraces, runBenches } from "./_runner.ts";

const TRACES = 10_000;
const BATCH = 500;
const SUBMIT = "/pss.v1.TraceService/SubmitTraces";

const traces = benchTraces(TRACES);
const bodies: Uint8Array<ArrayBuffer>[] = [];
for (let start = 0; start < TRACES; start += BATCH) {
  // The very bytes ConnectCollector sends (tests/agent/wire_test.ts checks
  // they are what protobuf-es writes).
  bodies.push(
    Uint8Array.from(encodeSubmitTraces(traces.slice(start, start + BATCH))),
  );
}

let discarded = 0;
const bare = await runtime.http.serveHttp(async (request) => {
  discarded += (await request.arrayBuffer()).byteLength;
  return new Response(null, { status: 200 });
});
const bareUrl = bare.url.replace(/\/$/, "");
let parsed = 0;
const bareJson = await runtime.http.serveHttp(async (request) => {
  const batch = JSON.parse(await request.text()) as unknown[];
  parsed += batch.length;
  return new Response(null, { status: 200 });
});
const bareJsonUrl = bareJson.url.replace(/\/$/, "");
const sink = new MemoryCollector({ maxTraces: TRACES });
const agent = await serveAgent({ port: 0, sink });

async function postAll(url: string): Promise<void> {
  for (const body of bodies) {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/proto",
        "connect-protocol-version": "1",
      },
      body,
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await response.arrayBuffer();
  }
}

/** Each batch as JSON text, made in the measured section, posted in turn. */
async function postJsonBatches(url: string): Promise<void> {
  for (let start = 0; start < TRACES; start += BATCH) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(traces.slice(start, start + BATCH)),
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await response.arrayBuffer();
  }
}

const collectors = {
  connect: new ConnectCollector({
    baseUrl: agent.url,
    protocol: "connect",
    batchSize: BATCH,
    maxQueueSize: TRACES,
    flushIntervalMs: 60_000,
  }),
  "grpc-web": new ConnectCollector({
    baseUrl: agent.url,
    protocol: "grpc-web",
    batchSize: BATCH,
    maxQueueSize: TRACES,
    flushIntervalMs: 60_000,
  }),
};

const group = `ship ${TRACES} traces over loopback, batches of ${BATCH}`;
const definitions: BenchDefinition[] = [
  {
    name: "fetch of the encoded bytes to a bare handler (floor)",
    group,
    baseline: true,
    fn: async (b) => {
      b.start();
      await postAll(bareUrl + SUBMIT);
      b.end();
    },
  },
  {
    name: "native JSON by hand: stringify, fetch, JSON.parse in a bare handler",
    group,
    fn: async (b) => {
      b.start();
      await postJsonBatches(bareJsonUrl + SUBMIT);
      b.end();
    },
  },
  {
    name: "agent intake: the encoded bytes to the agent, memory sink",
    group,
    fn: async (b) => {
      await sink.clear();
      b.start();
      await postAll(agent.url + SUBMIT);
      b.end();
      if (sink.size !== TRACES) throw new Error(`sink holds ${sink.size}`);
    },
  },
];
for (const [protocol, collector] of Object.entries(collectors)) {
  definitions.push({
    name: `ConnectCollector (${protocol}) to the agent, memory sink`,
    group,
    fn: async (b) => {
      await sink.clear();
      b.start();
      for (let i = 0; i < TRACES; i++) collector.add(traces[i]);
      await collector.flush();
      b.end();
      if (sink.size !== TRACES) throw new Error(`sink holds ${sink.size}`);
    },
  });
}

/** pypss's shape: one unary gRPC call per trace, from python3-grpcio. */
async function pypssRate(): Promise<string> {
  const python = "/usr/bin/python3";
  if (spawnSync(python, ["-c", "import grpc"]).status !== 0) {
    return "pypss-style per-trace gRPC: skipped (python3-grpcio missing)";
  }
  await using grpcAgent = await serveAgent({
    port: 0,
    grpcPort: 0,
    sink: new MemoryCollector({ maxTraces: 100_000 }),
  });
  const script = `
import grpc, struct, sys, time
def msg(i):
    name = b"op.%d" % (i % 20)
    return (b"\\x12" + bytes([len(name)]) + name + b"\\x31" + struct.pack("<d", 0.001 + i * 1e-7)
            + b"\\x79" + struct.pack("<d", 1.7e9 + i))
call = grpc.insecure_channel(sys.argv[1]).unary_unary("/pypss.TraceService/SubmitTrace",
    request_serializer=lambda b: b, response_deserializer=lambda b: b)
n = 2000
payloads = [msg(i) for i in range(n)]
for p in payloads[:100]:
    call(p, timeout=10)
start = time.perf_counter()
for p in payloads:
    call(p, timeout=10)
print(n / (time.perf_counter() - start))
`;
  // Asynchronously: the agent answering the calls runs in this process.
  const run = await new Promise<
    { status: number | null; stdout: string; stderr: string }
  >(
    (resolve) => {
      const child = spawn(python, ["-c", script, grpcAgent.grpcTarget!]);
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("close", (status) => resolve({ status, stdout, stderr }));
    },
  );
  if (run.status !== 0) {
    return `pypss-style per-trace gRPC: failed (${run.stderr.trim()})`;
  }
  return `pypss-style per-trace gRPC (python3-grpcio, blocking unary calls to the agent's gRPC port): ${
    Math.round(Number(run.stdout))
  } traces/s`;
}

console.log(await pypssRate());

await runBenches(definitions, {
  describe: (_definition, ms) => `, ${Math.round(TRACES / ms * 1000)} traces/s`,
  done: async () => {
    if (discarded < 0 || parsed < 0) console.log(discarded, parsed);
    for (const collector of Object.values(collectors)) await collector.close();
    await agent.close();
    await bare.shutdown();
    await bareJson.shutdown();
  },
});
