/**
 * `@pss/pss/report`: what the text, JSON and HTML reports are built from,
 * for reports of your own: the verdict of a report, the diagnosis of each
 * pillar with its likely causes, per-name ranking, and the shape of the
 * JSON report (`renderReportJson` in `@pss/pss` writes it).
 *
 * ```ts
 * import { computePss } from "@pss/pss";
 * import { diagnoseReport, verdictOf } from "@pss/pss/report";
 * const report = computePss([{ name: "op", duration: 0.1 }]);
 * if (verdictOf(report) !== "excellent") throw new Error(verdictOf(report));
 * if (diagnoseReport(report).findings.length !== 0) throw new Error("no findings expected");
 * ```
 *
 * @module
 */

export {
  DEFAULT_DIAGNOSIS_THRESHOLDS,
  diagnoseReport,
  formatPillar,
  isEmptyReport,
  pillarSeverity,
  rankByName,
  verdictOf,
} from "./diagnose.ts";
export type {
  DiagnoseOptions,
  Diagnosis,
  PillarFinding,
  PillarThresholds,
  ReportsByName,
  Severity,
  Verdict,
} from "./diagnose.ts";
export type {
  BreakdownJson,
  CountsJson,
  DetailsJson,
  DragRowJson,
  FindingJson,
  NamedReportJson,
  PssReportJson,
} from "./json.ts";
export {
  compareReports,
  comparisonToJson,
  renderComparisonText,
} from "./compare.ts";
export type {
  ComparedSide,
  CompareOptions,
  Comparison,
  ComparisonDeltaJson,
  ComparisonJson,
  ComparisonSideJson,
  RowChange,
  ScoreDelta,
} from "./compare.ts";
export type { PypssReportJson } from "../score/pss.ts";
