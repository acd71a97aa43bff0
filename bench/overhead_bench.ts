/**
 * What does monitoring one block cost, next to the cheapest possible timing
 * of it and next to an OpenTelemetry span?
 *
 * Deno: `deno bench -A bench/overhead_bench.ts` (ratios against the
 * `using` floor). Bun has no `Deno.bench`: `bun bench/overhead_bench.ts`
 * runs the same cases with a calibrated loop and prints the same ratios.
 *
 * @module
 */

import { trace } from "@opentelemetry/api";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-base";
import { bench } from "../src/bench/mod.ts";
import {
  monitorBlock,
  type MonitorOptions,
} from "../src/instrument/monitor_block.ts";
import { configureInstrumentation } from "../src/instrument/settings.ts";
import { monitorAsync } from "../src/instrument/monitor_async.ts";
import { monitorFunction } from "../src/instrument/monitor_function.ts";

const GROUP = "overhead of one monitored empty block";

/**
 * Results land here so the JIT cannot delete the work. A typed-array slot,
 * not a module `let`: V8 boxes a double stored in a context slot, which
 * would add an allocation to the floors.
 */
const sink = new Float64Array(1);

/** Floor (b): the least a `using` timer can do. */
class MinimalTimer {
  #start = performance.now();
  [Symbol.dispose](): void {
    sink[0] += performance.now() - this.#start;
  }
}

/** Floor (c): the least an `await using` timer can do. */
class MinimalAsyncTimer {
  #start = performance.now();
  [Symbol.asyncDispose](): Promise<void> {
    sink[0] += performance.now() - this.#start;
    return Promise.resolve();
  }
}

class DiscardingExporter implements SpanExporter {
  export(
    spans: ReadableSpan[],
    done: (result: { code: number }) => void,
  ): void {
    sink[0] += spans.length;
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

const provider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(new DiscardingExporter())],
});
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer("bench");

// The bad-option cases report once; keep that report off the bench output.
configureInstrumentation({ onError: () => {} });

const monitoredNoop = monitorFunction("fn")((x: number): number => x + 1);

interface Case {
  name: string;
  baseline?: boolean;
  fn: () => void | Promise<void>;
}

const cases: Case[] = [
  {
    name: "floor (a): two performance.now() and their difference",
    fn: () => {
      const start = performance.now();
      sink[0] += performance.now() - start;
    },
  },
  {
    name: "floor (b): using a minimal timer",
    baseline: true,
    fn: () => {
      using _ = new MinimalTimer();
    },
  },
  {
    name: "floor (c): await using a minimal async timer",
    fn: async () => {
      await using _ = new MinimalAsyncTimer();
    },
  },
  {
    name: "pss: using monitorBlock()",
    fn: () => {
      using _ = monitorBlock("block");
    },
  },
  {
    name: "pss: await using monitorAsync()",
    fn: async () => {
      await using _ = monitorAsync("block");
    },
  },
  {
    name: "pss: monitorFunction() wrapper, sync",
    fn: () => {
      sink[0] += monitoredNoop(1);
    },
  },
  {
    name: "pss: using monitorBlock(), sampled out (sampleRate 0)",
    fn: () => {
      using _ = monitorBlock("block", { sampleRate: 0, errorSampleRate: 0 });
    },
  },
  {
    // A bad option is reported once; repeating it must cost about what a
    // valid option does (it used to build an error per call: 14-50x).
    name: "pss: using monitorBlock(), a bad option repeated (sampleRate NaN)",
    fn: () => {
      using _ = monitorBlock("block", { sampleRate: NaN });
    },
  },
  {
    name: "pss: using monitorBlock(), a mistyped option repeated",
    fn: () => {
      using _ = monitorBlock("block", { sampelRate: 1 } as MonitorOptions);
    },
  },
  {
    name: "peer: OpenTelemetry startSpan() + end(), batch, discarding",
    fn: () => {
      tracer.startSpan("block").end();
    },
  },
];

const deno = (globalThis as {
  Deno?: {
    bench(options: Case & { group: string }): void;
  };
}).Deno;

if (deno !== undefined) {
  for (const c of cases) bench({ group: GROUP, ...c });
} else {
  await runWithLoop();
}

/**
 * Bun: each case calibrated to about 20 ms per round, then 15 rounds run
 * round-robin across the cases, so load drift on a shared machine hits all
 * of them alike. Ratios are taken within each round (case / baseline) and
 * their median reported, with the median and minimum ns per call.
 */
async function runWithLoop(): Promise<void> {
  const rounds = 15;
  const targetMs = 20;
  const sizes: number[] = [];
  const isAsync: boolean[] = [];
  for (const c of cases) {
    const async = c.fn() instanceof Promise;
    let n = 1000;
    for (;;) {
      const ms = await time(c.fn, n, async);
      if (ms >= targetMs / 4) {
        n = Math.max(1000, Math.round(n * targetMs / ms));
        break;
      }
      n *= 4;
    }
    sizes.push(n);
    isAsync.push(async);
  }
  const baseIndex = cases.findIndex((c) => c.baseline);
  const perCall: number[][] = cases.map(() => []);
  const ratios: number[][] = cases.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      const ms = await time(cases[i].fn, sizes[i], isAsync[i]);
      perCall[i].push(ms * 1e6 / sizes[i]);
    }
    // Ratios within one round: load drift between rounds cancels out.
    for (let i = 0; i < cases.length; i++) {
      ratios[i].push(perCall[i][r] / perCall[baseIndex][r]);
    }
  }
  const median = (xs: number[]): number =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const runtime = (globalThis as { Bun?: { version: string } }).Bun;
  console.log(
    `group: ${GROUP} (${runtime ? `bun ${runtime.version}` : "unknown"})`,
  );
  console.log(
    "| case | ns/call, median | ns/call, min | ratio to floor (b), median of rounds |",
  );
  console.log("|---|---:|---:|---:|");
  for (let i = 0; i < cases.length; i++) {
    console.log(
      `| ${cases[i].name} | ${median(perCall[i]).toFixed(1)} | ${
        Math.min(...perCall[i]).toFixed(1)
      } | ${median(ratios[i]).toFixed(2)}× |`,
    );
  }
  if (sink[0] === 42) console.log("sink");
}

async function time(
  fn: () => void | Promise<void>,
  n: number,
  isAsync: boolean,
): Promise<number> {
  const start = performance.now();
  if (isAsync) {
    for (let i = 0; i < n; i++) await fn();
  } else {
    for (let i = 0; i < n; i++) fn();
  }
  return performance.now() - start;
}
