/**
 * The parallel read of `scanTraces` (workers parse chunks of an NDJSON
 * file, this thread replays what they found in file order) against the
 * serial read, on real files: the same entries, skips (position and
 * reason), score, details and group rows, line for line, whatever the
 * lines hold and wherever the chunks cut them.
 *
 * @module
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { random } from "../fixtures/random.ts";
import { gzipSync } from "node:zlib";
import { writeFileSync } from "node:fs";
import { scanTraces } from "../../src/collect/scan.ts";
import type { GroupBy } from "../../src/collect/scan.ts";
import { PssAccumulator } from "../../src/score/accumulator.ts";
import { startRuntime, tempDir } from "../fixtures/spawn.ts";

/** Lines of every kind the reader meets, mixed at random. */
function mixedLines(count: number, seed: number): string[] {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T =>
    list[Math.floor(next() * list.length)];
  const names = ["db.query", "cache.get", "http.fetch", "ünïcödé.op", "日本"];
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const roll = next();
    const base = {
      name: pick(names),
      module: pick(["app.db", "app.http", "app.ü"]),
      host: pick(["web-1", "web-2"]),
      pid: pick([101, 202, 303]),
      duration: Math.round(next() * 1e6) / 1e6,
      memory: Math.floor(next() * 1e8),
      wait_time: Math.round(next() * 1e5) / 1e6,
      branch_tag: pick(["hit", "miss", "", "branché"]),
      timestamp: 1_700_000_000 + i,
    };
    if (roll < 0.55) {
      lines.push(JSON.stringify(base));
    } else if (roll < 0.62) {
      // An error, with more exception types than the accumulator keeps.
      lines.push(JSON.stringify({
        ...base,
        error: true,
        exception_type: `Error${Math.floor(next() * 12)}`,
      }));
    } else if (roll < 0.67) {
      lines.push(JSON.stringify({
        name: "__event_loop_health__",
        module: "pss.system",
        system_metric: true,
        host: base.host,
        pid: base.pid,
        metadata: { lag: Math.round(next() * 1e4) / 1e6 },
      }));
    } else if (roll < 0.69) {
      lines.push('{"name":"sys","system_metric":true}'); // no lag: unused
    } else if (roll < 0.71) {
      lines.push('{"name":"sys","system_metric":true,"metadata":{"lag":-1}}');
    } else if (roll < 0.75) {
      // Values the full codec reads (numeric strings, truthy errors).
      lines.push(JSON.stringify({
        ...base,
        duration: String(base.duration),
        error: pick(["yes", 1, 0, "false"]),
      }));
    } else if (roll < 0.77) {
      lines.push(JSON.stringify({ ...base, duration: -1 })); // rejected
    } else if (roll < 0.79) {
      lines.push(pick(["{not json", "[1,2]", "42", '"text"', "null", "{}"]));
    } else if (roll < 0.82) {
      lines.push(pick(["", "   ", "\t"]));
    } else if (roll < 0.86) {
      lines.push(JSON.stringify(base) + "\r"); // CRLF
    } else if (roll < 0.88) {
      // Longer than the 600 characters kept in these tests.
      lines.push(JSON.stringify({ ...base, pad: "x".repeat(700) }));
    } else if (roll < 0.885) {
      // Far longer: cut before it reaches a worker.
      lines.push(JSON.stringify({ ...base, pad: "é".repeat(3000) }));
    } else {
      lines.push(JSON.stringify({ ...base, metadata: { note: "\ufeffbom" } }));
    }
  }
  return lines;
}

interface Outcome {
  stats: { entries: number; skipped: number; workers: number };
  skips: string[];
  report: unknown;
  details: unknown;
  rows: unknown;
}

async function scan(
  path: string,
  workers: number,
  groupBy: GroupBy,
  chunkBytes?: number,
): Promise<Outcome> {
  const accumulator = new PssAccumulator({
    groups: groupBy === "host" || groupBy === "pid" ? "process" : "shared",
    maxExceptionTypes: 5,
  });
  const skips: string[] = [];
  const stats = await scanTraces(path, accumulator, {
    workers,
    groupBy,
    chunkBytes,
    maxLineLength: 600,
    onSkip: (position, reason) => skips.push(`${position}: ${reason}`),
  });
  return {
    stats,
    skips,
    report: accumulator.report(),
    details: accumulator.details(),
    rows: accumulator.groupRows(),
  };
}

function assertSame(parallel: Outcome, serial: Outcome, label: string): void {
  assert.equal(serial.stats.workers, 0, label);
  assert.deepEqual(
    { ...parallel.stats, workers: 0 },
    serial.stats,
    `${label}: counts`,
  );
  assert.deepEqual(parallel.skips, serial.skips, `${label}: skips`);
  assert.deepEqual(parallel.report, serial.report, `${label}: report`);
  assert.deepEqual(parallel.details, serial.details, `${label}: details`);
  assert.deepEqual(parallel.rows, serial.rows, `${label}: group rows`);
}

describe("scanTraces with workers", () => {
  test("scores, counts and skips exactly as the serial read, wherever chunks cut the lines", async () => {
    const dir = await tempDir();
    const path = `${dir}/mixed.ndjson`;
    const lines = mixedLines(6000, 7);
    // A byte-order mark first, and no newline after the last line.
    writeFileSync(path, "\ufeff" + lines.join("\n"));
    // (Deno type-checks each worker it starts under `deno test`: about a
    // second each, so the cases share few workers.)
    const cases: [GroupBy, number | undefined, number[]][] = [
      ["name", 997, [1, 3]], // chunks far shorter than some lines
      ["module", 4096, [2]],
      ["host", 65536, [2]],
      ["pid", undefined, [1]], // the default 1 MiB: one chunk
    ];
    for (const [groupBy, chunkBytes, counts] of cases) {
      const serial = await scan(path, 0, groupBy, chunkBytes);
      assert.ok(serial.skips.length > 100, "the mix has skips");
      assert.ok(
        serial.skips.some((s) => /longer than 600 characters/.test(s)),
        "the mix has lines too long",
      );
      for (const workers of counts) {
        const parallel = await scan(path, workers, groupBy, chunkBytes);
        assert.equal(parallel.stats.workers, workers, "read by the workers");
        assertSame(parallel, serial, `${groupBy}, ${chunkBytes}, ${workers}`);
      }
    }
  });

  test("short lines, tens of thousands to a chunk, give the same result", async () => {
    const dir = await tempDir();
    const path = `${dir}/short.ndjson`;
    const next = random(21);
    const lines: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      lines.push(
        next() < 0.9
          ? `{"duration":${Math.round(next() * 1e6) / 1e6},"branch_tag":"t${
            i % 3
          }"}`
          : `{"system_metric":true,"metadata":{"lag":${next() / 100}}}`,
      );
    }
    writeFileSync(path, lines.join("\n") + "\n");
    const serial = await scan(path, 0, "name");
    const parallel = await scan(path, 1, "name");
    assert.equal(parallel.stats.workers, 1);
    assertSame(parallel, serial, "short lines");
  });

  test("a last line without newline that is too long, and a file of one line", async () => {
    const dir = await tempDir();
    for (
      const [name, text] of [
        ["long-tail", '{"name":"a","duration":0.1}\n' + "{" + "x".repeat(5000)],
        ["one", '{"name":"a","duration":0.1}'],
        ["one-newline", '{"name":"a","duration":0.1}\r\n'],
        ["blank-end", '{"name":"a","duration":0.1}\n\n\n'],
      ] as const
    ) {
      const path = `${dir}/${name}.ndjson`;
      writeFileSync(path, text);
      const serial = await scan(path, 0, "name", 64);
      const parallel = await scan(path, 2, "name", 64);
      // One line and no newline: the first chunk shows no whole record, so
      // the serial reader takes it; the rest go to the workers.
      assert.equal(parallel.stats.workers, name === "one" ? 0 : 2, name);
      assertSame(parallel, serial, name);
    }
  });

  test("gzip, JSON documents and a first line that is not a record are read serially, with the same result", async () => {
    const dir = await tempDir();
    const records = mixedLines(300, 11).filter((line) =>
      line.startsWith("{") && !line.includes("pad")
    );
    const files: [string, Uint8Array | string][] = [
      ["gz.ndjson.gz", gzipSync(records.join("\n"))],
      ["doc.json", `[${records.filter(isJson).join(",\n")}]`],
      ["traces.json", `{"traces": [\n${records.filter(isJson).join(",\n")}]}`],
      ["blank-first.ndjson", "\n" + records.join("\n")],
      ["garbage-first.ndjson", "oops\n" + records.join("\n")],
    ];
    for (const [name, content] of files) {
      const path = `${dir}/${name}`;
      writeFileSync(path, content);
      const serial = await scan(path, 0, "name", 4096);
      const asked = await scan(path, 2, "name", 4096);
      assert.equal(asked.stats.workers, 0, `${name} went to the workers`);
      assertSame(asked, serial, name);
      assert.ok(serial.stats.entries > 0, name);
    }
  });

  test("the default reads a large file with workers when there are cores to spare, a small one serially", async () => {
    const dir = await tempDir();
    const small = `${dir}/small.ndjson`;
    writeFileSync(small, mixedLines(100, 3).join("\n"));
    assert.equal((await scan(small, undefined!, "name")).stats.workers, 0);
    const large = `${dir}/large.ndjson`;
    const lines = mixedLines(2000, 5).join("\n") + "\n";
    writeFileSync(large, lines.repeat(Math.ceil((17 << 20) / lines.length)));
    const cores = navigator.hardwareConcurrency;
    const auto = await scan(large, undefined!, "name");
    assert.equal(auto.stats.workers, cores >= 2 ? Math.min(4, cores) : 0);
    assertSame(auto, await scan(large, 0, "name"), "large");
  });

  test("Deno without read access to the worker's module: read on one thread, silently, with the same result", async () => {
    const dir = await tempDir();
    const path = `${dir}/traces.ndjson`;
    writeFileSync(path, mixedLines(500, 13).join("\n"));
    const outcomes = [];
    for (const denoPermissions of [["-A"], [`--allow-read=${dir}`]]) {
      const result = await startRuntime("deno", "scan_workers.ts", [path], {
        denoPermissions,
      }).done;
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stderr, "", "nothing printed about the workers");
      outcomes.push(JSON.parse(result.stdout));
    }
    assert.equal(outcomes[0].stats.workers, 2);
    assert.equal(outcomes[1].stats.workers, 0);
    assert.deepEqual(outcomes[1], {
      ...outcomes[0],
      stats: { ...outcomes[0].stats, workers: 0 },
    });
  });

  test("a bad workers option is a PssConfigError", async () => {
    for (const workers of [-1, 1.5, NaN, 65]) {
      await assert.rejects(
        scanTraces("/nonexistent", new PssAccumulator(), { workers }),
        /'workers' must be an integer from 0 to 64/,
      );
    }
  });
});

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}
