import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  computePss,
  type Trace,
  traceFromJson,
  traceIdOf,
  traceToJson,
} from "../mod.ts";
import { isScorableTrace } from "../src/score/mod.ts";
import { parseWireNumber, stringifyTrace } from "../src/trace.ts";
import { hostname } from "node:os";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { spawnRuntime } from "./fixtures/spawn.ts";

describe("traceFromJson()", () => {
  test("reads every pypss wire field into its camelCase field", () => {
    const trace = traceFromJson({
      trace_id: "t-1",
      name: "db.query",
      filename: "app.py",
      lineno: 42,
      module: "app",
      duration: 0.25,
      cpu_time: 0.1,
      wait_time: 0.15,
      memory: 1024,
      memory_diff: -16,
      error: true,
      exception_type: "ValueError",
      exception_message: "boom",
      branch_tag: "cache_miss",
      timestamp: 1_700_000_000.5,
      async_op: true,
      yield_count: 3,
      system_metric: false,
      metadata: { region: "eu" },
    });
    assert.deepEqual(trace, {
      traceId: "t-1",
      name: "db.query",
      filename: "app.py",
      lineno: 42,
      module: "app",
      duration: 0.25,
      cpuTime: 0.1,
      waitTime: 0.15,
      memory: 1024,
      memoryDiff: -16,
      error: true,
      exceptionType: "ValueError",
      exceptionMessage: "boom",
      branchTag: "cache_miss",
      timestamp: 1_700_000_000.5,
      asyncOp: true,
      yieldCount: 3,
      metadata: { region: "eu" },
    });
  });

  test("keeps pypss's top-level tags as tags, with a nested metadata object winning", () => {
    const trace = traceFromJson({
      trace_id: "1700000000.5-42",
      name: "checkout",
      duration: 0.1,
      error: false,
      request_id: "r-9",
      tenant: { id: 3 },
      metadata: { tenant: "nested" },
    });
    assert.deepEqual(trace?.metadata, { request_id: "r-9", tenant: "nested" });
    assert.equal(
      traceFromJson({ name: "a", duration: 1 })?.metadata,
      undefined,
    );
  });

  test("reads pss's host and pid, and ignores a pid that is not a whole number", () => {
    assert.deepEqual(
      traceFromJson({ name: "a", host: "web-1", pid: 4242 }),
      { name: "a", host: "web-1", pid: 4242 },
    );
    assert.equal(traceFromJson({ name: "a", pid: "12" })?.pid, undefined);
    assert.equal(traceFromJson({ name: "a", pid: -1 })?.pid, undefined);
    assert.equal(traceFromJson({ name: "a", pid: 1.5 })?.pid, undefined);
  });

  test("returns undefined, without throwing, for values that are not records", () => {
    for (
      const value of [
        null,
        undefined,
        "garbage",
        "",
        42,
        NaN,
        Infinity,
        true,
        [],
        [{ name: "a", duration: 1 }],
        () => {},
      ]
    ) {
      assert.equal(traceFromJson(value), undefined, String(value));
    }
  });

  test("accepts numeric strings and booleans in numeric fields, as pypss does", () => {
    const cases: [unknown, number][] = [
      ["0.5", 0.5],
      [" 1e-3 ", 0.001],
      ["\t2\n", 2],
      ["1_000", 1000],
      [".5", 0.5],
      ["5.", 5],
      ["+3", 3],
      [true, 1],
      [false, 0],
    ];
    for (const [raw, expected] of cases) {
      assert.equal(
        traceFromJson({ name: "op", duration: raw })?.duration,
        expected,
        JSON.stringify(raw),
      );
    }
  });

  test("rejects a record whose scored numeric field is null, not numeric, NaN, infinite or negative", () => {
    const bad: unknown[] = [
      null,
      "abc",
      "",
      "1__0",
      "_1",
      "0x10",
      "inf",
      "nan",
      "Infinity",
      NaN,
      Infinity,
      -Infinity,
      -0.5,
      "-1",
      [],
      {},
    ];
    for (const field of ["duration", "memory", "wait_time"]) {
      for (const value of bad) {
        assert.equal(
          traceFromJson({ name: "op", [field]: value }),
          undefined,
          `${field}: ${String(value)}`,
        );
      }
    }
  });

  test("treats a missing numeric field as absent (scored as 0)", () => {
    const trace = traceFromJson({ name: "op" });
    assert.deepEqual(trace, { name: "op" });
    assert.equal(computePss([trace!]).traceCount, 1);
  });

  test("reads error with Python truthiness, except the strings 'false' and '0'", () => {
    const cases: [unknown, boolean][] = [
      [true, true],
      [false, false],
      [1, true],
      [0, false],
      [2.5, true],
      ["ValueError", true],
      ["", false],
      ["false", false],
      ["0", false],
      [null, false],
      [[], false],
      [{}, false],
      [[0], true],
      [{ a: 1 }, true],
    ];
    for (const [raw, expected] of cases) {
      assert.equal(
        traceFromJson({ name: "op", error: raw })?.error,
        expected,
        JSON.stringify(raw),
      );
    }
  });

  test("keeps a branch tag only when it is a non-empty string", () => {
    assert.equal(
      traceFromJson({ name: "op", branch_tag: "hit" })?.branchTag,
      "hit",
    );
    for (const tag of ["", 7, null, true, ["a"]]) {
      const trace = traceFromJson({ name: "op", branch_tag: tag });
      assert.ok(trace !== undefined);
      assert.equal(trace.branchTag, undefined, JSON.stringify(tag));
    }
  });

  test("reads a system trace's lag and rejects a bad one", () => {
    const good = traceFromJson({
      name: "__event_loop_health__",
      system_metric: true,
      metadata: { lag: "0.02", active_tasks: 3, churn_rate: 1.5 },
    });
    assert.deepEqual(good?.metadata, {
      lag: 0.02,
      active_tasks: 3,
      churn_rate: 1.5,
    });
    assert.equal(good?.systemMetric, true);
    for (const lag of [null, "slow", NaN, -0.1, Infinity]) {
      assert.equal(
        traceFromJson({ system_metric: 1, metadata: { lag } }),
        undefined,
        String(lag),
      );
    }
    // A system trace without lag is kept (it just contributes nothing).
    assert.equal(
      traceFromJson({ system_metric: true, metadata: {} })?.systemMetric,
      true,
    );
  });

  test("ignores scored-field garbage on system traces, which pypss never reads", () => {
    const trace = traceFromJson({
      system_metric: true,
      duration: "abc",
      metadata: { lag: 0.5 },
    });
    assert.equal(trace?.systemMetric, true);
    assert.equal(trace?.duration, undefined);
  });

  test("never pollutes prototypes through __proto__ keys", () => {
    const parsed = JSON.parse(
      '{"name":"op","duration":1,"__proto__":{"polluted":true},' +
        '"metadata":{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}}',
    );
    const trace = traceFromJson(parsed);
    assert.ok(trace !== undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.equal(Object.getPrototypeOf(trace), Object.prototype);
    assert.equal(Object.getPrototypeOf(trace.metadata), Object.prototype);
    assert.equal(
      (trace.metadata as Record<string, unknown>).polluted,
      undefined,
    );
    assert.ok(Object.hasOwn(trace.metadata!, "__proto__"));
    assert.equal(
      (trace as unknown as Record<string, unknown>).polluted,
      undefined,
    );
  });

  test("ignores inherited properties of the input", () => {
    const input = Object.create({ duration: -5, name: "inherited" });
    input.name = "own";
    assert.deepEqual(traceFromJson(input), { name: "own" });
  });

  test("does not keep a reference to the input's metadata", () => {
    const metadata: Record<string, unknown> = { a: 1 };
    const trace = traceFromJson({ name: "op", metadata });
    metadata.a = 2;
    assert.equal(trace?.metadata?.a, 1);
  });

  test("coerces a numeric name to a string and a missing one to ''", () => {
    assert.equal(traceFromJson({ name: 12 })?.name, "12");
    assert.equal(traceFromJson({ duration: 1 })?.name, "");
  });
});

describe("traceToJson()", () => {
  test("writes every pypss key in pypss order, with defaults for absent fields", () => {
    const json = traceToJson({ name: "op", duration: 0.5 });
    assert.deepEqual(Object.keys(json), [
      "trace_id",
      "name",
      "filename",
      "lineno",
      "module",
      "duration",
      "cpu_time",
      "wait_time",
      "memory",
      "memory_diff",
      "error",
      "exception_type",
      "exception_message",
      "branch_tag",
      "timestamp",
      "async_op",
      "yield_count",
      "system_metric",
      "host",
      "pid",
    ]);
    assert.equal(json.duration, 0.5);
    assert.equal(json.error, false);
    assert.equal(json.branch_tag, null);
    assert.equal(json.memory, 0);
    assert.equal(json.host, null);
    assert.equal(json.pid, null);
    assert.equal(typeof json.trace_id, "string");
  });

  test("writes a regular trace's tags as top-level keys, as pypss does, and schema-named ones nested", () => {
    const json = traceToJson({
      name: "op",
      duration: 0.5,
      metadata: { region: "eu", name: "clash", __proto__tag: 1 },
    });
    assert.equal(json.region, "eu");
    assert.equal(json.name, "op");
    assert.deepEqual(json.metadata, { name: "clash" });
    const back = traceFromJson(JSON.parse(JSON.stringify(json)));
    assert.deepEqual(back?.metadata, {
      region: "eu",
      name: "clash",
      __proto__tag: 1,
    });
  });

  test("writes a tag named __proto__ as a key, never as the prototype", () => {
    const metadata = JSON.parse('{"__proto__":{"polluted":true},"route":"/a"}');
    const json = traceToJson({ name: "op", metadata });
    assert.equal(Object.getPrototypeOf(json), Object.prototype);
    assert.ok(Object.hasOwn(json, "__proto__"));
    assert.match(
      JSON.stringify(json),
      /"__proto__":\{"polluted":true\},"route":"\/a"\}$/,
    );
    assert.equal(({} as { polluted?: boolean }).polluted, undefined);
  });

  test("keeps a system trace's measurements in a nested metadata object", () => {
    const json = traceToJson({
      name: "__event_loop_health__",
      systemMetric: true,
      metadata: { lag: 0.02, active_tasks: 3 },
    });
    assert.deepEqual(json.metadata, { lag: 0.02, active_tasks: 3 });
    assert.equal(json.lag, undefined);
  });

  test("gives a trace without an id one, and keeps it across encodings", () => {
    const trace: Trace = { name: "op" };
    const first = traceToJson(trace).trace_id as string;
    assert.match(first, /^[0-9a-f]{24}-[0-9]+$/);
    assert.equal(trace.traceId, first);
    assert.equal(traceToJson(trace).trace_id, first);
    assert.equal(traceToJson({ name: "x", traceId: "kept" }).trace_id, "kept");
    const ids = new Set(
      Array.from({ length: 1000 }, () => traceIdOf({ name: "op" })),
    );
    assert.equal(ids.size, 1000);
    const frozen = Object.freeze({ name: "frozen" });
    assert.notEqual(traceIdOf(frozen), traceIdOf(frozen));
  });

  test("round-trips through JSON text and traceFromJson", () => {
    const original: Trace = {
      traceId: "x",
      name: "op",
      module: "m",
      duration: 0.012,
      cpuTime: 0.01,
      waitTime: 0.002,
      memory: 123456,
      memoryDiff: -8,
      error: true,
      exceptionType: "TypeError",
      exceptionMessage: "bad",
      branchTag: "b",
      timestamp: 1_800_000_000.25,
      asyncOp: true,
      yieldCount: 2,
      host: "web-1",
      pid: 4242,
      metadata: { requestId: "r1" },
    };
    const back = traceFromJson(
      JSON.parse(JSON.stringify(traceToJson(original))),
    );
    // filename is null on the wire and absent after reading; lineno is 0.
    assert.deepEqual(back, { ...original, lineno: 0 });
  });
});

describe("parseWireNumber()", () => {
  test("returns undefined for what Python's float() would reject", () => {
    for (
      const value of ["", " ", "abc", "1e", "e5", "1.2.3", "--1", null, {}, []]
    ) {
      assert.equal(parseWireNumber(value), undefined, JSON.stringify(value));
    }
  });
});

describe("isScorableTrace()", () => {
  test("accepts missing fields and rejects negative or non-finite scored ones", () => {
    assert.equal(isScorableTrace({ name: "op" }), true);
    assert.equal(isScorableTrace({ name: "op", duration: 0 }), true);
    assert.equal(isScorableTrace({ name: "op", duration: -1 }), false);
    assert.equal(isScorableTrace({ name: "op", memory: NaN }), false);
    assert.equal(isScorableTrace({ name: "op", waitTime: Infinity }), false);
    assert.equal(
      isScorableTrace({ name: "op", duration: "1" as unknown as number }),
      false,
    );
    assert.equal(
      isScorableTrace({ name: "s", systemMetric: true, metadata: { lag: -1 } }),
      false,
    );
  });

  test("computePss skips and counts traces that are not scorable", () => {
    const report = computePss([
      { name: "op", duration: 0.1 },
      { name: "op", duration: -1 },
      { name: "op", duration: NaN },
      { name: "lag", systemMetric: true, metadata: { lag: "x" } },
    ]);
    assert.equal(report.traceCount, 1);
    assert.equal(report.skippedCount, 3);
    assert.equal(Number.isNaN(report.pss), false);
  });
});

describe("stringifyTrace()", () => {
  test("encodes a plain trace exactly as JSON.stringify(traceToJson())", () => {
    const trace: Trace = { name: "op", duration: 0.5, branchTag: "b" };
    assert.equal(stringifyTrace(trace), JSON.stringify(traceToJson(trace)));
  });

  test("replaces metadata it cannot serialise (BigInt, cycles) with a note", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const metadata of [{ id: 1n }, cyclic]) {
      const back = JSON.parse(
        stringifyTrace({ name: "op", duration: 0.25, metadata }),
      );
      assert.equal(back.name, "op");
      assert.equal(back.duration, 0.25);
      assert.equal(typeof back.pss_unserializable_metadata, "string");
      assert.equal(
        typeof traceFromJson(back)?.metadata?.pss_unserializable_metadata,
        "string",
      );
    }
  });

  test("leaves out any other field it cannot serialise and keeps the rest", () => {
    const back = JSON.parse(
      stringifyTrace({
        name: "op",
        duration: 2n as unknown as number,
        memory: 64,
      }),
    );
    assert.equal(back.duration, undefined);
    assert.equal(back.memory, 64);
    assert.equal(traceFromJson(back)?.memory, 64);
  });
});

describe("trace identity across processes", () => {
  test("a Deno and a Bun process give distinct trace ids and their own pid and host", async () => {
    const results = await Promise.all(
      (["deno", "bun", "deno"] as const).map((runtime) =>
        spawnRuntime(runtime, "identity_writer.ts", ["50"], {
          deadlineMs: 60_000,
        })
      ),
    );
    const ids = new Set<string>();
    const pids = new Set<number>();
    const hosts = new Set<string>();
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      const traces = result.stdout.trim().split("\n").map((line) =>
        traceFromJson(JSON.parse(line))!
      );
      assert.equal(traces.length, 50);
      const ownPids = new Set(traces.map((t) => t.pid));
      assert.equal(ownPids.size, 1, "one pid per process");
      for (const trace of traces) {
        ids.add(trace.traceId!);
        pids.add(trace.pid!);
        hosts.add(trace.host!);
        assert.ok(Number.isSafeInteger(trace.pid) && trace.pid! > 0);
      }
    }
    assert.equal(ids.size, 150, "trace ids collide across processes");
    assert.equal(pids.size, 3);
    assert.deepEqual([...hosts], [hostname()]);
  });

  test("Deno without --allow-sys records no host, and neither prompts nor fails", async () => {
    const root = fileURLToPath(new URL("../", import.meta.url));
    const { stdout } = await promisify(execFile)(
      join(root, "node_modules", ".bin", "deno"),
      [
        "run",
        "--no-prompt",
        `--allow-read=${root}`,
        "--allow-env",
        join(root, "tests", "fixtures", "identity_writer.ts"),
        "2",
      ],
      { cwd: root, timeout: 60_000, env: { ...process.env, NO_COLOR: "1" } },
    );
    const traces = stdout.trim().split("\n").map((line) =>
      JSON.parse(line) as Record<string, unknown>
    );
    assert.equal(traces.length, 2);
    for (const trace of traces) {
      assert.equal(trace.host, null);
      assert.equal(typeof trace.pid, "number");
    }
  });
});
