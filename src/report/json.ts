/**
 * The cycle report as JSON, for agents and tools: the redacted record plus everything the markdown
 * derives from it (comparison, ranked issues, traffic sentence, next steps), from the same summary.
 */
import type { CycleRecord, CycleVerdict, GateVerdict, RunStatus } from '../loop/record.js';
import type { Comparison } from './compare.js';
import type { IssueGroup } from './groups.js';
import type { RankedIssue } from './issues.js';
import { summarizeCycle } from './summary.js';

export const REPORT_VERSION = 1;

export interface CycleReportJson {
  reportVersion: typeof REPORT_VERSION;
  service: string;
  cycle: number;
  runId: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  verdict: CycleVerdict;
  /** As the markdown verdict line says it: `gate passed`, `deploy failed`, … */
  verdictText: string;
  gate: GateVerdict;
  /** What happened to traffic, in the markdown's words. */
  trafficAction: string;
  comparison: Comparison;
  issues: RankedIssue[];
  /** The same issues grouped by root cause, as the markdown's "Remaining issues" lists them. Additive. */
  issueGroups: IssueGroup[];
  nextSteps: string[];
  /** The cycle record itself, with authorization and cookie values masked. */
  record: CycleRecord;
  /** On the last cycle of a run: how the run ended (as the markdown's "Run ended" line). */
  runStatus?: RunStatus;
  runStatusDetail?: string;
}

export function renderCycleJson(current: CycleRecord, history: CycleRecord[]): CycleReportJson {
  const s = summarizeCycle(current, history);
  return {
    reportVersion: REPORT_VERSION,
    service: s.record.service,
    cycle: s.record.cycle,
    runId: s.record.runId,
    startedAt: s.record.startedAt,
    finishedAt: s.record.finishedAt,
    durationMs: s.record.durations.totalMs,
    verdict: s.record.verdict,
    verdictText: s.verdictText,
    gate: s.record.gate,
    trafficAction: s.trafficAction,
    comparison: s.comparison,
    issues: s.issues,
    issueGroups: s.issueGroups,
    nextSteps: s.nextSteps,
    record: s.record,
    ...(s.record.runStatus ? { runStatus: s.record.runStatus } : {}),
    ...(s.record.runStatusDetail ? { runStatusDetail: s.record.runStatusDetail } : {}),
  };
}
