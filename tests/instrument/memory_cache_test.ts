import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorBlock } from "../../src/instrument/monitor_block.ts";
import {
  rssReadCount,
  stopMemoryRefresher,
} from "../../src/instrument/memory_cache.ts";
import {
  configureInstrumentation,
  resetInstrumentation,
} from "../../src/instrument/settings.ts";
import { ArrayCollector, busyWait } from "./_helpers.ts";

afterEach(() => {
  resetInstrumentation();
  stopMemoryRefresher();
});

describe("cached RSS", () => {
  test("monitored calls do not read RSS per call", () => {
    const collector = new ArrayCollector();
    const readsBefore = rssReadCount();
    const start = performance.now();
    for (let i = 0; i < 10_000; i++) {
      using _ = monitorBlock("op", { collector });
    }
    const elapsedMs = performance.now() - start;
    const reads = rssReadCount() - readsBefore;
    // At most one synchronous read per 100 ms of blocked loop, plus the first.
    assert.ok(
      reads <= Math.ceil(elapsedMs / 100) + 1,
      `${reads} reads in ${elapsedMs} ms`,
    );
    assert.ok(collector.recorded.every((t) => t.memory! > 0));
  });

  test("a reading older than memoryMaxAgeMs is refreshed even with the loop blocked", () => {
    configureInstrumentation({ memoryMaxAgeMs: 5 });
    {
      using _ = monitorBlock("first", { collector: new ArrayCollector() });
    }
    const readsBefore = rssReadCount();
    busyWait(20);
    {
      using _ = monitorBlock("second", { collector: new ArrayCollector() });
    }
    assert.equal(rssReadCount(), readsBefore + 1);
  });

  test("the background refresher re-reads RSS while the loop is free", async () => {
    configureInstrumentation({ memoryMaxAgeMs: 10 });
    const collector = new ArrayCollector();
    {
      using _ = monitorBlock("start", { collector });
    }
    const readsBefore = rssReadCount();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.ok(rssReadCount() > readsBefore);
  });
});
