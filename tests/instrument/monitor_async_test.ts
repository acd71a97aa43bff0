import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorAsync } from "../../src/instrument/monitor_async.ts";
import { resetInstrumentation } from "../../src/instrument/settings.ts";
import { ArrayCollector, sleep } from "./_helpers.ts";

afterEach(() => {
  resetInstrumentation();
});

describe("monitorAsync()", () => {
  test("records an async trace whose whole duration counts as waiting", async () => {
    const collector = new ArrayCollector();
    {
      await using _ = monitorAsync("fetch_data", {
        branchTag: "network_io",
        collector,
      });
      await sleep(15);
    }
    const [trace] = collector.recorded;
    assert.equal(trace.name, "fetch_data");
    assert.equal(trace.branchTag, "network_io");
    assert.equal(trace.asyncOp, true);
    assert.ok(trace.duration! >= 0.014, `duration ${trace.duration}`);
    assert.equal(trace.waitTime, trace.duration);
    assert.equal(trace.cpuTime, 0);
    assert.ok(trace.memory! > 0);
  });

  test("300 overlapping blocks in Promise.all each record their own name, tag and duration", async () => {
    const collector = new ArrayCollector();
    const sleepMs = (i: number): number => 1 + (i % 10) * 3;
    await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        await using _block = monitorAsync(`op-${i}`, {
          branchTag: `tag-${i % 3}`,
          collector,
        });
        await sleep(sleepMs(i));
      }),
    );
    assert.equal(collector.recorded.length, 300);
    const byName = new Map(collector.recorded.map((t) => [t.name, t]));
    assert.equal(byName.size, 300);
    for (let i = 0; i < 300; i++) {
      const trace = byName.get(`op-${i}`)!;
      assert.equal(trace.branchTag, `tag-${i % 3}`);
      // Timers may fire up to a millisecond early against performance.now().
      assert.ok(
        trace.duration! >= (sleepMs(i) - 1) / 1000,
        `op-${i}: ${trace.duration} < ${sleepMs(i)} ms`,
      );
    }
  });

  test("nested async blocks record inner before outer, outer lasting longer", async () => {
    const collector = new ArrayCollector();
    {
      await using _outer = monitorAsync("outer", { collector });
      await sleep(3);
      {
        await using _inner = monitorAsync("inner", { collector });
        await sleep(5);
      }
    }
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "inner",
      "outer",
    ]);
    const [inner, outer] = collector.recorded;
    assert.ok(outer.duration! >= inner.duration!);
    assert.ok(outer.duration! >= 0.007);
  });

  test("wait() counts the yields routed through it in yieldCount", async () => {
    const collector = new ArrayCollector();
    {
      await using block = monitorAsync("steps", { collector });
      assert.equal(await block.wait(Promise.resolve(1)), 1);
      await block.wait(sleep(1));
      assert.equal(await block.wait(3), 3);
    }
    assert.equal(collector.recorded[0].yieldCount, 3);
  });

  test("leaves yieldCount out when nothing was counted", async () => {
    const collector = new ArrayCollector();
    {
      await using _ = monitorAsync("plain", { collector });
      await sleep(1);
    }
    assert.equal("yieldCount" in collector.recorded[0], false);
  });

  test("fail() records the rejection reason", async () => {
    const collector = new ArrayCollector();
    await assert.rejects(async () => {
      await using block = monitorAsync("io", { collector });
      try {
        await Promise.reject(new TypeError("socket closed"));
      } catch (error) {
        block.fail(error);
        throw error;
      }
    }, TypeError);
    const [trace] = collector.recorded;
    assert.equal(trace.error, true);
    assert.equal(trace.exceptionType, "TypeError");
    assert.equal(trace.exceptionMessage, "socket closed");
  });
});
