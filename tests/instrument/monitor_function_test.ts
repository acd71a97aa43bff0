import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorFunction } from "../../src/instrument/monitor_function.ts";
import {
  configureInstrumentation,
  resetInstrumentation,
} from "../../src/instrument/settings.ts";
import { setGlobalCollector } from "../../src/collect/memory.ts";
import type { Collector } from "../../src/collect/collector.ts";
import { PssConfigError } from "../../src/score/config.ts";
import { ArrayCollector, busyWait, sleep } from "./_helpers.ts";

afterEach(() => {
  resetInstrumentation();
});

describe("monitorFunction()", () => {
  test("a synchronous function stays synchronous and returns its value", () => {
    const collector = new ArrayCollector();
    const square = monitorFunction("square", { collector })((n: number) => {
      busyWait(5);
      return n * n;
    });
    const result = square(7);
    assert.equal(result, 49);
    assert.equal(collector.recorded.length, 1);
    const [trace] = collector.recorded;
    assert.equal(trace.name, "square");
    assert.ok(trace.duration! >= 0.004);
    assert.equal(trace.asyncOp, undefined);
  });

  test("passes this and every argument through", () => {
    const collector = new ArrayCollector();
    const counter = {
      base: 10,
      add: monitorFunction("add", { collector })(
        function (this: { base: number }, a: number, b: number, c: number) {
          return this.base + a + b + c;
        },
      ),
    };
    assert.equal(counter.add(1, 2, 3), 16);
  });

  test("keeps the wrapped function's name", () => {
    function loadUser(): void {}
    assert.equal(monitorFunction("x")(loadUser).name, "loadUser");
  });

  test("records a thrown error and re-throws the same object", () => {
    const collector = new ArrayCollector();
    class QuotaExceeded extends Error {}
    const thrown = new QuotaExceeded("over quota");
    const failing = monitorFunction("charge", {
      collector,
      branchTag: "card",
    })(() => {
      throw thrown;
    });
    let caught: unknown;
    try {
      failing();
    } catch (error) {
      caught = error;
    }
    assert.equal(caught, thrown);
    const [trace] = collector.recorded;
    assert.equal(trace.error, true);
    assert.equal(trace.exceptionType, "QuotaExceeded");
    assert.equal(trace.exceptionMessage, "over quota");
    assert.equal(trace.branchTag, "card");
  });

  test("records a thrown non-error value by its type", () => {
    const collector = new ArrayCollector();
    const failing = monitorFunction("legacy", { collector })(() => {
      throw "plain string";
    });
    assert.throws(() => failing(), (e) => e === "plain string");
    assert.equal(collector.recorded[0].exceptionType, "string");
    assert.equal(collector.recorded[0].exceptionMessage, "plain string");
  });

  test("an async function's trace ends when its promise settles", async () => {
    const collector = new ArrayCollector();
    const fetchData = monitorFunction("fetch", { collector })(
      async (ms: number) => {
        await sleep(ms);
        return { ok: true };
      },
    );
    const promise = fetchData(12);
    assert.ok(promise instanceof Promise);
    assert.equal(collector.recorded.length, 0);
    assert.deepEqual(await promise, { ok: true });
    const [trace] = collector.recorded;
    assert.equal(trace.asyncOp, true);
    assert.ok(trace.duration! >= 0.011, `duration ${trace.duration}`);
    assert.equal(trace.waitTime, trace.duration);
  });

  test("records an async rejection and rejects with the same object", async () => {
    const collector = new ArrayCollector();
    const reason = new RangeError("no such page");
    const fetchPage = monitorFunction("page", { collector })(async () => {
      await sleep(1);
      throw reason;
    });
    await assert.rejects(fetchPage(), (e) => e === reason);
    const [trace] = collector.recorded;
    assert.equal(trace.error, true);
    assert.equal(trace.exceptionType, "RangeError");
    assert.equal(trace.exceptionMessage, "no such page");
    assert.equal(trace.asyncOp, true);
  });

  test("a non-native thenable comes back untouched and is never run; the call is recorded as synchronous", async () => {
    const collector = new ArrayCollector();
    let ran = 0;
    const builder = {
      sql: "select 1",
      then(resolve: (rows: string[]) => void): void {
        ran++;
        resolve(["row"]);
      },
    };
    const query = monitorFunction("query", { collector })(() => builder);
    const result = query();
    assert.equal(result, builder);
    assert.equal(result.sql, "select 1");
    await sleep(5);
    assert.equal(ran, 0, "the thenable was run although nobody awaited it");
    assert.equal(collector.recorded.length, 1);
    assert.equal(collector.recorded[0].asyncOp, undefined);
    assert.equal(collector.recorded[0].error, false);
    assert.deepEqual(await result, ["row"]);
    assert.equal(ran, 1);
    assert.equal(collector.recorded.length, 1);
  });

  test("rejects a bad rate when wrapping, so no call ever throws it", () => {
    for (const options of [{ sampleRate: 2 }, { errorSampleRate: -0.5 }]) {
      assert.throws(
        () => monitorFunction("f", options)(() => 1),
        (error: unknown) =>
          error instanceof PssConfigError &&
          /must be a number from 0 to 1: got (2|-0\.5)$/.test(error.message),
      );
    }
    const options: { sampleRate: number; collector: ArrayCollector } = {
      sampleRate: 1,
      collector: new ArrayCollector(),
    };
    const f = monitorFunction("f", options)((n: number) => n * 2);
    options.sampleRate = 7; // mutated after wrapping: the wrapper kept a copy
    assert.equal(f(2), 4);
    assert.equal(options.collector.recorded.length, 1);
  });

  test("rejects something that is not a function when wrapping", () => {
    assert.throws(
      () => monitorFunction("f")(42 as unknown as () => void),
      PssConfigError,
    );
  });
});

describe("monitorFunction() without options", () => {
  let collector: ArrayCollector;
  let previous: Collector;
  beforeEach(() => {
    collector = new ArrayCollector();
    previous = setGlobalCollector(collector);
  });
  afterEach(() => {
    setGlobalCollector(previous);
  });

  test("records a sync call to the global collector with the full trace", () => {
    const square = monitorFunction("square")((n: number) => {
      busyWait(3);
      return n * n;
    });
    assert.equal(square(6), 36);
    const [trace] = collector.recorded;
    assert.deepEqual(Object.keys(trace), [
      "name",
      "duration",
      "waitTime",
      "memory",
      "error",
      "timestamp",
      "host",
      "pid",
    ]);
    assert.equal(trace.name, "square");
    assert.ok(trace.duration! >= 0.0025, `duration ${trace.duration}`);
    assert.equal(trace.error, false);
  });

  test("follows the global cpu and sampling settings at each call, captureSource at wrapping", () => {
    const work = monitorFunction("work")(() => busyWait(3));
    configureInstrumentation({ cpu: true });
    work();
    configureInstrumentation({ cpu: false, captureSource: true });
    const located = monitorFunction("located")(() => busyWait(1));
    located();
    configureInstrumentation({ captureSource: false, sampleRate: 0 });
    work();
    assert.equal(collector.recorded.length, 2);
    const [cpu, source] = collector.recorded;
    assert.ok(cpu.cpuTime! > 0, `cpuTime ${cpu.cpuTime}`);
    assert.equal(cpu.filename, undefined);
    assert.ok(source.filename?.endsWith("monitor_function_test.ts"));
    assert.equal(source.cpuTime, undefined);
  });
});
