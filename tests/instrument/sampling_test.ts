import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorBlock } from "../../src/instrument/monitor_block.ts";
import { monitorFunction } from "../../src/instrument/monitor_function.ts";
import {
  configureInstrumentation,
  getInstrumentationSettings,
  instrumentationStats,
  resetInstrumentation,
} from "../../src/instrument/settings.ts";
import { PssConfigError } from "../../src/score/config.ts";
import { ArrayCollector, seeded } from "./_helpers.ts";

afterEach(() => {
  resetInstrumentation();
});

function runBlocks(collector: ArrayCollector, n: number): void {
  for (let i = 0; i < n; i++) {
    using _ = monitorBlock("op", { collector });
  }
}

describe("sampling", () => {
  test("sampleRate 0 records nothing and counts the calls drawn out", () => {
    configureInstrumentation({ sampleRate: 0, errorSampleRate: 0 });
    const collector = new ArrayCollector();
    runBlocks(collector, 100);
    assert.equal(collector.recorded.length, 0);
    assert.equal(instrumentationStats().sampledOut, 100);
  });

  test("sampleRate 1 records every call", () => {
    configureInstrumentation({ sampleRate: 1 });
    const collector = new ArrayCollector();
    runBlocks(collector, 100);
    assert.equal(collector.recorded.length, 100);
  });

  test("a fractional rate with a seeded random records exactly the draws below it", () => {
    const expected = Array.from({ length: 1000 }, seeded(7))
      .filter((u) => u < 0.25).length;
    configureInstrumentation({ sampleRate: 0.25, random: seeded(7) });
    const collector = new ArrayCollector();
    runBlocks(collector, 1000);
    assert.equal(collector.recorded.length, expected);
    assert.ok(expected > 200 && expected < 300);
  });

  test("a failing call drawn out by sampleRate is kept by errorSampleRate", () => {
    configureInstrumentation({ sampleRate: 0, errorSampleRate: 1 });
    const collector = new ArrayCollector();
    const maybeFail = monitorFunction("op", { collector })((fail: boolean) => {
      if (fail) throw new Error("boom");
      return 1;
    });
    for (let i = 0; i < 10; i++) {
      try {
        maybeFail(i % 2 === 0);
      } catch {
        // Expected for even i.
      }
    }
    assert.equal(collector.recorded.length, 5);
    assert.ok(collector.recorded.every((t) => t.error === true));
  });

  test("errorSampleRate 0 drops failing calls that sampleRate kept", () => {
    configureInstrumentation({ sampleRate: 1, errorSampleRate: 0 });
    const collector = new ArrayCollector();
    for (let i = 0; i < 10; i++) {
      using block = monitorBlock("op", { collector });
      if (i % 2 === 0) block.fail(new Error("boom"));
    }
    assert.equal(collector.recorded.length, 5);
    assert.ok(collector.recorded.every((t) => t.error === false));
  });

  test("failing calls are kept at errorSampleRate from the same seeded draw", () => {
    const draws = Array.from({ length: 1000 }, seeded(11));
    const expected = draws.filter((u) => u < 0.5).length;
    configureInstrumentation({
      sampleRate: 0.1,
      errorSampleRate: 0.5,
      random: seeded(11),
    });
    const collector = new ArrayCollector();
    for (let i = 0; i < 1000; i++) {
      using block = monitorBlock("op", { collector });
      block.fail(new Error("always"));
    }
    assert.equal(collector.recorded.length, expected);
  });

  test("a per-call sampleRate overrides the global one", () => {
    configureInstrumentation({ sampleRate: 1, errorSampleRate: 0 });
    const collector = new ArrayCollector();
    for (let i = 0; i < 10; i++) {
      using _ = monitorBlock("op", { collector, sampleRate: 0 });
    }
    assert.equal(collector.recorded.length, 0);
  });

  test("a random that throws keeps the call and is reported", () => {
    const seen: string[] = [];
    configureInstrumentation({
      sampleRate: 0.5,
      random: () => {
        throw new Error("no entropy");
      },
      onError: (_error, source) => seen.push(source),
    });
    const collector = new ArrayCollector();
    runBlocks(collector, 3);
    assert.equal(collector.recorded.length, 3);
    assert.deepEqual(seen, ["random", "random", "random"]);
  });
});

describe("configureInstrumentation()", () => {
  test("rejects a rate outside 0..1 with PssConfigError and changes nothing", () => {
    assert.throws(
      () => configureInstrumentation({ sampleRate: 0.5, errorSampleRate: 2 }),
      (error: unknown) =>
        error instanceof PssConfigError &&
        error.field === "errorSampleRate" &&
        error.message ===
          "Invalid pss configuration as configureInstrumentation's 'errorSampleRate' must be a number from 0 to 1: got 2",
    );
    assert.equal(getInstrumentationSettings().sampleRate, 1);
  });

  test("rejects an unknown key, naming the closest known one", () => {
    assert.throws(
      // @ts-expect-error: the typo under test
      () => configureInstrumentation({ sampelRate: 0.1 }),
      (error: unknown) =>
        error instanceof PssConfigError &&
        error.field === "sampelRate" &&
        error.message ===
          "Invalid pss configuration as 'sampelRate' is not a known option of configureInstrumentation (did you mean 'sampleRate'?): got 0.1",
    );
    assert.equal(getInstrumentationSettings().sampleRate, 1);
  });

  test("rejects options that are not an object", () => {
    for (const options of [null, undefined, 3, "x"]) {
      assert.throws(
        // @ts-expect-error: the wrong type under test
        () => configureInstrumentation(options),
        (error: unknown) =>
          error instanceof PssConfigError &&
          error.message.includes(
            "configureInstrumentation's options must be an object",
          ),
      );
    }
  });

  test("rejects a memoryMaxAgeMs that is not positive", () => {
    assert.throws(
      () => configureInstrumentation({ memoryMaxAgeMs: 0 }),
      /configureInstrumentation's 'memoryMaxAgeMs' must be a finite number > 0: got 0/,
    );
  });

  test("returns the settings in force, keeping fields left out", () => {
    configureInstrumentation({ sampleRate: 0.3 });
    const settings = configureInstrumentation({ cpu: true });
    assert.equal(settings.sampleRate, 0.3);
    assert.equal(settings.cpu, true);
    assert.equal(getInstrumentationSettings().errorSampleRate, 1);
  });
});

describe("sampling with a broken random", () => {
  afterEach(() => {
    resetInstrumentation();
  });

  test("a random outside [0, 1) keeps the call and is reported", () => {
    const seen: unknown[] = [];
    configureInstrumentation({
      sampleRate: 0.5,
      random: () => Number.NaN,
      onError: (error) => seen.push(error),
    });
    const collector = new ArrayCollector();
    runBlocks(collector, 2);
    assert.equal(collector.recorded.length, 2);
    assert.equal(seen.length, 2);
    assert.ok(seen[0] instanceof RangeError);
  });
});
