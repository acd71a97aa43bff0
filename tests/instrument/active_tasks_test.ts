import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  MemoryCollector,
  monitorAsync,
  monitorFunction,
  startAsyncMonitoring,
  type Trace,
} from "../../mod.ts";

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Keep the loop blocked so the monitor records a sample.
  }
}

function lastHealth(collector: MemoryCollector): Trace | undefined {
  return collector.snapshot().filter((t) => t.systemMetric).at(-1);
}

describe("the loop monitor's active_tasks", () => {
  test("counts monitorAsync blocks and async monitorFunction calls in flight", async () => {
    const health = new MemoryCollector();
    const traces = new MemoryCollector();
    const sleeper = monitorFunction("sleeper", { collector: traces })(
      (ms: number) => sleep(ms),
    );
    using monitor = startAsyncMonitoring({
      collector: health,
      intervalMs: 50,
      resolutionMs: 10,
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => release = resolve);
    const blocks = Array.from({ length: 3 }, async (_value, i) => {
      await using _ = monitorAsync(`block-${i}`, { collector: traces });
      await gate;
    });
    const calls = [sleeper(400), sleeper(400)];
    await sleep(60);
    busy(40); // a lag sample above the threshold, taken while 5 are in flight
    await sleep(80);
    const during = lastHealth(health);
    assert.ok(during !== undefined, "a sample was recorded");
    assert.equal(during.metadata?.active_tasks, 5);

    release();
    await Promise.all([...blocks, ...calls]);
    busy(40);
    await sleep(80);
    monitor.stop();
    assert.equal(lastHealth(health)?.metadata?.active_tasks, 0);
    assert.equal(traces.size, 5);
  });

  test("counts an async generator's step while it runs, not while it waits for its consumer", async () => {
    const health = new MemoryCollector();
    const traces = new MemoryCollector();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => release = resolve);
    const pages = monitorFunction("pages", { collector: traces })(
      async function* () {
        yield 1;
        await gate;
        yield 2;
      },
    );
    using monitor = startAsyncMonitoring({
      collector: health,
      intervalMs: 50,
      resolutionMs: 10,
    });
    const generator = pages();
    assert.deepEqual(await generator.next(), { value: 1, done: false });
    const pending = generator.next(); // waits on the gate
    await sleep(60);
    busy(40);
    await sleep(80);
    assert.equal(lastHealth(health)?.metadata?.active_tasks, 1);

    release();
    assert.deepEqual(await pending, { value: 2, done: false });
    busy(40); // suspended at a yield: waiting for its consumer
    await sleep(80);
    assert.equal(lastHealth(health)?.metadata?.active_tasks, 0);
    assert.deepEqual(await generator.next(), { value: undefined, done: true });
    monitor.stop();
    assert.equal(traces.size, 1);
  });
});
