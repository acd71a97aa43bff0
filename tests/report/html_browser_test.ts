/**
 * The HTML report in a real browser: the CLI writes a report of traces with
 * several names, errors, branch tags and lag samples; headless Chromium
 * (Debian's, driven by playwright-core) opens the file with every network
 * request blocked, and the test checks that the charts render, that the
 * table sorts by any column, and that no console error occurs. Screenshots
 * at a desktop and a phone width are saved and their paths printed.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import type { Browser, Page } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, requirePart } from "../_parts.ts";
import { runCli } from "../../src/cli/main.ts";
import { stringifyTrace, type Trace } from "../../src/trace.ts";

const chromiumPath = requirePart(CHROMIUM);

function traces(): Trace[] {
  const out: Trace[] = [];
  const names = ["checkout", "db.query", "cache.get", "render.page", "auth"];
  for (let i = 0; i < 2000; i++) {
    if (i % 50 === 49) {
      out.push({
        name: "__event_loop__",
        systemMetric: true,
        metadata: { lag: (i % 7) * 0.003 },
      });
      continue;
    }
    const name = names[i % names.length];
    const slow = name === "db.query" && i % 9 === 0;
    // Errors of checkout come in a burst in the second half of the input.
    const error = name === "checkout" ? i > 1200 && i < 1500 : i % 97 === 0;
    out.push({
      name,
      duration: 0.002 + ((i * 7919) % 1000) / 2e5 + (slow ? 0.3 : 0),
      memory: 40_000_000 + (i % 13) * 1000,
      waitTime: (i % 5) * 1e-4,
      error,
      exceptionType: error
        ? (i % 2 ? "TimeoutError" : "ValueError")
        : undefined,
      branchTag: name === "cache.get"
        ? (i % 3 === 0 ? "miss" : "hit")
        : name === "render.page"
        ? ["a", "b", "c", "d"][i % 4]
        : undefined,
    });
  }
  return out;
}

describe(
  "the HTML report in headless Chromium",
  { skip: !chromiumPath },
  () => {
    let dir: string;
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];
    const blocked: string[] = [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "pss-html-report-"));
      const input = join(dir, "traces.ndjson");
      await writeFile(input, traces().map(stringifyTrace).join("\n") + "\n");
      const code = await runCli([
        "score",
        input,
        "--by-name",
        "--quiet",
        "-o",
        join(dir, "report.html"),
      ]);
      assert.equal(code, 0);
      browser = await chromium.launch({
        executablePath: chromiumPath as string,
        args: [...CHROMIUM_ARGS],
      });
      page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on("pageerror", (error) => problems.push(String(error)));
      page.on("console", (message) => {
        if (message.type() === "error" || message.type() === "warning") {
          problems.push(message.text());
        }
      });
      await page.route("**/*", (route) => {
        const url = route.request().url();
        if (url.startsWith("file:")) return route.continue();
        blocked.push(url);
        return route.abort();
      });
      await page.goto(pathToFileURL(join(dir, "report.html")).href);
    });

    after(async () => {
      await browser?.close();
    });

    test("draws the gauge, the pillar bars and every row's three charts", async () => {
      const figures = await page.evaluate(() => {
        const size = (selector: string) =>
          [...document.querySelectorAll(selector)].map((element) => {
            const box = element.getBoundingClientRect();
            return { width: box.width, height: box.height };
          });
        return {
          gauge: size("svg.gauge"),
          gaugeArcs: document.querySelectorAll("svg.gauge path").length,
          bars: size(".pillar .fill").length,
          histograms: size("details[open] svg.hist"),
          histogramBars: document.querySelectorAll("svg.hist rect").length,
          timelines: size("details[open] svg.timeline"),
          timelineBars: [...document.querySelectorAll("svg.timeline rect")]
            .filter((r) => Number(r.getAttribute("height")) > 0).length,
          tags: document.querySelectorAll("svg.tags rect").length,
          rows: document.querySelectorAll("details.row").length,
        };
      });
      assert.equal(figures.gauge.length, 1);
      assert.ok(figures.gauge[0].width > 100 && figures.gauge[0].height > 50);
      assert.equal(figures.gaugeArcs, 2);
      assert.equal(figures.bars, 5);
      assert.equal(figures.rows, 5);
      for (const chart of [...figures.histograms, ...figures.timelines]) {
        assert.ok(
          chart.width > 150 && chart.height > 40,
          JSON.stringify(chart),
        );
      }
      assert.ok(figures.histogramBars >= 5 * 24);
      assert.ok(figures.timelineBars > 0);
      assert.equal(figures.tags, 2 + 4);
      assert.deepEqual(problems, []);
      assert.deepEqual(blocked, []);
    });

    test("sorts the table by any column, both ways", async () => {
      const column = (index: number) =>
        page.$$eval(
          "table.sortable tbody tr",
          (rows, i) =>
            rows.map((row) =>
              (row as HTMLTableRowElement).cells[i].textContent ?? ""
            ),
          index,
        );
      const headers = await page.$$eval(
        "table.sortable thead th",
        (cells) => cells.map((cell) => cell.textContent ?? ""),
      );
      assert.deepEqual(headers.slice(0, 3), ["name", "pss", "TS"]);
      const traces = headers.indexOf("traces");
      const button = (index: number) =>
        page.locator("table.sortable thead th button").nth(index);

      await button(0).click();
      const names = await column(0);
      assert.deepEqual(names, [...names].sort((a, b) => a.localeCompare(b)));
      await button(traces).click();
      const ascending = (await column(traces)).map(Number);
      assert.deepEqual(ascending, [...ascending].sort((a, b) => a - b));
      await button(traces).click();
      const descending = (await column(traces)).map(Number);
      assert.deepEqual(descending, [...ascending].reverse());
      assert.equal(
        await page.locator("table.sortable thead th").nth(traces).getAttribute(
          "aria-sort",
        ),
        "descending",
      );
      assert.deepEqual(problems, []);
    });

    test("fits a phone's width and saves screenshots", async () => {
      const desktop = join(dir, "report-desktop.png");
      await page.screenshot({ path: desktop, fullPage: true });
      await page.setViewportSize({ width: 390, height: 844 });
      const overflow = await page.evaluate(() =>
        document.documentElement.scrollWidth - globalThis.innerWidth
      );
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than a phone`);
      const phone = join(dir, "report-phone.png");
      await page.screenshot({ path: phone, fullPage: true });
      console.log(`HTML report screenshots: ${desktop} and ${phone}`);
      assert.deepEqual(problems, []);
    });
  },
);
