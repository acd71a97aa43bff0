/**
 * Two questions:
 * 1. How fast does FileFifoCollector write traces, compared with the floor:
 *    the same traces, serialised the same way, appended by a hand-written
 *    loop of one write per batch with no lock and no queue? (A second,
 *    lower floor appends the bytes already serialised, to show what
 *    serialisation itself costs.)
 * 2. What does `add()` cost per trace, compared with pushing onto an array?
 *
 * Deno: `npx deno bench -A bench/fifo_bench.ts`. Bun: `npx bun
 * bench/fifo_bench.ts` (a small runner that stands in for `Deno.bench`,
 * printing the same ratios).
 *
 * @module
 */

import { open, rm, truncate } from "node:fs/promises";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileFifoCollector } from "../src/collect/fifo.ts";
import { type BenchDefinition, benchTraces, runBenches } from "./_runner.ts";
import { type Trace, traceToJson } from "../src/trace.ts";

const TRACES = 10_000;
const ADDS = 1_000;
const dir = mkdtempSync(join(tmpdir(), "pss-fifo-bench-"));

const traces: Trace[] = benchTraces(TRACES);
const encoder = new TextEncoder();
let sink = 0;

const definitions: BenchDefinition[] = [];

/** Question 1: bytes per second into one file, against the floors. */
async function defineWriteBenches(): Promise<void> {
  for (const batchSize of [100, 1000]) {
    const group = `write ${TRACES} traces to a file, batches of ${batchSize}`;
    const floorPath = join(dir, `floor-${batchSize}.ndjson`);
    const floorFile = await open(floorPath, "a");
    const preencoded: Uint8Array[] = [];
    for (let start = 0; start < TRACES; start += batchSize) {
      preencoded.push(encoder.encode(serialise(start, start + batchSize)));
    }
    definitions.push({
      name: `hand-written: serialise + one append per batch (floor)`,
      group,
      baseline: true,
      fn: async (b) => {
        await truncate(floorPath, 0);
        b.start();
        for (let start = 0; start < TRACES; start += batchSize) {
          const bytes = encoder.encode(serialise(start, start + batchSize));
          let written = 0;
          while (written < bytes.length) {
            written += (await floorFile.write(bytes, written)).bytesWritten;
          }
        }
        b.end();
      },
    });
    definitions.push({
      name: `append of pre-serialised bytes (serialisation excluded)`,
      group,
      fn: async (b) => {
        await truncate(floorPath, 0);
        b.start();
        for (const bytes of preencoded) {
          let written = 0;
          while (written < bytes.length) {
            written += (await floorFile.write(bytes, written)).bytesWritten;
          }
        }
        b.end();
      },
    });
    const path = join(dir, `collector-${batchSize}.ndjson`);
    const collector = new FileFifoCollector({
      path,
      batchSize,
      maxQueueSize: TRACES,
      flushIntervalMs: 60_000,
    });
    definitions.push({
      name: `FileFifoCollector: add() + flush(), flock per batch`,
      group,
      fn: async (b) => {
        await truncate(path, 0);
        b.start();
        for (let i = 0; i < TRACES; i++) collector.add(traces[i]);
        await collector.flush();
        b.end();
        sink += collector.stats().sent;
      },
    });
  }
}

function serialise(start: number, end: number): string {
  let text = "";
  for (let i = start; i < end && i < TRACES; i++) {
    text += JSON.stringify(traceToJson(traces[i])) + "\n";
  }
  return text;
}

/** Question 2: the cost of add() on the host's hot path. */
function defineAddBenches(): void {
  const group = `add ${ADDS} traces`;
  definitions.push({
    name: "Array.push (floor)",
    group,
    baseline: true,
    fn: (b) => {
      const array: Trace[] = [];
      b.start();
      for (let i = 0; i < ADDS; i++) array.push(traces[i]);
      b.end();
      sink += array.length;
    },
  });
  definitions.push({
    name: "FileFifoCollector.add()",
    group,
    fn: async (b) => {
      // /dev/null: the exports this schedules cost nothing to the next run.
      const collector = new FileFifoCollector({
        path: "/dev/null",
        batchSize: ADDS * 2,
        maxQueueSize: ADDS,
        flushIntervalMs: 60_000,
        flushOnExit: false,
      });
      b.start();
      for (let i = 0; i < ADDS; i++) collector.add(traces[i]);
      b.end();
      sink += collector.stats().queued;
      await collector.close();
    },
  });
}

await defineWriteBenches();
defineAddBenches();

await runBenches(definitions, {
  done: async () => {
    if (sink < 0) console.log(sink);
    await rm(dir, { recursive: true, force: true });
  },
});
