import { afterEach, beforeEach, describe, test } from "node:test";
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
import type { Collector } from "../../src/collect/collector.ts";
import { withTags } from "../../src/instrument/context.ts";
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

  test("records the epoch timestamp of the start of the block, in seconds, as pypss does", () => {
    const collector = new ArrayCollector();
    const before = Date.now() / 1000;
    {
      using _outer = monitorBlock("outer", { collector });
      busyWait(60);
      using _inner = monitorBlock("inner", { collector });
    }
    const after = Date.now() / 1000;
    const [inner, outer] = collector.recorded;
    assert.deepEqual([inner.name, outer.name], ["inner", "outer"]);
    // The outer block ended last but started 60 ms before the inner one.
    assert.ok(
      inner.timestamp! - outer.timestamp! >= 0.055,
      `outer ${outer.timestamp}, inner ${inner.timestamp}`,
    );
    // One second of slack: Date.now() and performance.timeOrigin may drift.
    assert.ok(outer.timestamp! >= before - 1 && outer.timestamp! <= after + 1);
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

  test("the default onError warns once per kind of failure, each kind limited on its own", () => {
    const printed: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]): void => {
      printed.push(args.map(String).join(" "));
    };
    try {
      const diskFull = new ArrayCollector();
      diskFull.add = (): void => {
        throw Object.assign(new Error("no space left"), { code: "ENOSPC" });
      };
      for (let i = 0; i < 3; i++) {
        monitorBlock("save", { collector: diskFull }).end();
      }
      // A different failure right after is printed at once, not held back
      // behind the first one's minute.
      monitorBlock("save", { sampleRate: NaN }).end();
      for (let i = 0; i < 3; i++) {
        monitorBlock("save", { collector: diskFull }).end();
      }
    } finally {
      console.warn = warn;
    }
    assert.equal(printed.length, 2, printed.join("\n"));
    assert.match(
      printed[0],
      /^\[pss\] instrumentation: collector: no space left$/,
    );
    assert.match(printed[1], /^\[pss\] instrumentation: options: .*sampleRate/);
    assert.equal(instrumentationStats().collectorErrors, 6);
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

/**
 * A block without options takes the plain fast path; these check that it
 * behaves exactly like any other block, also once the JIT has optimized it.
 */
describe("monitorBlock() without options", () => {
  let collector: ArrayCollector;
  let previous: Collector;
  beforeEach(() => {
    collector = new ArrayCollector();
    previous = setGlobalCollector(collector);
  });
  afterEach(() => {
    setGlobalCollector(previous);
  });

  test("records name, duration, waitTime, memory, error and timestamp", () => {
    const before = Date.now() / 1000;
    {
      using _ = monitorBlock("plain");
      busyWait(5);
    }
    const after = Date.now() / 1000;
    assert.equal(collector.recorded.length, 1);
    const trace = collector.recorded[0];
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
    assert.equal(trace.name, "plain");
    assert.ok(trace.duration! >= 0.004, `duration ${trace.duration}`);
    assert.equal(trace.waitTime, 0);
    assert.ok(Number.isInteger(trace.memory) && trace.memory! > 0);
    assert.equal(trace.error, false);
    assert.ok(trace.timestamp! >= before - 1 && trace.timestamp! <= after + 1);
  });

  test("tag() and fail() still reach the trace", () => {
    {
      using block = monitorBlock("tagged");
      block.tag("cache_hit");
    }
    {
      using block = monitorBlock("failed");
      block.fail(new TypeError("bad"));
    }
    const [tagged, failed] = collector.recorded;
    assert.equal(tagged.branchTag, "cache_hit");
    assert.equal(tagged.error, false);
    assert.equal(failed.error, true);
    assert.equal(failed.exceptionType, "TypeError");
    assert.equal(failed.exceptionMessage, "bad");
  });

  test("records once when ended twice, ignoring later tag() and fail()", () => {
    {
      using block = monitorBlock("once");
      block.end();
      block.tag("late").fail(new Error("late"));
      block.end();
    }
    assert.equal(collector.recorded.length, 1);
    assert.equal(collector.recorded[0].branchTag, undefined);
    assert.equal(collector.recorded[0].error, false);
  });

  test("overlapping blocks ended out of order each record their own trace", () => {
    const first = monitorBlock("first");
    busyWait(2);
    const second = monitorBlock("second");
    busyWait(2);
    first.end();
    busyWait(2);
    second.end();
    const [a, b] = collector.recorded;
    assert.deepEqual([a.name, b.name], ["first", "second"]);
    assert.ok(a.timestamp! <= b.timestamp!);
    assert.ok(a.duration! >= 0.0035 && b.duration! >= 0.0035);
  });

  test("follows settings changed between blocks: sampling, cpu, memory", () => {
    configureInstrumentation({ sampleRate: 0, errorSampleRate: 0 });
    {
      using _ = monitorBlock("drawn_out");
    }
    configureInstrumentation({ sampleRate: 1, errorSampleRate: 1, cpu: true });
    {
      using _ = monitorBlock("cpu");
      busyWait(5);
    }
    configureInstrumentation({ cpu: false, memory: false });
    {
      using _ = monitorBlock("no_memory");
    }
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "cpu",
      "no_memory",
    ]);
    const [cpu, noMemory] = collector.recorded;
    assert.ok(cpu.cpuTime! > 0, `cpuTime ${cpu.cpuTime}`);
    assert.equal("memory" in noMemory, false);
  });

  test("inside withTags(), carries the tags in metadata", () => {
    withTags({ requestId: "r-7" }, () => {
      using _ = monitorBlock("tagged_request");
    });
    {
      using _ = monitorBlock("untagged");
    }
    const [inside, outside] = collector.recorded;
    assert.deepEqual(inside.metadata, { requestId: "r-7" });
    assert.equal(typeof inside.memory, "number");
    assert.equal("metadata" in outside, false);
  });

  test("a global collector whose add throws is counted, never thrown", () => {
    configureInstrumentation({ onError: () => {} });
    collector.add = (): void => {
      throw new Error("collector down");
    };
    const result = (() => {
      using _ = monitorBlock("work");
      return 42;
    })();
    assert.equal(result, 42);
    assert.equal(instrumentationStats().collectorErrors, 1);
  });

  test("records every block of a hot loop correctly once optimized", () => {
    const n = 30_000;
    for (let i = 0; i < n; i++) {
      using block = monitorBlock("hot");
      if (i % 1000 === 999) block.tag("every_1000th");
      if (i === n - 1) block.fail(new RangeError("last"));
    }
    const traces = collector.recorded;
    assert.equal(traces.length, n);
    assert.ok(traces.every((t) => t.name === "hot" && t.duration! >= 0));
    assert.equal(
      traces.filter((t) => t.branchTag === "every_1000th").length,
      30,
    );
    assert.equal(traces.filter((t) => t.error).length, 1);
    assert.equal(traces[n - 1].exceptionType, "RangeError");
    for (let i = 1; i < n; i++) {
      assert.ok(traces[i].timestamp! >= traces[i - 1].timestamp!);
    }
  });
});
