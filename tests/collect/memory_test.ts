import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { getGlobalCollector } from "../../src/collect/memory.ts";
import {
  globalCollector,
  MemoryCollector,
  monitorBlock,
  PssConfigError,
  setGlobalCollector,
  type Trace,
} from "../../mod.ts";

const op = (i: number): Trace => ({ name: "op", duration: i });

describe("MemoryCollector", () => {
  test("keeps 10,000 traces by default, like pypss", () => {
    assert.equal(new MemoryCollector().capacity, 10_000);
  });

  test("keeps the newest maxTraces in order and counts what it evicts", async () => {
    const collector = new MemoryCollector({ maxTraces: 3 });
    for (let i = 0; i < 5; i++) collector.add(op(i));
    assert.deepEqual(collector.snapshot().map((t) => t.duration), [2, 3, 4]);
    assert.deepEqual((await collector.traces()).map((t) => t.duration), [
      2,
      3,
      4,
    ]);
    assert.equal(collector.size, 3);
    assert.equal(collector.evicted, 2);
  });

  test("clear() empties it and resets the eviction count", async () => {
    const collector = new MemoryCollector({ maxTraces: 2 });
    for (let i = 0; i < 4; i++) collector.add(op(i));
    await collector.clear();
    assert.equal(collector.size, 0);
    assert.equal(collector.evicted, 0);
    collector.add(op(9));
    assert.deepEqual(collector.snapshot().map((t) => t.duration), [9]);
  });

  test("a snapshot is a copy: later adds do not change it", () => {
    const collector = new MemoryCollector();
    collector.add(op(1));
    const snapshot = collector.snapshot();
    collector.add(op(2));
    assert.equal(snapshot.length, 1);
  });

  test("rejects a maxTraces that is not a positive integer", () => {
    for (const maxTraces of [0, -1, 1.5, NaN]) {
      assert.throws(
        () => new MemoryCollector({ maxTraces }),
        (error: unknown) =>
          error instanceof PssConfigError && error.field === "maxTraces",
      );
    }
  });

  test("observers see every added trace; a throwing one never reaches add's caller", () => {
    const collector = new MemoryCollector();
    const seen: number[] = [];
    const stop = collector.observe((t) => seen.push(t.duration!));
    collector.observe(() => {
      throw new Error("observer bug");
    });
    collector.add(op(1));
    collector.add(op(2));
    stop();
    collector.add(op(3));
    assert.deepEqual(seen, [1, 2]);
    assert.equal(collector.size, 3);
  });
});

describe("the global collector", () => {
  test("setGlobalCollector replaces it for monitors and the live binding, and returns the previous one", () => {
    const mine = new MemoryCollector();
    const previous = setGlobalCollector(mine);
    try {
      assert.equal(globalCollector, mine);
      assert.equal(getGlobalCollector(), mine);
      {
        using _ = monitorBlock("global");
      }
      assert.equal(mine.snapshot()[0]?.name, "global");
    } finally {
      setGlobalCollector(previous);
    }
    assert.equal(globalCollector, previous);
  });
});
