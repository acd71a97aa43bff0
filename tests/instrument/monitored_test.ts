import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitored } from "../../src/instrument/monitored.ts";
import { resetInstrumentation } from "../../src/instrument/settings.ts";
import { ArrayCollector, sleep } from "./_helpers.ts";

afterEach(() => {
  resetInstrumentation();
});

const collector = new ArrayCollector();

class Repository {
  constructor(readonly table: string) {}

  @monitored(undefined, { collector })
  find(id: number): string {
    return `${this.table}:${id}`;
  }

  @monitored("repo.load", { collector, branchTag: "db" })
  async load(id: number): Promise<string> {
    await sleep(2);
    return this.find(id);
  }

  @monitored(undefined, { collector })
  static create(): Repository {
    return new Repository("users");
  }

  @monitored(undefined, { collector })
  broken(): never {
    throw new SyntaxError("bad query");
  }
}

class CachedRepository extends Repository {}

describe("@monitored()", () => {
  test("names the trace ClassName.method and keeps this and arguments", () => {
    collector.recorded.length = 0;
    assert.equal(new Repository("orders").find(3), "orders:3");
    assert.equal(collector.recorded[0].name, "Repository.find");
  });

  test("names by the declaring class when a subclass calls the method", () => {
    collector.recorded.length = 0;
    new CachedRepository("users").find(1);
    assert.equal(collector.recorded[0].name, "Repository.find");
  });

  test("decorates static methods", () => {
    collector.recorded.length = 0;
    assert.ok(Repository.create() instanceof Repository);
    assert.equal(collector.recorded[0].name, "Repository.create");
  });

  test("uses an explicit name and options for an async method", async () => {
    collector.recorded.length = 0;
    assert.equal(await new Repository("t").load(9), "t:9");
    const load = collector.recorded.find((t) => t.name === "repo.load")!;
    assert.equal(load.asyncOp, true);
    assert.equal(load.branchTag, "db");
    assert.ok(load.duration! >= 0.001);
  });

  test("records and re-throws a method's error", () => {
    collector.recorded.length = 0;
    assert.throws(() => new Repository("t").broken(), SyntaxError);
    assert.equal(collector.recorded[0].exceptionType, "SyntaxError");
  });

  test("used without the call (@monitored), it says to write @monitored()", () => {
    assert.throws(
      () => {
        class Bare {
          // @ts-expect-error: the decorator factory used as a decorator
          @monitored
          run(): number {
            return 1;
          }
        }
        return Bare;
      },
      /@monitored is a decorator factory: write @monitored\(\) or @monitored\("name"\)/,
    );
  });
});
