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
import { monitorBlock } from "../src/instrument/monitor_block.ts";
import { monitorAsync } from "../src/instrument/monitor_async.ts";
import { monitorFunction } from "../src/instrument/monitor_function.ts";

const GROUP = "overhead of one monitored empty block";

/** Results land here so the JIT cannot delete the work. */
let sink = 0;

/** Floor (b): the least a `using` timer can do. */
class MinimalTimer {
  #start = performance.now();
  [Symbol.dispose](): void {
    sink += performance.now() - this.#start;
  }
}

/** Floor (c): the least an `await using` timer can do. */
class MinimalAsyncTimer {
  #start = performance.now();
  [Symbol.asyncDispose](): Promise<void> {
    sink += performance.now() - this.#start;
    return Promise.resolve();
  }
}

class DiscardingExporter implements SpanExporter {
  export(
    spans: ReadableSpan[],
    done: (result: { code: number }) => void,
  ): void {
    sink += spans.length;
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
      sink += performance.now() - start;
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
      sink += monitoredNoop(1);
    },
  },
  {
    name: "pss: using monitorBlock(), sampled out (sampleRate 0)",
    fn: () => {
      using _ = monitorBlock("block", { sampleRate: 0, errorSampleRate: 0 });
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
  for (const c of cases) deno.bench({ group: GROUP, ...c });
} else {
  await runWithLoop();
}

/** Bun: a calibrated loop per case; median of rounds; ratios to the baseline. */
async function runWithLoop(): Promise<void> {
  const rounds = 15;
  const targetMs = 40;
  const results: { name: string; ns: number; baseline?: boolean }[] = [];
  for (const c of cases) {
    const isAsync = c.fn() instanceof Promise;
    let n = 1000;
    // Calibrate: grow n until one round takes about targetMs.
    for (;;) {
      const ms = await time(c.fn, n, isAsync);
      if (ms >= targetMs / 4) {
        n = Math.max(1000, Math.round(n * targetMs / ms));
        break;
      }
      n *= 4;
    }
    const perCall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      perCall.push((await time(c.fn, n, isAsync)) * 1e6 / n);
    }
    perCall.sort((a, b) => a - b);
    results.push({
      name: c.name,
      ns: perCall[Math.floor(rounds / 2)],
      baseline: c.baseline,
    });
  }
  const base = results.find((r) => r.baseline)?.ns ?? NaN;
  const runtime = (globalThis as { Bun?: { version: string } }).Bun;
  console.log(
    `group: ${GROUP} (${runtime ? `bun ${runtime.version}` : "unknown"})`,
  );
  console.log("| case | ns/call (median of 15) | ratio to floor (b) |");
  console.log("|---|---:|---:|");
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.ns.toFixed(1)} | ${(r.ns / base).toFixed(2)}× |`,
    );
  }
  if (sink === 42) console.log("sink");
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
