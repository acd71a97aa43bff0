// Hand-built reports shared by the report tests.
import type { PssBreakdown, PssReport } from "../../src/score/report.ts";

export const HEALTHY: PssBreakdown = {
  timingStability: 1,
  memoryStability: 1,
  errorVolatility: 1,
  branchingEntropy: 1,
  concurrencyChaos: 1,
};

export function makeReport(
  pss: number,
  breakdown: Partial<PssBreakdown> = {},
  counts: Partial<
    Pick<PssReport, "traceCount" | "systemTraceCount" | "skippedCount">
  > = {},
): PssReport {
  return {
    pss,
    breakdown: { ...HEALTHY, ...breakdown },
    traceCount: counts.traceCount ?? 100,
    systemTraceCount: counts.systemTraceCount ?? 0,
    skippedCount: counts.skippedCount ?? 0,
  };
}

export const EMPTY: PssReport = {
  pss: 0,
  breakdown: {
    timingStability: 0,
    memoryStability: 0,
    errorVolatility: 0,
    branchingEntropy: 0,
    concurrencyChaos: 0,
  },
  traceCount: 0,
  systemTraceCount: 0,
  skippedCount: 0,
};
