/**
 * The cycle report as JSON, for agents and tools: the redacted record plus everything the markdown
 * derives from it (comparison, ranked issues, traffic sentence, next steps), from the same summary.
 * Its zod schema is the source of its type and of schema/cycle-report.schema.json.
 */
import { z } from 'zod';
import { CYCLE_VERDICTS, RUN_STATUSES, cycleRecordSchema, gateVerdictSchema, type CycleRecord } from '../loop/record.js';
import { comparisonSchema } from './compare.js';
import { issueGroupSchema } from './groups.js';
import { rankedIssueSchema } from './issues.js';
import { summarizeCycle } from './summary.js';

export const REPORT_VERSION = 1;

export const cycleReportJsonSchema = z.object({
  reportVersion: z.literal(REPORT_VERSION),
  service: z.string(),
  cycle: z.number().int().min(1),
  runId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  verdict: z.enum(CYCLE_VERDICTS),
  verdictText: z.string().describe('As the markdown verdict line says it: `gate passed`, `deploy failed`, …'),
  gate: gateVerdictSchema,
  trafficAction: z.string().describe("What happened to traffic, in the markdown's words."),
  comparison: comparisonSchema,
  issues: z.array(rankedIssueSchema),
  issueGroups: z.array(issueGroupSchema).describe('The same issues grouped by root cause, as the markdown\'s "Remaining issues" lists them.'),
  nextSteps: z.array(z.string()),
  record: cycleRecordSchema.describe('The cycle record itself, with authorization and cookie values masked.'),
  runStatus: z.enum(RUN_STATUSES).optional().describe('On the last cycle of a run: how the run ended (as the markdown\'s "Run ended" line).'),
  runStatusDetail: z.string().optional(),
});
export type CycleReportJson = z.infer<typeof cycleReportJsonSchema>;

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
