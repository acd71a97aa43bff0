import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  asyncBlockEnded,
  asyncBlockStarted,
  LOOP_HEALTH_TRACE_NAME,
  startAsyncMonitoring,
  stopAsyncMonitoring,
} from "../../src/instrument/loop_monitor.ts";
import { createLagProbe } from "../../src/runtime/loop.ts";
import {
  MemoryCollector,
  setGlobalCollector,
} from "../../src/collect/memory.ts";
import { computePss } from "../../src/score/pss.ts";
import { PssConfigError } from "../../src/score/config.ts";
import {
  configureInstrumentation,
  instrumentationStats,
  resetInstrumentation,
} from "../../src/instrument/settings.ts";
import { isScorableTrace, type Trace, traceToJson } from "../../src/trace.ts";
import type { Collector } from "../../src/collect/collector.ts";

const BLOCK_MS = 200;
/** The probe period used in these tests; a block of B ms reads ≥ B − this. */
const RESOLUTION_MS = 20;

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Keep the event loop blocked.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function lagsOf(traces: Trace[]): number[] {
  return traces.map((trace) => trace.metadata?.lag as number);
}

describe("the event-loop lag probe", () => {
  test("sees a 200 ms busy block that ends just before it is read", async () => {
    const probe = createLagProbe(RESOLUTION_MS);
    try {
      await sleep(30);
      busy(BLOCK_MS);
      assert.ok(probe.takeMaxLagMs() >= BLOCK_MS - RESOLUTION_MS);
    } finally {
      probe.stop();
    }
  });

  test("sees a 200 ms busy block after its timer has run again", async () => {
    const probe = createLagProbe(RESOLUTION_MS);
    try {
      await sleep(30);
      busy(BLOCK_MS);
      await sleep(3 * RESOLUTION_MS);
      assert.ok(probe.takeMaxLagMs() >= BLOCK_MS - RESOLUTION_MS);
    } finally {
      probe.stop();
    }
  });

  test("reports a block once: the next window starts after it", async () => {
    const probe = createLagProbe(RESOLUTION_MS);
    try {
      await sleep(30);
      busy(BLOCK_MS);
      const first = probe.takeMaxLagMs();
      await sleep(3 * RESOLUTION_MS);
      const second = probe.takeMaxLagMs();
      assert.ok(first >= BLOCK_MS - RESOLUTION_MS);
      assert.ok(second < first / 2, `second window read ${second} ms`);
    } finally {
      probe.stop();
    }
  });

  test("uses timer drift on this runtime", () => {
    const probe = createLagProbe(RESOLUTION_MS);
    probe.stop();
    assert.equal(probe.source, "timer-drift");
  });
});

describe("startAsyncMonitoring()", () => {
  test("records a 200 ms busy block as a lag of at least 0.18 s and lowers Concurrency Chaos", async () => {
    const collector = new MemoryCollector();
    {
      using _monitor = startAsyncMonitoring({
        intervalMs: 50,
        resolutionMs: RESOLUTION_MS,
        collector,
      });
      await sleep(100);
      busy(BLOCK_MS);
      await sleep(100);
    }
    const traces = collector.snapshot();
    const lags = lagsOf(traces);
    const worst = Math.max(...lags);
    assert.ok(worst >= (BLOCK_MS - RESOLUTION_MS) / 1000, `lags ${lags}`);
    // At least one recorded sample of ≥ 0.18 s among n: the mean lag is at
    // least 0.18 / n, and CC = 1 − min(1, 5 · mean).
    const cc = computePss(traces).breakdown.concurrencyChaos;
    assert.ok(cc <= 1 - Math.min(1, (5 * worst) / lags.length), `CC ${cc}`);
    assert.ok(cc < 0.9, `CC ${cc} with lags ${lags}`);
  });

  test("leaves Concurrency Chaos at 1 for an idle event loop", async () => {
    const collector = new MemoryCollector();
    {
      // The default records every sample: the mean covers the whole second.
      using _monitor = startAsyncMonitoring({ intervalMs: 50, collector });
      await sleep(1000);
    }
    const traces = collector.snapshot();
    const lags = lagsOf(traces);
    assert.ok(traces.length >= 10, `only ${traces.length} samples`);
    const mean = lags.reduce((sum, lag) => sum + lag, 0) / lags.length;
    assert.ok(mean <= 0.01, `mean lag ${mean} s: ${lags}`);
    const report = computePss(traces);
    assert.equal(report.breakdown.concurrencyChaos, 1);
  });

  test("by default scores one short block against the whole run, not against the slow samples alone", async () => {
    const collector = new MemoryCollector();
    const monitor = startAsyncMonitoring({ intervalMs: 50, collector });
    await sleep(1000);
    busy(150);
    await sleep(1000);
    monitor.stop();
    const { samples, recorded } = monitor.stats();
    assert.equal(recorded, samples, "every sample is recorded");
    assert.ok(samples >= 20, `only ${samples} samples`);
    // One 150 ms block in ~2.2 s: a mean lag of about 0.15 / 40 s. Keeping
    // only the slow samples would make it several times larger.
    const cc = computePss(collector.snapshot()).breakdown.concurrencyChaos;
    assert.ok(cc > 0.9, `CC ${cc}`);
  });

  test("records pypss-shaped __event_loop_health__ system traces with the lag in seconds", async () => {
    const collector = new MemoryCollector();
    const monitor = startAsyncMonitoring({
      intervalMs: 50,
      thresholdMs: 0,
      collector,
    });
    await sleep(20);
    busy(30);
    await sleep(60);
    monitor.stop();
    const [trace] = collector.snapshot();
    assert.equal(trace.name, LOOP_HEALTH_TRACE_NAME);
    assert.equal(trace.name, "__event_loop_health__");
    assert.equal(trace.systemMetric, true);
    assert.equal(trace.asyncOp, true);
    assert.deepEqual(Object.keys(trace.metadata ?? {}), [
      "lag",
      "active_tasks",
      "churn_rate",
    ]);
    const lag = trace.metadata?.lag as number;
    assert.ok(lag >= 0.01 && lag < 10, `lag ${lag} is not in seconds`);
    assert.equal(trace.waitTime, lag);
    assert.ok(isScorableTrace(trace));
    const wire = traceToJson(trace);
    assert.equal(wire.system_metric, true);
    assert.equal((wire.metadata as Record<string, unknown>).lag, lag);
  });

  test("does not record samples whose lag is below thresholdMs", async () => {
    const collector = new MemoryCollector();
    const monitor = startAsyncMonitoring({
      intervalMs: 20,
      thresholdMs: 60_000,
      collector,
    });
    await sleep(20);
    busy(50);
    await sleep(60);
    monitor.stop();
    const stats = monitor.stats();
    assert.ok(stats.samples >= 2);
    assert.ok(stats.maxLag >= 0.03);
    assert.equal(stats.recorded, 0);
    assert.equal(collector.size, 0);
  });

  test("reports in-flight and started async blocks as active_tasks and churn_rate", async () => {
    const collector = new MemoryCollector();
    const monitor = startAsyncMonitoring({
      intervalMs: 60_000,
      thresholdMs: 0,
      collector,
    });
    asyncBlockStarted();
    asyncBlockStarted();
    asyncBlockStarted();
    asyncBlockEnded();
    await sleep(30);
    busy(5); // a lag above 0, so the last sample is recorded
    monitor.stop();
    asyncBlockEnded();
    asyncBlockEnded();
    const [trace] = collector.snapshot();
    const metadata = trace.metadata ?? {};
    assert.equal(metadata.active_tasks, 2);
    const seconds = trace.duration ?? 0;
    assert.ok(seconds > 0);
    assert.ok(
      Math.abs((metadata.churn_rate as number) - 3 / seconds) < 1e-9,
      `churn_rate ${metadata.churn_rate} over ${seconds} s`,
    );
  });

  test("records into the global collector of the moment when none is given", async () => {
    const first = new MemoryCollector();
    const second = new MemoryCollector();
    const previous = setGlobalCollector(first);
    try {
      const monitor = startAsyncMonitoring({ intervalMs: 60_000 });
      setGlobalCollector(second);
      await sleep(10);
      busy(30);
      monitor.stop();
      assert.equal(first.size, 0);
      assert.equal(second.size, 1);
    } finally {
      setGlobalCollector(previous);
    }
  });

  test("stop() takes a last sample, is idempotent and leaves nothing running", async () => {
    const collector = new MemoryCollector();
    const monitor = startAsyncMonitoring({
      intervalMs: 60_000,
      collector,
    });
    assert.equal(monitor.running, true);
    await sleep(10);
    busy(BLOCK_MS);
    monitor.stop();
    monitor.stop();
    assert.equal(monitor.running, false);
    const stats = monitor.stats();
    assert.equal(stats.samples, 1);
    assert.equal(stats.recorded, 1);
    assert.ok(stats.lastLag >= (BLOCK_MS - RESOLUTION_MS) / 1000);
    busy(50);
    await sleep(80);
    assert.deepEqual(monitor.stats(), stats);
    assert.equal(collector.size, 1);
  });

  test("stopAsyncMonitoring() stops every running monitor", () => {
    stopAsyncMonitoring();
    const a = startAsyncMonitoring({ collector: new MemoryCollector() });
    const b = startAsyncMonitoring({ collector: new MemoryCollector() });
    assert.equal(stopAsyncMonitoring(), 2);
    assert.equal(a.running, false);
    assert.equal(b.running, false);
    assert.equal(stopAsyncMonitoring(), 0);
  });

  test("keeps sampling when the collector throws, and reports it to onError", async () => {
    const errors: unknown[] = [];
    resetInstrumentation();
    configureInstrumentation({ onError: (error) => errors.push(error) });
    const failing: Collector = {
      add(): void {
        throw new Error("collector down");
      },
      traces: () => Promise.resolve([]),
      clear: () => Promise.resolve(),
      flush: () => Promise.resolve(),
      close: () => Promise.resolve(),
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
    try {
      const monitor = startAsyncMonitoring({
        intervalMs: 20,
        thresholdMs: 0,
        collector: failing,
      });
      for (let i = 0; i < 3; i++) {
        busy(5);
        await sleep(25);
      }
      monitor.stop();
      assert.ok(monitor.stats().samples >= 2);
      assert.equal(monitor.stats().recorded, 0);
      assert.ok(errors.length >= 2);
      assert.equal((errors[0] as Error).message, "collector down");
      assert.equal(instrumentationStats().collectorErrors, errors.length);
    } finally {
      resetInstrumentation();
    }
  });

  const invalid: [string, object, string][] = [
    [
      "intervalMs of 0",
      { intervalMs: 0 },
      "Invalid pss configuration as 'intervalMs' must be a finite number ≥ 1: got 0",
    ],
    ["an infinite intervalMs", { intervalMs: Infinity }, "'intervalMs'"],
    ["a resolutionMs below 1", { resolutionMs: 0.5 }, "'resolutionMs'"],
    ["a negative thresholdMs", { thresholdMs: -1 }, "'thresholdMs'"],
    ["a string thresholdMs", { thresholdMs: "1" }, "'thresholdMs'"],
    ["a collector without add()", { collector: {} }, "'collector'"],
  ];
  for (const [what, options, message] of invalid) {
    test(`throws PssConfigError for ${what}`, () => {
      assert.throws(
        () => startAsyncMonitoring(options),
        (error: unknown) =>
          error instanceof PssConfigError && error.message.includes(message),
      );
    });
  }
});

describe("a process whose only pending work is a running loop monitor", () => {
  test("exits on its own", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pss-loop-"));
    try {
      const script = join(dir, "only_monitor.ts");
      const module = new URL(
        "../../src/instrument/loop_monitor.ts",
        import.meta.url,
      ).href;
      await writeFile(
        script,
        [
          `import { startAsyncMonitoring } from ${JSON.stringify(module)};`,
          `const monitor = startAsyncMonitoring({ intervalMs: 20 });`,
          `setTimeout(() => console.log("samples", monitor.stats().samples), 150);`,
          "",
        ].join("\n"),
      );
      const root = fileURLToPath(new URL("../../", import.meta.url));
      const isBun = "Bun" in globalThis;
      const command = join(
        root,
        "node_modules",
        ".bin",
        isBun ? "bun" : "deno",
      );
      const argv = isBun ? [script] : ["run", "-A", "--no-check", script];
      const child = spawn(command, argv, {
        cwd: root,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      let timedOut = false;
      const killer = setTimeout(() => {
        timedOut = true;
        child.kill("SIGKILL");
      }, 15_000);
      const code = await new Promise<number | null>((resolve) =>
        child.on("close", (c: number | null) => resolve(c))
      );
      clearTimeout(killer);
      assert.equal(timedOut, false, "the monitor kept the process alive");
      assert.equal(code, 0, stderr);
      const samples = Number(/samples (\d+)/.exec(stdout)?.[1]);
      assert.ok(samples >= 3, `the monitor was not sampling: ${stdout}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
