/**
 * pss: the Program Stability Score for Deno and Bun.
 *
 * @module
 */

export type { Trace } from "./src/trace.ts";
export {
  isScorableTrace,
  parseWireNumber,
  traceFromJson,
  traceToJson,
} from "./src/trace.ts";
export {
  DEFAULT_CONFIG,
  PssConfigError,
  resolveConfig,
} from "./src/score/config.ts";
export type { PssConfig } from "./src/score/config.ts";
export type { Collector, TraceObserver } from "./src/collect/collector.ts";
export {
  getGlobalCollector,
  globalCollector,
  MemoryCollector,
  setGlobalCollector,
} from "./src/collect/memory.ts";
export type { MemoryCollectorOptions } from "./src/collect/memory.ts";
export type { PssBreakdown, PssReport } from "./src/score/report.ts";
