/**
 * A pss agent URL as a source of `pss score` and `pss compare`. The agent
 * serves scores, not traces (`GET /score?by_name=1`, the JSON report), so
 * such a source is read whole and cannot be pooled with other sources.
 *
 * @module
 */

import type { PssReport } from "../score/report.ts";
import type { NamedPssReport } from "../score/pss.ts";
import { PILLARS } from "../score/pss.ts";
import type { PssBreakdown } from "../score/report.ts";

/** What the agent's `/score` says, as reports. */
export interface AgentScores {
  /** The overall report. */
  report: PssReport;
  /** The per-name reports. */
  rows: NamedPssReport[];
}

interface ReportJson {
  pss?: unknown;
  pillars?: Record<string, unknown>;
  counts?: Record<string, unknown>;
  by_name?: ReportJson[];
  name?: unknown;
}

function toReport(json: ReportJson): PssReport {
  const number = (value: unknown): number => {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new Error(`the agent's answer is not a pss report`);
    }
    return value;
  };
  const breakdown = {} as PssBreakdown;
  for (const pillar of PILLARS) {
    breakdown[pillar.key] = number(json.pillars?.[pillar.pypssKey]);
  }
  const report: PssReport = {
    pss: number(json.pss),
    breakdown,
    traceCount: number(json.counts?.traces),
    systemTraceCount: number(json.counts?.system_traces),
    skippedCount: number(json.counts?.skipped),
  };
  // The agent's JSON report always carries it; an older agent's lacks it.
  const unused = json.counts?.unused;
  if (unused !== undefined) report.unusedCount = number(unused);
  return report;
}

/**
 * Fetches the scores of the agent at `url`, with `token` as a bearer token
 * when given.
 *
 * @throws {Error} With a one-line message when the agent cannot be reached
 * or answers with an error.
 */
export async function fetchAgentScores(
  url: string,
  token: string | undefined,
  timeoutMs = 30_000,
): Promise<AgentScores> {
  const base = new URL(url);
  const target = new URL(
    `${base.pathname.replace(/\/+$/, "")}/score`,
    base,
  );
  target.searchParams.set("by_name", "1");
  let response: Response;
  try {
    response = await fetch(target, {
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } })
      ?.cause;
    const text = `${String(error)} ${cause?.code ?? ""} ${
      cause?.message ?? ""
    }`;
    throw new Error(
      /ECONNREFUSED|refused/i.test(text)
        ? "connection refused"
        : /timeout|timed out/i.test(text)
        ? `no answer within ${timeoutMs / 1000} s`
        : `cannot reach the agent (${text.trim().split("\n")[0]})`,
    );
  }
  const text = await response.text();
  if (!response.ok) {
    let reason = text.slice(0, 200);
    try {
      reason = String(JSON.parse(text).error ?? reason);
    } catch {
      // Not JSON: the text itself.
    }
    throw new Error(
      `the agent answered ${response.status}: ${reason}${
        response.status === 401 ? " (set PSS_AGENT_TOKEN)" : ""
      }`,
    );
  }
  let json: ReportJson;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("the agent's answer is not JSON");
  }
  return {
    report: toReport(json),
    rows: (json.by_name ?? []).map((row) => ({
      name: String(row.name),
      report: toReport(row),
    })),
  };
}
