import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorAsync } from "../../src/instrument/monitor_async.ts";
import { monitorBlock } from "../../src/instrument/monitor_block.ts";
import {
  currentTags,
  tagsFollowAwait,
  withTags,
} from "../../src/instrument/context.ts";
import { resetInstrumentation } from "../../src/instrument/settings.ts";
import { ArrayCollector, sleep } from "./_helpers.ts";

afterEach(() => {
  resetInstrumentation();
});

describe("withTags()", () => {
  test("follows await on Deno and Bun", () => {
    assert.equal(tagsFollowAwait, true);
  });

  test("tags traces recorded after awaits and in timers", async () => {
    const collector = new ArrayCollector();
    await withTags({ requestId: "r-1" }, async () => {
      await sleep(1);
      {
        await using _ = monitorAsync("after_await", { collector });
        await sleep(1);
      }
      await new Promise<void>((resolve) =>
        setTimeout(() => {
          using _ = monitorBlock("in_timer", { collector });
          resolve();
        }, 1)
      );
    });
    assert.deepEqual(
      collector.recorded.map((t) => [t.name, t.metadata]),
      [
        ["after_await", { requestId: "r-1" }],
        ["in_timer", { requestId: "r-1" }],
      ],
    );
  });

  test("keeps concurrent chains apart", async () => {
    const collector = new ArrayCollector();
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) =>
          withTags({ requestId: i }, async () => {
            await sleep(i % 5);
            await using _ = monitorAsync(`req-${i}`, { collector });
            await sleep(1);
          }),
      ),
    );
    assert.equal(collector.recorded.length, 50);
    for (const trace of collector.recorded) {
      assert.equal(trace.name, `req-${trace.metadata?.requestId}`);
    }
  });

  test("nested calls merge, the inner value winning", () => {
    const collector = new ArrayCollector();
    withTags({ tenant: "a", stage: "outer" }, () => {
      withTags({ stage: "inner" }, () => {
        using _ = monitorBlock("op", { collector });
      });
    });
    assert.deepEqual(collector.recorded[0].metadata, {
      tenant: "a",
      stage: "inner",
    });
  });

  test("traces outside any withTags carry no metadata", async () => {
    const collector = new ArrayCollector();
    await withTags({ a: 1 }, () => sleep(1));
    {
      using _ = monitorBlock("outside", { collector });
    }
    assert.equal(collector.recorded[0].metadata, undefined);
    assert.equal(currentTags(), undefined);
  });

  test("returns the callback's result and freezes a copy of the tags", () => {
    const tags = { user: "u1" };
    const seen = withTags(tags, () => currentTags());
    tags.user = "changed";
    assert.equal(seen?.user, "u1");
    assert.ok(Object.isFrozen(seen));
  });
});
