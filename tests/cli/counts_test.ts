// Every trace read appears in a count of the CLI's reports: a 4-line file
// with 2 regular traces and 2 system traces without a loop lag (which no
// pillar uses), scored by the real CLI under Deno and Bun, as text, JSON
// and HTML, from the file and from an agent holding the same traces.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { run, RUNTIMES } from "./_run.ts";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Trace, traceFromJson } from "../../src/trace.ts";
import { serveAgent } from "../../src/agent/mod.ts";
import { MemoryCollector } from "../../src/collect/memory.ts";

const LINES = [
  `{"name":"op","duration":0.1}`,
  `{"name":"op","duration":0.1}`,
  `{"name":"__system__","system_metric":true,"metadata":{"active_tasks":3}}`,
  `{"name":"__system__","system_metric":true,"metadata":{"active_tasks":4}}`,
];

async function withFile<T>(fn: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "pss-counts-test-"));
  try {
    const path = join(dir, "unused.ndjson");
    await writeFile(path, LINES.join("\n") + "\n");
    return await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

for (const runtime of Object.keys(RUNTIMES) as (keyof typeof RUNTIMES)[]) {
  describe(`pss score counts every trace read (${runtime})`, () => {
    test("the text report counts the 2 unused system traces", async () => {
      await withFile(async (path) => {
        const result = await run(runtime, ["score", path]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(
          result.stdout,
          /^Traces: 2 scored, 2 unused \(no pillar reads them\)$/m,
        );
      });
    });

    test("the JSON counts add up to the 4 lines read", async () => {
      await withFile(async (path) => {
        const result = await run(runtime, ["score", path, "--format", "json"]);
        assert.equal(result.code, 0, result.stderr);
        const { counts } = JSON.parse(result.stdout);
        assert.deepEqual(counts, {
          traces: 2,
          system_traces: 0,
          skipped: 0,
          unused: 2,
        });
      });
    });

    test("the HTML report counts the 2 unused system traces", async () => {
      await withFile(async (path) => {
        const out = join(path, "..", "report.html");
        const result = await run(runtime, ["score", path, "-o", out]);
        assert.equal(result.code, 0, result.stderr);
        const html = await readFile(out, "utf8");
        assert.ok(
          html.includes(
            '<p class="counts">2 traces scored, 2 unused (no pillar reads them)</p>',
          ),
          html,
        );
      });
    });

    test("scores read from an agent keep the unused count", async () => {
      const sink = new MemoryCollector();
      for (const line of LINES) {
        sink.add(traceFromJson(JSON.parse(line)) as Trace);
      }
      await using agent = await serveAgent({ port: 0, sink });
      const result = await run(runtime, ["score", agent.url]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(
        result.stdout,
        /^Traces: 2 scored, 2 unused \(no pillar reads them\)$/m,
      );
    });
  });
}
