import { afterEach, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { monitorFunction } from "../../src/instrument/monitor_function.ts";
import { monitored } from "../../src/instrument/monitored.ts";
import { setGlobalCollector } from "../../src/collect/memory.ts";
import type { Collector } from "../../src/collect/collector.ts";
import { ArrayCollector, busyWait, sleep } from "./_helpers.ts";
import { spawnRuntime } from "../fixtures/spawn.ts";

let collector: ArrayCollector;
let previous: Collector;

beforeEach(() => {
  collector = new ArrayCollector();
  previous = setGlobalCollector(collector);
});

afterEach(() => {
  setGlobalCollector(previous);
});

describe("monitorFunction() passes promises through", () => {
  test("returns the very promise an async function made", async () => {
    let made: Promise<number> | undefined;
    const original = (): Promise<number> => {
      made = (async () => {
        await sleep(2);
        return 7;
      })();
      return made;
    };
    const wrapped = monitorFunction("same")(original);
    const result = wrapped();
    assert.equal(result, made);
    assert.equal(await result, 7);
    assert.equal(collector.recorded.length, 1);
    assert.equal(collector.recorded[0].asyncOp, true);
    assert.equal(collector.recorded[0].error, false);
  });

  test("keeps a rejected promise the same object and records its error", async () => {
    const reason = new TypeError("bad row");
    let made: Promise<never> | undefined;
    const wrapped = monitorFunction("rejects")(() => {
      made = Promise.reject(reason);
      return made;
    });
    const result = wrapped();
    assert.equal(result, made);
    await assert.rejects(result, (error) => error === reason);
    await sleep(0);
    assert.equal(collector.recorded[0].error, true);
    assert.equal(collector.recorded[0].exceptionType, "TypeError");
  });

  test("adds no unhandled rejection when the caller handles it (Deno and Bun subprocesses)", async () => {
    for (const runtime of ["deno", "bun"] as const) {
      const result = await spawnRuntime(runtime, "rejection_script.ts", [], {
        deadlineMs: 60_000,
      });
      assert.equal(result.code, 0, `${runtime}: ${result.stderr}`);
      assert.equal(result.stdout.trim(), "clean exit", runtime);
    }
  });

  test("a rejection nobody handles is recorded, and no longer ends the process (Deno and Bun subprocesses)", async () => {
    // Observing a promise means attaching a handler, and a handler marks it
    // as handled: JavaScript has no way to watch a promise without that.
    // Re-throwing would add an unhandled rejection for every caller that
    // does handle it, so the documented cost is this one.
    for (const runtime of ["deno", "bun"] as const) {
      const [bare, wrapped] = await Promise.all(
        ["bare", "wrapped"].map((how) =>
          spawnRuntime(runtime, "unhandled_rejection_script.ts", [how], {
            deadlineMs: 60_000,
          })
        ),
      );
      assert.notEqual(bare.code, 0, `${runtime} bare: ${bare.stdout}`);
      assert.match(bare.stderr, /nobody handles me/, runtime);
      assert.equal(wrapped.code, 0, `${runtime} wrapped: ${wrapped.stderr}`);
      assert.equal(wrapped.stdout.trim(), "clean exit, 1 error recorded");
    }
  });

  test("never calls then() of a thenable it did not make", () => {
    let calls = 0;
    const thenable = {
      then(): void {
        calls++;
      },
    };
    const wrapped = monitorFunction("thenable")(() => thenable);
    assert.equal(wrapped(), thenable);
    assert.equal(calls, 0);
    assert.equal(collector.recorded.length, 1);
  });
});

describe("monitorFunction() decides what to follow without running the caller's code", () => {
  test("never reads then of a returned object that is not a Promise", () => {
    let reads = 0;
    const lazy = {
      get then(): undefined {
        reads++;
        return undefined;
      },
    };
    const wrapped = monitorFunction("lazy")(() => lazy);
    assert.equal(wrapped(), lazy);
    assert.equal(reads, 0);
    assert.equal(collector.recorded.length, 1);
  });

  test("a Promise subclass with its own then is a thenable: untouched, recorded as synchronous", async () => {
    let calls = 0;
    class Deferred<T> extends Promise<T> {
      // deno-lint-ignore no-explicit-any
      override then(...args: any[]): any {
        calls++;
        return super.then(...args);
      }
    }
    const deferred = new Deferred<number>((resolve) => resolve(1));
    const wrapped = monitorFunction("deferred")(() => deferred);
    assert.equal(wrapped(), deferred);
    await sleep(0);
    assert.equal(calls, 0);
    assert.equal(collector.recorded.length, 1);
    assert.equal(collector.recorded[0].asyncOp, undefined);
  });

  test("a Promise subclass keeping the native then is followed; its constructor runs once more, as when awaited", async () => {
    let made = 0;
    class Tracked<T> extends Promise<T> {
      constructor(
        executor: (
          resolve: (value: T) => void,
          reject: (reason: unknown) => void,
        ) => void,
      ) {
        super(executor);
        made++;
      }
    }
    const tracked = new Tracked<number>((resolve) => setTimeout(resolve, 2, 5));
    const wrapped = monitorFunction("tracked")(() => tracked);
    assert.equal(wrapped(), tracked);
    assert.equal(made, 2, "then() made one derived promise of the subclass");
    assert.equal(collector.recorded.length, 0);
    assert.equal(await tracked, 5);
    await sleep(0);
    assert.equal(collector.recorded.length, 1);
    assert.equal(collector.recorded[0].asyncOp, true);
  });

  test("a proxy of a promise, which the native then refuses, comes back untouched and recorded as synchronous", async () => {
    const promise = Promise.resolve(3);
    const proxy = new Proxy(promise, {});
    const wrapped = monitorFunction("proxy")(() => proxy);
    assert.equal(wrapped(), proxy);
    assert.equal(collector.recorded.length, 1);
    assert.equal(collector.recorded[0].asyncOp, undefined);
    assert.equal(await promise, 3);
  });

  test("a plain function returning a generator object is followed as a generator function is", async () => {
    function* letters(): Generator<string> {
      yield "a";
      busyWait(3);
      yield "b";
    }
    async function* numbers(): AsyncGenerator<number> {
      yield 1;
      await sleep(2);
      yield 2;
    }
    const sync = monitorFunction("letters")(() => letters());
    const generator = sync();
    assert.equal(collector.recorded.length, 0, "recorded at creation");
    assert.deepEqual([...generator], ["a", "b"]);
    const asyncWrapped = monitorFunction("numbers")(() => numbers());
    for await (const _ of asyncWrapped()) { /* consume */ }
    await sleep(0);
    assert.deepEqual(
      collector.recorded.map((t) => [t.name, t.asyncOp, t.yieldCount]),
      [["letters", undefined, undefined], ["numbers", true, 2]],
    );
    assert.ok(collector.recorded[0].duration! >= 0.002);
  });
});

describe("monitorFunction() follows generators to completion", () => {
  test("times a generator from creation to its last value, and returns the generator itself", () => {
    function* count(n: number): Generator<number, string> {
      for (let i = 0; i < n; i++) {
        busyWait(3);
        yield i;
      }
      return "done";
    }
    const wrapped = monitorFunction("count")(count);
    const generator = wrapped(3);
    assert.equal(
      Object.prototype.toString.call(generator),
      "[object Generator]",
    );
    assert.equal(collector.recorded.length, 0, "recorded at creation");
    assert.deepEqual([...generator], [0, 1, 2]);
    assert.equal(collector.recorded.length, 1);
    const [trace] = collector.recorded;
    assert.equal(trace.name, "count");
    assert.equal(trace.error, false);
    assert.ok(trace.duration! >= 0.008, `duration ${trace.duration}`);
    assert.deepEqual(generator.next(), { value: undefined, done: true });
    assert.equal(collector.recorded.length, 1, "recorded twice");
  });

  test("records an error thrown while iterating, which still reaches the consumer", () => {
    const failure = new RangeError("row 2");
    const rows = monitorFunction("rows")(function* () {
      yield 1;
      throw failure;
    });
    const seen: number[] = [];
    assert.throws(() => {
      for (const row of rows()) seen.push(row);
    }, (error) => error === failure);
    assert.deepEqual(seen, [1]);
    const [trace] = collector.recorded;
    assert.equal(trace.error, true);
    assert.equal(trace.exceptionType, "RangeError");
    assert.equal(trace.exceptionMessage, "row 2");
  });

  test("records a generator the consumer closes early (break, return())", () => {
    let closed = false;
    const endless = monitorFunction("endless")(function* () {
      try {
        for (let i = 0;; i++) yield i;
      } finally {
        closed = true;
      }
    });
    for (const value of endless()) {
      if (value === 2) break;
    }
    assert.equal(closed, true);
    assert.equal(collector.recorded.length, 1);
    assert.equal(collector.recorded[0].error, false);

    const unstarted = endless();
    assert.deepEqual(unstarted.return(undefined as never), {
      value: undefined,
      done: true,
    });
    assert.equal(collector.recorded.length, 2);
  });

  test("times an async generator until it ends, counting each value it yields", async () => {
    const pages = monitorFunction("pages")(async function* (n: number) {
      for (let i = 0; i < n; i++) {
        await sleep(4);
        yield i;
      }
    });
    const generator = pages(3);
    assert.equal(
      Object.prototype.toString.call(generator),
      "[object AsyncGenerator]",
    );
    const seen: number[] = [];
    for await (const page of generator) seen.push(page);
    assert.deepEqual(seen, [0, 1, 2]);
    await sleep(0);
    assert.equal(collector.recorded.length, 1);
    const [trace] = collector.recorded;
    assert.equal(trace.asyncOp, true);
    assert.equal(trace.yieldCount, 3);
    assert.equal(trace.error, false);
    assert.ok(trace.duration! >= 0.01, `duration ${trace.duration}`);
  });

  test("records an async generator's error and its early close", async () => {
    const failure = new Error("stream reset");
    const stream = monitorFunction("stream")(async function* (fail: boolean) {
      yield 1;
      await sleep(1);
      if (fail) throw failure;
      yield 2;
      yield 3;
    });
    await assert.rejects(async () => {
      for await (const _ of stream(true)) { /* consume */ }
    }, (error) => error === failure);
    for await (const value of stream(false)) {
      if (value === 2) break;
    }
    await sleep(0);
    assert.deepEqual(
      collector.recorded.map((t) => [t.error, t.yieldCount]),
      [[true, 1], [false, 2]],
    );
    assert.equal(collector.recorded[0].exceptionMessage, "stream reset");
  });

  test("@monitored generator methods are followed too", async () => {
    class Store {
      @monitored()
      *keys(): Generator<string> {
        yield "a";
        yield "b";
      }

      @monitored()
      async *values(): AsyncGenerator<number> {
        yield 1;
      }
    }
    const store = new Store();
    assert.deepEqual([...store.keys()], ["a", "b"]);
    for await (const _ of store.values()) { /* consume */ }
    await sleep(0);
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "Store.keys",
      "Store.values",
    ]);
  });
});

describe("@monitored names Class.method before the first call", () => {
  test("a detached first call does not fix the name", () => {
    class Api {
      @monitored()
      ping(): string {
        return "pong";
      }
    }
    const { ping } = new Api();
    ping();
    new Api().ping();
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "Api.ping",
      "Api.ping",
    ]);
  });

  test("a call through the prototype before any instance exists", () => {
    class Early {
      @monitored()
      run(): number {
        return 1;
      }
    }
    Early.prototype.run.call(undefined);
    new Early().run();
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "run",
      "Early.run",
    ]);
  });

  test("static methods, detached and inherited", () => {
    class Factory {
      @monitored()
      static make(): number {
        return 1;
      }
    }
    class SubFactory extends Factory {}
    const { make } = Factory;
    make();
    SubFactory.make();
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "Factory.make",
      "Factory.make",
    ]);
  });

  test("inherited and overridden instance methods keep their declaring class", () => {
    class Base {
      @monitored()
      run(): string {
        return "base";
      }
    }
    class Inherits extends Base {}
    class Overrides extends Base {
      @monitored()
      override run(): string {
        return `over ${super.run()}`;
      }
    }
    const { run } = new Inherits();
    run.call(undefined);
    assert.equal(new Overrides().run(), "over base");
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "Base.run",
      "Base.run",
      "Overrides.run",
    ]);
  });
});

describe("@monitored names the declaring class in the edge cases", () => {
  /** A decorator applied after @monitored, wrapping what it returned. */
  function logged<F extends (...args: never[]) => unknown>(
    method: F,
    _context: ClassMethodDecoratorContext,
  ): F {
    return function (this: unknown, ...args: never[]) {
      return method.apply(this, args);
    } as F;
  }

  test("another decorator stacked on top does not lose the class", () => {
    class Jobs {
      @logged
      @monitored()
      run(): number {
        return 1;
      }

      @monitored()
      @logged
      stop(): number {
        return 2;
      }

      @logged
      @monitored()
      static create(): Jobs {
        return new Jobs();
      }
    }
    class Override extends Jobs {
      @logged
      @monitored()
      override run(): number {
        return super.run() + 1;
      }
    }
    assert.equal(new Override().run(), 2); // a subclass instance first
    const jobs = Jobs.create();
    jobs.run();
    jobs.stop();
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "Jobs.run",
      "Override.run",
      "Jobs.create",
      "Jobs.run",
      "Jobs.stop",
    ]);
  });

  test("private methods are named Class.#method, instance and static, also from a subclass", () => {
    class Vault {
      @monitored()
      #open(): string {
        return "open";
      }

      @monitored()
      static #seal(): string {
        return "sealed";
      }

      use(): string {
        return `${this.#open()} ${Vault.#seal()}`;
      }
    }
    class SubVault extends Vault {}
    assert.equal(new SubVault().use(), "open sealed");
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "Vault.#open",
      "Vault.#seal",
    ]);
  });

  test("the name is fixed once: a call never walks the prototypes again", () => {
    class Once {
      @logged
      @monitored()
      run(): number {
        return 1;
      }
    }
    const once = new Once();
    let walks = 0;
    const watched = new Proxy(once, {
      getPrototypeOf(target) {
        walks++;
        return Object.getPrototypeOf(target);
      },
    });
    Once.prototype.run.call(watched);
    Once.prototype.run.call(watched);
    assert.equal(walks, 0);
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "Once.run",
      "Once.run",
    ]);
  });

  test("an anonymous class is named by the method alone, fixed at the first instance", () => {
    const Anonymous = (() =>
      class {
        @monitored()
        run(): number {
          return 1;
        }
      })();
    const instance = new Anonymous();
    instance.run();
    instance.run();
    assert.deepEqual(collector.recorded.map((t) => t.name), ["run", "run"]);
  });
});

describe("@monitored without decorator metadata (an older transpiler)", () => {
  /** Decorates `run` of `klass` by hand, with a context that has no metadata. */
  function decorate(klass: { prototype: object }, stacked: boolean): void {
    const initializers: Array<(this: unknown) => void> = [];
    const context = {
      kind: "method",
      name: "run",
      static: false,
      private: false,
      metadata: undefined,
      addInitializer: (init: (this: unknown) => void) =>
        initializers.push(init),
    } as unknown as ClassMethodDecoratorContext;
    const original = (klass.prototype as { run: () => number }).run;
    const wrapped = monitored()(original, context);
    const installed = stacked
      ? function (this: unknown) {
        return wrapped.call(this);
      }
      : wrapped;
    Object.defineProperty(klass.prototype, "run", { value: installed });
    // What the runtime would do for the first instance, here the subclass's.
    const first =
      new (class extends (klass as unknown as new () => object) {})();
    for (const init of initializers) init.call(first);
  }

  test("the holder whose method is the wrapper names it, or the first holder that owns the key", () => {
    class Plain {
      run(): number {
        return 1;
      }
    }
    class Stacked {
      run(): number {
        return 2;
      }
    }
    decorate(Plain, false);
    decorate(Stacked, true);
    new Plain().run();
    new Stacked().run();
    assert.deepEqual(collector.recorded.map((t) => t.name), [
      "Plain.run",
      "Stacked.run",
    ]);
  });
});
