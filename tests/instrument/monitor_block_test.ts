import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorBlock } from "../../src/instrument/monitor_block.ts";
import {
  configureInstrumentation,
  instrumentationStats,
  resetInstrumentation,
} from "../../src/instrument/settings.ts";
import {
  getGlobalCollector,
  MemoryCollector,
  setGlobalCollector,
} from "../../src/collect/memory.ts";
import type { Trace } from "../../src/trace.ts";
import { ArrayCollector, busyWait } from "./_helpers.ts";

afterEach(() => {
  resetInstrumentation();
});

describe("monitorBlock()", () => {
  test("records a duration at least as long as the work inside the block", () => {
    const collector = new ArrayCollector();
    {
      using _ = monitorBlock("busy", { collector });
      busyWait(20);
    }
    assert.equal(collector.recorded.length, 1);
    const [trace] = collector.recorded;
    assert.equal(trace.name, "busy");
    assert.ok(trace.duration! >= 0.015, `duration ${trace.duration}`);
    assert.equal(trace.error, false);
    assert.equal(trace.waitTime, 0);
    assert.equal(trace.asyncOp, undefined);
  });

  test("records the branch tag and module given as options", () => {
    const collector = new ArrayCollector();
    {
      using _ = monitorBlock("data_processing", {
        branchTag: "batch_start",
        module: "etl",
        collector,
      });
    }
    assert.equal(collector.recorded[0].branchTag, "batch_start");
    assert.equal(collector.recorded[0].module, "etl");
  });

  test("tag() sets the branch tag from inside the block", () => {
    const collector = new ArrayCollector();
    for (const hit of [true, false]) {
      using block = monitorBlock("get_user", { collector });
      block.tag(hit ? "cache_hit" : "cache_miss");
    }
    assert.deepEqual(collector.recorded.map((t) => t.branchTag), [
      "cache_hit",
      "cache_miss",
    ]);
  });

  test("fail() records the error flag, class name and message", () => {
    const collector = new ArrayCollector();
    class ParseFailure extends Error {}
    assert.throws(() => {
      using block = monitorBlock("parse", { collector });
      try {
        throw new ParseFailure("bad input");
      } catch (error) {
        block.fail(error);
        throw error;
      }
    }, ParseFailure);
    const [trace] = collector.recorded;
    assert.equal(trace.error, true);
    assert.equal(trace.exceptionType, "ParseFailure");
    assert.equal(trace.exceptionMessage, "bad input");
  });

  test("records a trace once even when ended twice", () => {
    const collector = new ArrayCollector();
    {
      using block = monitorBlock("once", { collector });
      block.end();
      block.tag("late").fail(new Error("late"));
    }
    assert.equal(collector.recorded.length, 1);
    assert.equal(collector.recorded[0].branchTag, undefined);
    assert.equal(collector.recorded[0].error, false);
  });

  test("nested blocks each record their own trace, inner first", () => {
    const collector = new ArrayCollector();
    {
      using _outer = monitorBlock("outer", { collector });
      busyWait(2);
      {
        using _inner = monitorBlock("inner", { collector });
        busyWait(5);
      }
    }
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "inner",
      "outer",
    ]);
    const [inner, outer] = collector.recorded;
    assert.ok(outer.duration! >= inner.duration!);
    assert.ok(inner.duration! >= 0.004);
  });

  test("records the epoch timestamp of the end of the block, in seconds", () => {
    const collector = new ArrayCollector();
    const before = Date.now() / 1000;
    {
      using _ = monitorBlock("when", { collector });
    }
    const after = Date.now() / 1000;
    const { timestamp } = collector.recorded[0];
    // One second of slack: Date.now() and performance.timeOrigin may drift.
    assert.ok(timestamp! >= before - 1 && timestamp! <= after + 1);
  });

  test("records the process RSS as a positive number of bytes", () => {
    const collector = new ArrayCollector();
    {
      using _ = monitorBlock("mem", { collector });
    }
    const { memory } = collector.recorded[0];
    assert.equal(typeof memory, "number");
    assert.ok(Number.isInteger(memory) && memory! > 0, `memory ${memory}`);
  });

  test("leaves memory out when the memory setting is off", () => {
    configureInstrumentation({ memory: false });
    const collector = new ArrayCollector();
    {
      using _ = monitorBlock("mem", { collector });
    }
    assert.equal("memory" in collector.recorded[0], false);
  });

  test("goes to the global collector in force when the block ends", () => {
    const first = new MemoryCollector();
    const second = new MemoryCollector();
    const previous = setGlobalCollector(first);
    try {
      {
        using _ = monitorBlock("switch");
        setGlobalCollector(second);
      }
      assert.equal(first.size, 0);
      assert.equal(second.snapshot()[0].name, "switch");
      assert.equal(getGlobalCollector(), second);
    } finally {
      setGlobalCollector(previous);
    }
  });

  test("with cpu on, records CPU time and waitTime = max(0, duration - cpuTime)", () => {
    const collector = new ArrayCollector();
    {
      using _ = monitorBlock("cpu", { collector, cpu: true });
      busyWait(20);
    }
    const trace = collector.recorded[0];
    assert.equal(typeof trace.cpuTime, "number");
    assert.ok(trace.cpuTime! > 0, `cpuTime ${trace.cpuTime}`);
    assert.equal(
      trace.waitTime,
      Math.max(0, trace.duration! - trace.cpuTime!),
    );
  });

  test("a collector whose add throws does not reach the caller and is counted", () => {
    const seen: [unknown, string][] = [];
    configureInstrumentation({
      onError: (error, source) => seen.push([error, source]),
    });
    const failure = new Error("collector down");
    const collector = new ArrayCollector();
    collector.add = (_trace: Trace): void => {
      throw failure;
    };
    const result = (() => {
      using _ = monitorBlock("work", { collector });
      return 42;
    })();
    assert.equal(result, 42);
    assert.equal(instrumentationStats().collectorErrors, 1);
    assert.deepEqual(seen, [[failure, "collector"]]);
  });

  test("a throwing onError is counted, never thrown", () => {
    configureInstrumentation({
      onError: () => {
        throw new Error("hook down");
      },
    });
    const collector = new ArrayCollector();
    collector.add = (): void => {
      throw new Error("collector down");
    };
    {
      using _ = monitorBlock("work", { collector });
    }
    assert.equal(instrumentationStats().onErrorFailures, 1);
  });

  test("with captureSource on, records the file and line that started the block", () => {
    configureInstrumentation({ captureSource: true });
    const collector = new ArrayCollector();
    {
      using _ = monitorBlock("where", { collector });
    }
    const trace = collector.recorded[0];
    assert.ok(
      trace.filename?.endsWith("monitor_block_test.ts"),
      `filename ${trace.filename}`,
    );
    assert.ok(Number.isInteger(trace.lineno) && trace.lineno! > 0);
  });
});
