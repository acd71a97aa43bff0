/**
 * The core in a browser: mod.ts bundled for the browser (by the pinned Bun's
 * bundler, which needs no network) and loaded in headless Chromium through
 * playwright-core. Proves the core entry loads no Node, Deno or Bun module,
 * scores traces exactly as this process does, and monitors code there with
 * memory readings absent.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, requirePart } from "../_parts.ts";
import { computePss, computePssByName, type Trace } from "../../mod.ts";
import { runtime } from "../../src/runtime/adapter.ts";
import type { HttpServer } from "../../src/runtime/types.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const chromiumPath = requirePart(CHROMIUM);

/** A set of traces touching every pillar, several names, errors and a lag sample. */
function sampleTraces(): Trace[] {
  const traces: Trace[] = [];
  for (let i = 0; i < 200; i++) {
    traces.push({
      name: i % 3 === 0 ? "db.query" : "render",
      duration: 0.01 + (i % 7) * 0.002 + (i % 50 === 0 ? 0.2 : 0),
      memory: 50_000_000 + (i % 11) * 100_000,
      waitTime: (i % 5) * 0.0005,
      error: i % 17 === 0,
      branchTag: i % 4 === 0 ? "cache-miss" : "cache-hit",
      timestamp: 1_700_000_000 + i * 0.05,
    });
  }
  traces.push({
    name: "__event_loop_health__",
    systemMetric: true,
    metadata: { lag: 0.004 },
  });
  return traces;
}

function bundleCore(outfile: string): void {
  const bun = join(ROOT, "node_modules", ".bin", "bun");
  const result = spawnSync(bun, [
    "build",
    join(ROOT, "mod.ts"),
    "--target=browser",
    "--format=esm",
    `--outfile=${outfile}`,
  ], { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`bun build failed: ${result.stderr || result.error}`);
  }
}

describe("the core in headless Chromium", { skip: !chromiumPath }, () => {
  let dir: string;
  let bundle: string;
  let server: HttpServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "pss-browser-"));
    const outfile = join(dir, "pss.js");
    bundleCore(outfile);
    bundle = await readFile(outfile, "utf8");
    const html =
      `<!doctype html><meta charset="utf-8"><title>pss</title><link rel="icon" href="data:,">
<script type="module">
  import * as pss from "/pss.js";
  globalThis.pss = pss;
  document.title = "ready";
</script>`;
    server = await runtime.http.serveHttp((request) => {
      const { pathname } = new URL(request.url);
      if (pathname === "/pss.js") {
        return new Response(bundle, {
          headers: { "content-type": "text/javascript; charset=utf-8" },
        });
      }
      if (pathname === "/") {
        return new Response(html, {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      }
      return new Response("not found", { status: 404 });
    });
    browser = await chromium.launch({
      executablePath: chromiumPath as string,
      args: [...CHROMIUM_ARGS],
    });
    page = await browser.newPage();
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    await page.goto(server.url);
    await page.waitForFunction(() => document.title === "ready", null, {
      timeout: 30_000,
    });
  });

  after(async () => {
    await browser?.close();
    await server?.shutdown();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test("the bundle imports no Node, Deno or Bun module", () => {
    assert.doesNotMatch(bundle, /\bfrom\s*["'](node|bun|npm):/);
    assert.doesNotMatch(bundle, /\bimport\s*\(\s*["'](node|bun|npm):/);
    assert.doesNotMatch(bundle, /\brequire\s*\(\s*["']/);
    assert.deepEqual(pageErrors, []);
  });

  test("scores a set of traces exactly as Deno and Bun do", async () => {
    const traces = sampleTraces();
    const inBrowser = await page.evaluate((input) => {
      const pss =
        (globalThis as unknown as { pss: typeof import("../../mod.ts") })
          .pss;
      return {
        overall: pss.computePss(input),
        byName: pss.computePssByName(input),
        text: pss.renderReportText(pss.computePss(input)),
      };
    }, traces);
    assert.deepEqual(inBrowser.overall, computePss(traces));
    assert.deepEqual(inBrowser.byName, computePssByName(traces));
    assert.match(inBrowser.text, /PSS/);
    assert.deepEqual(pageErrors, []);
  });

  test("monitors a block and an async block there, memory absent", async () => {
    const result = await page.evaluate(async () => {
      const pss =
        (globalThis as unknown as { pss: typeof import("../../mod.ts") })
          .pss;
      const collector = new pss.MemoryCollector();
      pss.setGlobalCollector(collector);
      for (let i = 0; i < 20; i++) {
        using _ = pss.monitorBlock("browser.sync", {
          branchTag: i % 2 ? "odd" : "even",
        });
        JSON.stringify({ i, at: performance.now() });
      }
      {
        await using _ = pss.monitorAsync("browser.async");
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const traces = await collector.traces();
      return { traces, report: pss.computePss(traces) };
    });
    assert.equal(result.traces.length, 21);
    const sync = result.traces.filter((t) => t.name === "browser.sync");
    assert.equal(sync.length, 20);
    for (const trace of result.traces) {
      assert.equal(trace.memory, undefined, "no memory reading in a browser");
      assert.ok(trace.duration! >= 0);
    }
    const asyncTrace = result.traces.find((t) => t.name === "browser.async")!;
    assert.ok(asyncTrace.duration! >= 0.004, `${asyncTrace.duration}`);
    assert.equal(new Set(sync.map((t) => t.branchTag)).size, 2);
    assert.ok(result.report.pss > 0 && result.report.pss <= 100);
    assert.deepEqual(pageErrors, []);
  });
  test("loads settings with no file or environment, and watches the event loop", async () => {
    const result = await page.evaluate(async () => {
      const pss = (globalThis as unknown as {
        pss: typeof import("../../mod.ts");
      }).pss;
      const config = await pss.loadConfig({ onWarning: () => {} });
      const collector = new pss.MemoryCollector();
      pss.setGlobalCollector(collector);
      const monitor = pss.startAsyncMonitoring({ intervalMs: 20 });
      const until = performance.now() + 150;
      await new Promise((resolve) => setTimeout(resolve, 30));
      while (performance.now() < until) {
        // Block the page's event loop.
      }
      await new Promise((resolve) => setTimeout(resolve, 60));
      const stats = monitor.stats();
      monitor.stop();
      return {
        sources: config.sources,
        warnings: config.warnings,
        alpha: config.score.alpha,
        source: monitor.source,
        maxLag: stats.maxLag,
        loopTraces: (await collector.traces()).filter((t) =>
          t.name === pss.LOOP_HEALTH_TRACE_NAME
        ).length,
      };
    });
    assert.deepEqual(result.sources, []);
    assert.equal(result.alpha, 2);
    assert.ok(result.warnings.length > 0, "a warning says what was not read");
    assert.equal(result.source, "timer-drift");
    assert.ok(result.maxLag >= 0.05, `max lag ${result.maxLag} s`);
    assert.ok(result.loopTraces > 0);
    assert.deepEqual(pageErrors, []);
  });
});
