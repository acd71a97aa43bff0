/**
 * A real gRPC client that is not JavaScript: Debian's python3-grpcio calls
 * `/pypss.TraceService/SubmitTrace` over cleartext HTTP/2 (h2c) on the
 * agent's gRPC port, exactly as pypss's GRPCCollector does. The messages
 * are encoded by hand in the script (no protoc, no generated Python).
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PYTHON_GRPC, requirePart } from "../_parts.ts";
import { MemoryCollector } from "../../src/collect/memory.ts";
import { serveAgent } from "../../src/agent/mod.ts";
import { computePss } from "../../src/score/pss.ts";

const python = requirePart(PYTHON_GRPC);

/** pypss's TraceMessage and TraceResponse, encoded and decoded by hand. */
const CLIENT = String.raw`
import json, struct, sys
import grpc

def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def field_str(no, s):
    data = s.encode()
    return varint(no << 3 | 2) + varint(len(data)) + data if data else b""

def field_int(no, n):
    return varint(no << 3) + varint(n) if n else b""

def field_double(no, x):
    return varint(no << 3 | 1) + struct.pack("<d", x) if x else b""

def trace_message(t):
    return b"".join([
        field_str(1, t.get("trace_id", "")), field_str(2, t["name"]),
        field_str(3, t.get("filename", "")), field_int(4, t.get("lineno", 0)),
        field_str(5, t.get("module", "")), field_double(6, t.get("duration", 0.0)),
        field_double(7, t.get("cpu_time", 0.0)), field_double(8, t.get("wait_time", 0.0)),
        field_int(9, t.get("memory", 0)), field_int(10, t.get("memory_diff", 0)),
        field_int(11, 1 if t.get("error") else 0), field_str(12, t.get("exception_type", "")),
        field_str(13, t.get("exception_message", "")), field_str(14, t.get("branch_tag", "")),
        field_double(15, t.get("timestamp", 0.0)),
    ])

def read_varint(data, i):
    shift = result = 0
    while True:
        b = data[i]; i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return result, i

def trace_response(data):
    out = {"success": False, "message": ""}
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        if key == (1 << 3):
            value, i = read_varint(data, i)
            out["success"] = bool(value)
        elif key == (2 << 3 | 2):
            length, i = read_varint(data, i)
            out["message"] = data[i:i + length].decode(); i += length
        else:
            raise ValueError("unexpected field %d" % key)
    return out

target, path = sys.argv[1], sys.argv[2]
traces = json.load(open(path))
channel = grpc.insecure_channel(target)
submit = channel.unary_unary(
    "/pypss.TraceService/SubmitTrace",
    request_serializer=trace_message,
    response_deserializer=trace_response,
)
results = [submit(t, timeout=10) for t in traces]
try:
    submit({"name": "x"}, timeout=10, metadata=[("authorization", "Bearer wrong")])
    results.append("no error")
except grpc.RpcError as e:
    results.append(str(e.code()))
print(json.dumps(results))
`;

function runPython(
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python as string, args, {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("pypss gRPC clients", { skip: python === false }, () => {
  test("python grpcio's SubmitTrace over h2c stores pypss traces; its loop samples become lag samples", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pss-grpc-"));
    const sink = new MemoryCollector();
    await using agent = await serveAgent({ port: 0, grpcPort: 0, sink });
    try {
      const sent = [];
      for (let i = 0; i < 50; i++) {
        sent.push({
          trace_id: `py-${i}`,
          name: i % 2 ? "py.fetch" : "py.parse",
          filename: "app.py",
          lineno: 7,
          module: "app",
          duration: 0.01 + (i % 5) / 1000,
          cpu_time: 0.002,
          wait_time: 0.003,
          memory: 40_000_000 + i,
          memory_diff: i % 2 ? -5 : 5,
          error: i % 10 === 0,
          exception_type: i % 10 === 0 ? "ValueError" : "",
          branch_tag: i % 3 ? "hit" : "",
          timestamp: 1_700_000_000 + i,
        });
      }
      for (const lag of [0.004, 0.03]) {
        sent.push({
          name: "__event_loop_health__",
          module: "pypss.system",
          wait_time: lag,
          timestamp: 1_700_000_100,
        });
      }
      sent.push({ name: "bad", duration: -1 });
      const input = join(dir, "traces.json");
      await writeFile(input, JSON.stringify(sent));
      const script = join(dir, "client.py");
      await writeFile(script, CLIENT);

      const run = await runPython([script, agent.grpcTarget!, input]);
      assert.equal(run.code, 0, run.stderr);
      const results = JSON.parse(run.stdout);
      assert.equal(results.length, 54);
      for (const result of results.slice(0, 52)) {
        assert.deepEqual(result, { success: true, message: "" });
      }
      assert.equal(results[52].success, false);
      assert.match(results[52].message, /'duration' must be a finite number/);
      // No token configured: the header is ignored and the call succeeds.
      assert.equal(results[53], "no error");

      const held = sink.snapshot();
      assert.equal(held.length, 53);
      assert.deepEqual(held[0], {
        traceId: "py-0",
        name: "py.parse",
        filename: "app.py",
        lineno: 7,
        module: "app",
        duration: 0.01,
        cpuTime: 0.002,
        waitTime: 0.003,
        memory: 40_000_000,
        memoryDiff: 5,
        error: true,
        exceptionType: "ValueError",
        timestamp: 1_700_000_000,
      });
      const loops = held.filter((trace) => trace.systemMetric);
      assert.deepEqual(loops.map((trace) => trace.metadata), [
        { lag: 0.004 },
        { lag: 0.03 },
      ]);
      const report = computePss(held);
      assert.equal(report.systemTraceCount, 2);
      assert.equal(report.traceCount, 51);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("with an authToken, a call without the token gets UNAUTHENTICATED", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pss-grpc-"));
    const sink = new MemoryCollector();
    await using agent = await serveAgent({
      port: 0,
      grpcPort: 0,
      sink,
      authToken: "right",
    });
    try {
      const input = join(dir, "traces.json");
      await writeFile(input, "[]");
      const script = join(dir, "client.py");
      await writeFile(script, CLIENT);
      const run = await runPython([script, agent.grpcTarget!, input]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), ["StatusCode.UNAUTHENTICATED"]);
      assert.equal(sink.size, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
