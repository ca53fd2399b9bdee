/**
 * The cycle report as JSON, for agents and tools: the redacted record plus everything the markdown
 * derives from it (comparison, ranked issues, traffic sentence, next steps), from the same summary.
 * Its zod schema is the source of its type and of schema/cycle-report.schema.json.
 */
import { type CycleRecord } from '../model/record.js';
import { summarizeCycle, type CycleSummary } from './summary.js';
import { REPORT_VERSION, type CycleReportJson } from '../model/report.js';

/** `s` lets a caller rendering several formats summarize once (renderCycleReports). */
export function renderCycleJson(current: CycleRecord, history: CycleRecord[], s: CycleSummary = summarizeCycle(current, history)): CycleReportJson {
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
    ...(s.attribution ? { attribution: s.attribution } : {}),
    record: s.record,
    ...(s.record.runStatus ? { runStatus: s.record.runStatus } : {}),
    ...(s.record.runStatusDetail ? { runStatusDetail: s.record.runStatusDetail } : {}),
  };
}
