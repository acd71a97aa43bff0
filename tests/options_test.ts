/**
 * One policy for options across the public API: where a program configures
 * things (constructors, readers, renderers, loadConfig), an unknown key or
 * a wrong value is a PssConfigError at once, naming the closest known key;
 * inside the host's code path (withTags) it is reported once to onError.
 */
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  computePss,
  configureInstrumentation,
  type InstrumentationErrorSource,
  loadConfig,
  MemoryCollector,
  monitorBlock,
  readTraces,
  renderReportHtml,
  renderReportJson,
  renderReportText,
  scanTraces,
  withTags,
} from "../mod.ts";
import { PssAccumulator } from "../src/score/mod.ts";
import {
  compareReports,
  diagnoseReport,
  renderComparisonText,
} from "../src/report/mod.ts";
import { PssConfigError } from "../src/score/config.ts";
import { resetInstrumentation } from "../src/instrument/settings.ts";

afterEach(() => {
  resetInstrumentation();
});

/** Asserts that `run` throws a PssConfigError whose message matches. */
function refuses(run: () => unknown, pattern: RegExp): void {
  assert.throws(
    run,
    (error) => error instanceof PssConfigError && pattern.test(error.message),
  );
}

async function refusesAsync(
  run: () => Promise<unknown>,
  pattern: RegExp,
): Promise<void> {
  await assert.rejects(
    run,
    (error) => error instanceof PssConfigError && pattern.test(error.message),
  );
}

// Options given under names users may not know are wrong, hence `never`.
const as = <T>(value: unknown): T => value as T;

describe("PssAccumulator's options", () => {
  test("an unknown key names the closest known one", () => {
    refuses(
      () => new PssAccumulator(as({ grops: "process" })),
      /'grops' is not a known option of PssAccumulator \(did you mean 'groups'\?\)/,
    );
  });

  test("groups must be false, shared or process; a cut-short value is named", () => {
    refuses(
      () => new PssAccumulator(as({ groups: "proc" })),
      /PssAccumulator's 'groups' must be one of false, "shared", "process" \(did you mean 'process'\?\)/,
    );
    refuses(() => new PssAccumulator(as({ groups: true })), /'groups'/);
    for (const groups of [false, "shared", "process"] as const) {
      assert.equal(new PssAccumulator({ groups }).grouped, groups !== false);
    }
  });

  test("maxExceptionTypes must be a positive integer", () => {
    for (const value of [-3, 0, 1.5, NaN, "8"]) {
      refuses(
        () => new PssAccumulator(as({ maxExceptionTypes: value })),
        /PssAccumulator's 'maxExceptionTypes' must be a positive integer/,
      );
    }
    new PssAccumulator({ maxExceptionTypes: 1 });
  });
});

describe("readers' and scanTraces' options", () => {
  test("readTraces refuses an unknown key and a bad value at the call", () => {
    const collector = new MemoryCollector();
    refuses(
      () => readTraces(collector, as({ chunkbytes: 1024 })),
      /'chunkbytes' is not a known option of readTraces \(did you mean 'chunkBytes'\?\)/,
    );
    refuses(
      () => readTraces(collector, { chunkBytes: 0 }),
      /readTraces' 'chunkBytes' must be a positive integer: got 0/,
    );
    refuses(
      () => readTraces(collector, { maxLineLength: 2.5 }),
      /readTraces' 'maxLineLength' must be a positive integer: got 2.5/,
    );
    refuses(
      () => readTraces(collector, as({ onSkip: "log" })),
      /readTraces' 'onSkip' must be a function/,
    );
  });

  test("scanTraces refuses unknown keys, a bad groupBy and a missing accumulator before reading", async () => {
    const dir = await mkdtemp(join(tmpdir(), "pss-options-"));
    try {
      const path = join(dir, "t.ndjson");
      await writeFile(path, '{"name":"a","duration":0.1}\n');
      const accumulator = new PssAccumulator();
      await refusesAsync(
        () => scanTraces(path, accumulator, as({ grupBy: "host" })),
        /'grupBy' is not a known option of scanTraces \(did you mean 'groupBy'\?\)/,
      );
      await refusesAsync(
        () => scanTraces(path, accumulator, as({ workrs: 2 })),
        /'workrs' is not a known option of scanTraces \(did you mean 'workers'\?\)/,
      );
      await refusesAsync(
        () => scanTraces(path, accumulator, as({ groupBy: "hostname" })),
        /scanTraces' 'groupBy' must be one of "name", "module", "host", "pid" \(did you mean 'host'\?\)/,
      );
      // The options in the accumulator's place: said plainly, not
      // "target.addValues is not a function" from deep inside.
      await refusesAsync(
        () => scanTraces(path, as({ groupBy: "host" })),
        /scanTraces' second argument must be a PssAccumulator/,
      );
      assert.equal(accumulator.traceCount, 0, "nothing was read");
      const stats = await scanTraces(path, accumulator, { groupBy: "name" });
      assert.equal(stats.entries, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("loadConfig's own options", () => {
  test("an unknown key names the closest known one; wrong types are refused", async () => {
    await refusesAsync(
      () => loadConfig(as({ manifest: false, env: {} })),
      /'manifest' is not a known option of loadConfig \(did you mean 'manifests'\?\)/,
    );
    await refusesAsync(
      () => loadConfig(as({ manifests: "no", env: {} })),
      /'manifests' must be a boolean/,
    );
    await refusesAsync(
      () => loadConfig(as({ onWarning: "warn", env: {} })),
      /loadConfig's 'onWarning' must be a function/,
    );
  });

  test("a setting's range errors still name where the value came from", async () => {
    await refusesAsync(
      () => loadConfig({ env: { PSS_MAX_TRACES: "0" }, manifests: false }),
      /^Invalid pss configuration \(from environment variable PSS_MAX_TRACES\) as 'maxTraces' must be a positive integer: got 0$/,
    );
  });
});

describe("renderers' and diagnoseReport's options", () => {
  const report = computePss([{ name: "op", duration: 0.1 }]);

  test("each refuses an unknown key, naming the closest known one", () => {
    refuses(
      () => renderReportText(report, as({ maxName: 5 })),
      /'maxName' is not a known option of renderReportText \(did you mean 'maxNames'\?\)/,
    );
    refuses(
      () => renderReportJson(report, as({ indnt: 0 })),
      /'indnt' is not a known option of renderReportJson \(did you mean 'indent'\?\)/,
    );
    refuses(
      () => renderReportHtml(report, as({ subtitel: "x" })),
      /'subtitel' is not a known option of renderReportHtml \(did you mean 'subtitle'\?\)/,
    );
    refuses(
      () => diagnoseReport(report, as({ threshold: {} })),
      /'threshold' is not a known option of diagnoseReport \(did you mean 'thresholds'\?\)/,
    );
  });

  test("every documented key is accepted", () => {
    const byName = new Map([["op", report]]);
    renderReportText(report, {
      byName,
      maxNames: 3,
      color: false,
      title: "t",
      thresholds: {},
      rowLabel: "name",
    });
    renderReportJson(report, { byName, thresholds: {}, indent: 0 });
    renderReportHtml(report, {
      byName,
      title: "t",
      subtitle: "s",
      thresholds: {},
      rowLabel: "name",
    });
    diagnoseReport(report, { thresholds: {} });
  });
});

describe("comparison options, where a typo would turn a CI gate off", () => {
  const report = computePss([{ name: "op", duration: 0.1 }]);
  const side = { report, rows: [] };

  test("compareReports and renderComparisonText refuse unknown keys", () => {
    refuses(
      () => compareReports(side, side, as({ maxdrop: 1 })),
      /'maxdrop' is not a known option of compareReports \(did you mean 'maxDrop'\?\)/,
    );
    refuses(
      () => renderComparisonText(compareReports(side, side), as({ maxrow: 1 })),
      /'maxrow' is not a known option of renderComparisonText \(did you mean 'maxRows'\?\)/,
    );
    refuses(
      () => renderComparisonText(compareReports(side, side), { maxRows: -1 }),
      /renderComparisonText's 'maxRows' must be a positive integer/,
    );
  });

  test("every documented key is accepted", () => {
    const comparison = compareReports(side, side, { maxDrop: 5, minTraces: 1 });
    assert.match(
      renderComparisonText(comparison, { maxRows: 3, color: false }),
      /PSS/,
    );
  });
});

describe("scoring settings given in code", () => {
  test("an unknown setting names the closest known one, as in a pss.json", () => {
    refuses(
      () => computePss([], as({ alpah: 2 })),
      /'alpah' is not a known setting \(did you mean 'alpha'\?\)/,
    );
  });
});

describe("withTags() with tags that are not an object", () => {
  test("runs fn untagged and reports the problem once to onError, never throwing", () => {
    const seen: Array<[unknown, InstrumentationErrorSource]> = [];
    configureInstrumentation({
      onError: (error, source) => seen.push([error, source]),
    });
    const collector = new MemoryCollector();
    for (const tags of [5, null, ["a"], 5]) {
      const result = withTags(as(tags), () => {
        monitorBlock("op", { collector }).end();
        return "ran";
      });
      assert.equal(result, "ran");
    }
    assert.equal(collector.size, 4);
    assert.equal(collector.snapshot()[0].metadata, undefined);
    assert.equal(seen.length, 1);
    assert.equal(seen[0][1], "options");
    assert.match(
      (seen[0][0] as Error).message,
      /withTags' 'tags' must be an object of tags: got 5/,
    );
  });

  test("a fn that is not a function is refused (there is nothing to run)", () => {
    refuses(
      () => withTags({ a: 1 }, as(undefined)),
      /withTags' 'fn' must be a function/,
    );
  });
});
