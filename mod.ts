/**
 * pss: the Program Stability Score for Deno and Bun.
 *
 * Mark the code you care about, run your workload, and get one 0–100 score
 * with its five pillars: Timing Stability, Memory Stability, Error
 * Volatility, Branching Entropy and Concurrency Chaos. The same traces give
 * the same score as the Python library pypss 1.3.1.
 *
 * ```ts
 * import { computePss, globalCollector, monitorBlock, renderReportText } from "@pss/pss";
 * import assert from "node:assert/strict";
 *
 * for (let i = 0; i < 100; i++) {
 *   using _ = monitorBlock("work", { branchTag: i % 10 ? "fast" : "slow" });
 *   JSON.stringify({ i });
 * }
 * const report = computePss(await globalCollector.traces());
 * assert.equal(report.traceCount, 100);
 * console.log(renderReportText(report));
 * ```
 *
 * This entry loads only web-standard modules: it runs on Deno, Bun and in
 * browsers (where memory readings are absent). Everything else is a subpath
 * export: `@pss/pss/score` (the single pillars and pypss rounding),
 * `@pss/pss/report` (diagnosis and verdicts), `@pss/pss/stats` (the
 * statistics), `@pss/pss/fifo` (many processes into one file),
 * `@pss/pss/redis` (many hosts into Redis), `@pss/pss/connect` and
 * `@pss/pss/agent` (shipping to and running a pss agent), `@pss/pss/bench`
 * (benchmark stability) and `@pss/pss/cli`.
 *
 * @module
 */

// The trace model and its pypss wire codec.
export type { Trace } from "./src/trace.ts";
export { traceFromJson, traceIdOf, traceToJson } from "./src/trace.ts";

// Scoring.
export { PssConfigError } from "./src/score/config.ts";
export type { PssConfig } from "./src/score/config.ts";
export type { PssBreakdown, PssReport } from "./src/score/report.ts";
export { computePss, computePssByName } from "./src/score/pss.ts";
export type { NamedPssReport, PillarKey } from "./src/score/pss.ts";

// Instrumentation.
export { monitorBlock } from "./src/instrument/monitor_block.ts";
export type {
  MonitorBlock,
  MonitorOptions,
} from "./src/instrument/monitor_block.ts";
export { monitorAsync } from "./src/instrument/monitor_async.ts";
export type { AsyncMonitorBlock } from "./src/instrument/monitor_async.ts";
export { monitorFunction } from "./src/instrument/monitor_function.ts";
export type { AnyFunction } from "./src/instrument/monitor_function.ts";
export { monitored } from "./src/instrument/monitored.ts";
export {
  currentTags,
  tagsFollowAwait,
  withTags,
} from "./src/instrument/context.ts";
export type { TraceTags } from "./src/instrument/context.ts";
export {
  configureInstrumentation,
  getInstrumentationSettings,
  instrumentationStats,
} from "./src/instrument/settings.ts";
export type {
  InstrumentationErrorSource,
  InstrumentationOptions,
  InstrumentationSettings,
  InstrumentationStats,
} from "./src/instrument/settings.ts";
export {
  LOOP_HEALTH_TRACE_NAME,
  startAsyncMonitoring,
} from "./src/instrument/loop_monitor.ts";
export type {
  AsyncMonitoringOptions,
  LoopMonitor,
  LoopMonitorStats,
} from "./src/instrument/loop_monitor.ts";
export type { LagSource } from "./src/runtime/loop.ts";

// Configuration from files and the environment.
export { applyConfig, CONFIG_ENV_VARS, loadConfig } from "./src/config/load.ts";
export type {
  LoadConfigOptions,
  LoadedConfig,
  SettingName,
} from "./src/config/load.ts";

// Collectors and reading traces back.
export type { Collector, TraceObserver } from "./src/collect/collector.ts";
export {
  globalCollector,
  MemoryCollector,
  setGlobalCollector,
} from "./src/collect/memory.ts";
export type { MemoryCollectorOptions } from "./src/collect/memory.ts";
export { BatchCollector } from "./src/collect/batch.ts";
export type {
  BatchCollectorOptions,
  BatchCollectorStats,
  BatchOptions,
  ExportFailure,
} from "./src/collect/batch.ts";
export {
  ExportInDoubtError,
  PermanentExportError,
} from "./src/collect/exporter.ts";
export type { TraceExporter } from "./src/collect/exporter.ts";
export { flushOnSignals } from "./src/collect/signals.ts";
export type {
  FlushOnSignalsOptions,
  ProcessSignal,
} from "./src/collect/signals.ts";
export { readTraces } from "./src/collect/read.ts";
export type {
  RawEntry,
  ReadTracesOptions,
  ReadTracesStats,
  TraceFileFormat,
  TraceInput,
  TraceReader,
  TraceSource,
} from "./src/collect/read.ts";
export { scanTraces } from "./src/collect/scan.ts";
export type {
  GroupBy,
  ScanStats,
  ScanTracesOptions,
} from "./src/collect/scan.ts";

// Reports.
export { renderReportText } from "./src/report/text.ts";
export type { TextReportOptions } from "./src/report/text.ts";
export { renderReportJson } from "./src/report/json.ts";
export type { JsonReportOptions } from "./src/report/json.ts";
export { renderReportHtml } from "./src/report/html.ts";
export type { HtmlReportOptions } from "./src/report/html.ts";
