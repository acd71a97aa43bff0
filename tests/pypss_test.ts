/**
 * The pypss round trip: traces written by pypss 1.3.1's own code paths
 * (tests/testdata/pypss/README.md says how), scored by pss against the scores
 * pypss computed from the same files, then written by pss and read back
 * through the same readers.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  computePss,
  type PssReport,
  readTraces,
  renderReportJson,
  type Trace,
  traceFromJson,
  traceToJson,
} from "../mod.ts";
import { PILLARS } from "../src/score/mod.ts";
import { stringifyTrace } from "../src/trace.ts";

const DATA = fileURLToPath(new URL("./testdata/pypss/", import.meta.url));

interface Expected {
  pypss: { pss: number; breakdown: Record<string, number> };
  pillars: Record<string, number>;
  traceCount: number;
  systemTraceCount: number;
  unusedCount: number;
}

const expected: Record<string, Expected> = JSON.parse(
  await readFile(join(DATA, "expected.json"), "utf8"),
);

function assertPypssScore(report: PssReport, want: Expected): void {
  const { pss, breakdown } = JSON.parse(renderReportJson(report));
  assert.deepEqual({ pss, breakdown }, want.pypss);
  for (const pillar of PILLARS) {
    const got = report.breakdown[pillar.key];
    const exact = want.pillars[pillar.pypssKey];
    assert.ok(
      Math.abs(got - exact) <= 1e-9,
      `${pillar.label}: pss ${got}, pypss ${exact}`,
    );
  }
  assert.deepEqual(
    [report.traceCount, report.systemTraceCount, report.unusedCount],
    [want.traceCount, want.systemTraceCount, want.unusedCount],
  );
  assert.equal(report.skippedCount, 0);
}

/** Reads a trace file (NDJSON or a JSON document) through `readTraces`. */
async function readTraceFile(path: string): Promise<Trace[]> {
  const reader = readTraces(path);
  const traces = await Array.fromAsync(reader);
  assert.equal(reader.stats.skipped, 0);
  return traces;
}

/**
 * pss writes every schema key; pypss leaves some out (`async_op` and
 * `yield_count` of synchronous calls, most keys of a Kafka lag report),
 * and those read back as their wire defaults.
 */
function withDefaults(trace: Trace): Trace {
  return {
    asyncOp: false,
    yieldCount: 0,
    cpuTime: 0,
    memoryDiff: 0,
    lineno: 0,
    error: false,
    ...trace,
  };
}

function readDocument(text: string): Trace[] {
  const document = JSON.parse(text) as { traces: unknown[] };
  return document.traces.map((entry) => {
    const trace = traceFromJson(entry);
    assert.ok(trace !== undefined, JSON.stringify(entry));
    return trace;
  });
}

describe("traces written by pypss 1.3.1", () => {
  test("its FileFIFOCollector's NDJSON scores exactly as pypss scored it", async () => {
    const traces = await readTraceFile(join(DATA, "fifo.ndjson"));
    assertPypssScore(computePss(traces), expected["fifo.ndjson"]);
  });

  test("its AutoDumper's JSON document scores exactly as pypss scored it", async () => {
    const traces = readDocument(
      await readFile(join(DATA, "dump.json"), "utf8"),
    );
    assertPypssScore(computePss(traces), expected["dump.json"]);
    // The streaming reader, which tells a JSON document from NDJSON by its
    // first character, reads the same traces from the file.
    assert.deepEqual(await readTraceFile(join(DATA, "dump.json")), traces);
  });

  test("its top-level context tags are read as tags, its loop-health samples as system traces", async () => {
    const traces = await readTraceFile(join(DATA, "fifo.ndjson"));
    const checkout = traces.filter((t) => t.name === "checkout");
    assert.ok(checkout.length > 0);
    for (const trace of checkout) {
      assert.match(String(trace.metadata?.request_id), /^r-\d+$/);
      assert.ok(["acme", "globex"].includes(String(trace.metadata?.tenant)));
    }
    const health = traces.filter((t) => t.systemMetric);
    assert.equal(health.length, expected["fifo.ndjson"].systemTraceCount);
    for (const trace of health) {
      assert.equal(trace.name, "__event_loop_health__");
      assert.equal(typeof trace.metadata?.lag, "number");
      assert.equal(typeof trace.metadata?.active_tasks, "number");
    }
    // pypss's ids and start timestamps are kept as they are.
    assert.equal(new Set(traces.map((t) => t.traceId)).size, traces.length);
    const first = traces[0];
    assert.ok(first.traceId!.startsWith(String(first.timestamp).slice(0, 10)));
  });

  test("written back by pss, they read back the same and score the same", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pss-pypss-"));
    try {
      const original = await readTraceFile(join(DATA, "fifo.ndjson"));
      const path = join(dir, "again.ndjson");
      await writeFile(
        path,
        original.map((t) => stringifyTrace(t) + "\n").join(""),
      );
      const again = await readTraceFile(path);
      assert.deepEqual(again, original.map(withDefaults));
      assertPypssScore(computePss(again), expected["fifo.ndjson"]);

      // The lines are laid out as pypss writes them: tags at the top level,
      // a system trace's measurements nested.
      const lines = (await readFile(path, "utf8")).trim().split("\n").map(
        (line) => JSON.parse(line) as Record<string, unknown>,
      );
      const tagged = lines.find((line) => line.name === "checkout")!;
      assert.equal(typeof tagged.request_id, "string");
      assert.equal("metadata" in tagged, false);
      const health = lines.find((line) => line.system_metric === true)!;
      assert.equal(
        typeof (health.metadata as Record<string, unknown>).lag,
        "number",
      );

      const document = readDocument(
        await readFile(join(DATA, "dump.json"), "utf8"),
      );
      const documentPath = join(dir, "again.json");
      await writeFile(
        documentPath,
        JSON.stringify({ traces: document.map(traceToJson) }),
      );
      const rewritten = await readTraceFile(documentPath);
      assert.deepEqual(rewritten, document.map(withDefaults));
      assertPypssScore(computePss(rewritten), expected["dump.json"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
