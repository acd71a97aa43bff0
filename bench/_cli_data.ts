/**
 * Writes the trace files the CLI benchmark reads: pypss-shaped NDJSON lines
 * (every key pypss writes, about 270 bytes a line), generated at bench time
 * into a temporary directory and never committed.
 *
 * @module
 */

import { stringifyTrace, type Trace } from "../src/trace.ts";
// The tests' seeded source, so every run reads the same file.
import { random } from "../tests/fixtures/random.ts";

const NAMES = [
  "db.query",
  "db.commit",
  "cache.get",
  "cache.set",
  "http.fetch",
  "render.page",
  "auth.check",
  "queue.push",
];

/**
 * Writes `count` NDJSON trace lines to `path`: eight operation names, 2 %
 * errors, branch tags, and one event-loop lag sample every 100 lines.
 *
 * @returns The file's size in bytes.
 */
export async function writeTraceFile(
  path: string,
  count: number,
): Promise<number> {
  const next = random(42);
  const file = await Deno.open(path, {
    write: true,
    create: true,
    truncate: true,
  });
  const encoder = new TextEncoder();
  let bytes = 0;
  let batch: string[] = [];
  const start = 1_700_000_000;
  for (let i = 0; i < count; i++) {
    let trace: Trace;
    const timestamp = start + i * 0.001;
    if (i % 100 === 99) {
      trace = {
        traceId: crypto.randomUUID(),
        name: "__system_monitor__",
        systemMetric: true,
        timestamp,
        metadata: { lag: Math.round(next() * 4000) / 1e6 },
      };
    } else {
      const name = NAMES[Math.floor(next() * NAMES.length)];
      const error = next() < 0.02;
      // Microsecond resolution, as timers give: about 390 bytes a line.
      const duration = Math.round(
        (0.001 + next() * 0.01 + (next() < 0.01 ? 0.2 : 0)) * 1e6,
      ) / 1e6;
      trace = {
        traceId: crypto.randomUUID(),
        name,
        filename: "/srv/app/handlers.py",
        lineno: 120 + (i % 40),
        module: `app.${name.split(".")[0]}`,
        duration,
        cpuTime: Math.round(duration * 0.6e6) / 1e6,
        waitTime: Math.round(duration * 0.4e6) / 1e6,
        memory: 50_000_000 + Math.floor(next() * 2_000_000),
        memoryDiff: Math.floor(next() * 4096) - 2048,
        error,
        exceptionType: error ? "TimeoutError" : undefined,
        exceptionMessage: error ? "upstream timed out" : undefined,
        branchTag: next() < 0.7 ? "hit" : "miss",
        timestamp,
        asyncOp: true,
        yieldCount: Math.floor(next() * 4),
      };
    }
    batch.push(stringifyTrace(trace));
    if (batch.length === 10_000 || i === count - 1) {
      const chunk = encoder.encode(batch.join("\n") + "\n");
      bytes += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        offset += await file.write(chunk.subarray(offset));
      }
      batch = [];
    }
  }
  file.close();
  return bytes;
}

if (import.meta.main) {
  const [path, count] = Deno.args;
  console.log(await writeTraceFile(path, Number(count ?? 1_000_000)));
}
