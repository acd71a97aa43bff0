import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorBlock } from "../../src/instrument/monitor_block.ts";
import { monitorAsync } from "../../src/instrument/monitor_async.ts";
import { monitorFunction } from "../../src/instrument/monitor_function.ts";
import { monitored } from "../../src/instrument/monitored.ts";
import {
  type AsyncMonitoringOptions,
  startAsyncMonitoring,
} from "../../src/instrument/loop_monitor.ts";
import {
  configureInstrumentation,
  type InstrumentationErrorSource,
  instrumentationStats,
  resetInstrumentation,
} from "../../src/instrument/settings.ts";
import {
  getGlobalCollector,
  MemoryCollector,
  type MemoryCollectorOptions,
  setGlobalCollector,
} from "../../src/collect/memory.ts";
import type { Collector } from "../../src/collect/collector.ts";
import type { MonitorOptions } from "../../src/instrument/_core.ts";
import { PssConfigError } from "../../src/score/config.ts";
import { ArrayCollector } from "./_helpers.ts";

/** Reports to onError, collected. */
function capture(): Array<[unknown, InstrumentationErrorSource]> {
  const seen: Array<[unknown, InstrumentationErrorSource]> = [];
  configureInstrumentation({
    onError: (error, source) => seen.push([error, source]),
  });
  return seen;
}

function configError(pattern: RegExp) {
  return (error: unknown): boolean =>
    error instanceof PssConfigError && pattern.test(error.message);
}

afterEach(() => {
  resetInstrumentation();
});

describe("a bad option on the hot path (monitorBlock, monitorAsync)", () => {
  test("sampleRate NaN never throws, is reported once, and the global rate applies", () => {
    const seen = capture();
    const collector = new ArrayCollector();
    for (let i = 0; i < 5; i++) {
      using _ = monitorBlock("op", {
        sampleRate: Number("not a number"),
        collector,
      });
    }
    assert.equal(collector.recorded.length, 5);
    assert.equal(seen.length, 1);
    const [error, source] = seen[0];
    assert.equal(source, "options");
    assert.ok(error instanceof PssConfigError);
    assert.equal(
      error.message,
      "Invalid pss configuration as monitorBlock's 'sampleRate' must be a number from 0 to 1: got NaN",
    );
    assert.equal(instrumentationStats().otherErrors, 1);
  });

  test("an unknown key is reported once with the closest known name; the call is recorded", () => {
    const seen = capture();
    const collector = new ArrayCollector();
    const options = { sampelRate: 0.1, collector } as MonitorOptions;
    monitorBlock("a", options).end();
    monitorBlock("b", { ...options }).end();
    assert.equal(collector.recorded.length, 2);
    assert.equal(seen.length, 1);
    assert.match(
      String((seen[0][0] as Error).message),
      /'sampelRate' is not a known option of monitorBlock \(did you mean 'sampleRate'\?\)/,
    );
  });

  test("a collector without add() is reported and the trace goes to the global collector", async () => {
    const seen = capture();
    const global = new ArrayCollector();
    const previous = setGlobalCollector(global);
    try {
      const block = monitorAsync("job", {
        collector: {} as Collector,
        branchTag: "x",
      });
      await block[Symbol.asyncDispose]();
      assert.equal(global.recorded.length, 1);
      assert.equal(global.recorded[0].branchTag, "x");
      assert.deepEqual(seen.map(([, source]) => source), ["options"]);
      assert.match(
        String((seen[0][0] as Error).message),
        /monitorAsync's 'collector' must be a Collector/,
      );
    } finally {
      setGlobalCollector(previous);
    }
  });

  test("a non-boolean cpu and a non-string branchTag are left out, each reported once", () => {
    const seen = capture();
    const collector = new ArrayCollector();
    for (let i = 0; i < 3; i++) {
      monitorBlock("op", {
        collector,
        cpu: "yes" as unknown as boolean,
        branchTag: 7 as unknown as string,
      }).end();
    }
    assert.equal(collector.recorded.length, 3);
    assert.equal(collector.recorded[0].branchTag, undefined);
    assert.equal(collector.recorded[0].cpuTime, undefined);
    assert.equal(seen.length, 2);
  });
});

describe("a bad option where a program sets things up", () => {
  test("monitorFunction throws at wrap time for an unknown key, naming the closest", () => {
    assert.throws(
      () => monitorFunction("f", { brnchTag: "x" } as MonitorOptions),
      configError(
        /'brnchTag' is not a known option of monitorFunction \(did you mean 'branchTag'\?\)/,
      ),
    );
  });

  test("monitorFunction throws at wrap time for a collector without add() or a bad cpu", () => {
    for (
      const options of [
        { collector: null },
        { collector: {} },
        { cpu: 1 },
        { module: 3 },
      ]
    ) {
      assert.throws(
        () => monitorFunction("f", options as unknown as MonitorOptions),
        PssConfigError,
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => monitorFunction("f", null as unknown as MonitorOptions),
      configError(/monitorFunction's options must be an object/),
    );
  });

  test("@monitored throws when the decorator is made", () => {
    assert.throws(
      () => monitored(undefined, { batchsize: 5 } as MonitorOptions),
      configError(/'batchsize' is not a known option of @monitored/),
    );
    assert.throws(
      () => monitored(undefined, { sampleRate: 2 }),
      configError(/@monitored's 'sampleRate' must be a number from 0 to 1/),
    );
  });

  test("startAsyncMonitoring throws for an unknown key, naming the closest", () => {
    assert.throws(
      () => startAsyncMonitoring({ intervalMS: 50 } as AsyncMonitoringOptions),
      configError(
        /'intervalMS' is not a known option of startAsyncMonitoring \(did you mean 'intervalMs'\?\)/,
      ),
    );
  });

  test("MemoryCollector throws for an unknown key, naming the closest", () => {
    assert.throws(
      () => new MemoryCollector({ maxtraces: 5 } as MemoryCollectorOptions),
      configError(
        /'maxtraces' is not a known option of MemoryCollector \(did you mean 'maxTraces'\?\)/,
      ),
    );
  });

  test("setGlobalCollector refuses what is not a collector and keeps the current one", () => {
    const current = getGlobalCollector();
    for (const value of [{}, null, undefined, 3, { add() {} }]) {
      assert.throws(
        () => setGlobalCollector(value as unknown as Collector),
        configError(/setGlobalCollector's 'collector' must be a Collector/),
      );
    }
    assert.equal(getGlobalCollector(), current);
    assert.throws(
      () => setGlobalCollector({} as Collector),
      configError(/must be a Collector, with an 'add' method: got \{\}$/),
    );
    assert.throws(
      () => setGlobalCollector({ add() {} } as unknown as Collector),
      configError(/must be a Collector, with a 'traces' method/),
    );
  });
});
