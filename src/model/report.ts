/**
 * The JSON report's shapes: the comparison with the previous cycle, the ranked issues and their
 * groups, and the cycle report itself. The source of their types and of schema/cycle-report.schema.json.
 */
import { z } from 'zod';
import { FAILURE_CLASSES, checkStatusSchema, evidenceSchema, prioritySchema } from './check-result.js';
import { attributionSchema, evidenceChainSchema } from './changes.js';
import { CYCLE_VERDICTS, RUN_STATUSES, cycleRecordSchema, gateVerdictSchema } from './record.js';

const changeStatus = z.union([checkStatusSchema, z.literal('absent')]);

export const checkChangeSchema = z.object({
  name: z.string(),
  priority: prioritySchema,
  before: changeStatus,
  after: changeStatus,
  latencyBeforeMs: z.number().optional(),
  latencyAfterMs: z.number().optional(),
  connectBeforeMs: z.number().optional().describe('Connect time; for a multi-connection check, its p95.'),
  connectAfterMs: z.number().optional().describe('Connect time; for a multi-connection check, its p95.'),
}).meta({ id: 'CheckChange' });
export type CheckChange = z.infer<typeof checkChangeSchema>;

/**
 * Every check of either cycle lands in exactly one list. The build and deploy stages appear as P0
 * checks named `build` and `deploy` when either cycle failed them.
 */
export const comparisonSchema = z.object({
  previousCycle: z.number().int().nullable(),
  newlyPassing: z.array(checkChangeSchema).describe('Passing now, failing before.'),
  newlyFailing: z.array(checkChangeSchema).describe('Failing now, passing before.'),
  stillFailing: z.array(checkChangeSchema),
  stillPassing: z.array(checkChangeSchema),
  added: z.array(checkChangeSchema).describe('In this cycle only, while the previous cycle ran all its checks.'),
  removed: z.array(checkChangeSchema).describe('In the previous cycle only, while this cycle ran all its checks.'),
  unmeasured: z
    .array(checkChangeSchema)
    .describe('Not comparable: skipped in either cycle, or absent from a cycle that did not run all its checks (build or deploy failed, interrupted).'),
  flaky: z
    .array(checkChangeSchema)
    .describe('Passed only on retry in this cycle, or flipped against a previous cycle that ran the same revision (same code and same deploy inputs): never counted as newly passing or newly failing.'),
  changedInputs: z
    .array(z.string())
    .optional()
    .describe('Deploy inputs that differ from the previous cycle (`target.env.FAULT`, `target.command`): a check that flipped with them was fixed or broken by that change, not flaky.'),
}).meta({ id: 'Comparison' });
export type Comparison = z.infer<typeof comparisonSchema>;

export const rankedIssueSchema = z.object({
  rank: z.number().int().min(1),
  priority: prioritySchema,
  check: z.string(),
  class: z.enum(FAILURE_CLASSES),
  message: z.string(),
  evidence: evidenceSchema,
  location: z.string().optional().describe('Config location of the check, `file:line`.'),
  failingSince: z.number().int().describe('First cycle of the current failing streak.'),
  failingCycles: z.number().int().describe('Cycles of that streak in which the failure was observed, this one included.'),
  chain: evidenceChainSchema.optional(),
}).meta({ id: 'RankedIssue' });
export type RankedIssue = z.infer<typeof rankedIssueSchema>;

export const issueGroupSchema = z.object({
  rank: z.number().int().min(1).describe('1-based position among the groups: P0 first, then the earliest failingSince.'),
  priority: prioritySchema.describe("The highest priority among the group's checks."),
  class: z.enum(FAILURE_CLASSES),
  key: z.string().describe('The normalized cause the checks share (what they were grouped by).'),
  cause: z.string().describe('The cause as the first check of the group recorded it, for people.'),
  failingSince: z.number().int().describe("The earliest failingSince among the group's checks."),
  failingCycles: z.number().int().describe("The longest streak among the group's checks, in cycles."),
  checks: z.array(rankedIssueSchema).describe('Every check of the group with its own evidence, in rank order.'),
}).meta({ id: 'IssueGroup' });
export type IssueGroup = z.infer<typeof issueGroupSchema>;

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
  attribution: attributionSchema.optional().describe('Which checks flipped since the previous deployed cycle, and what changed (record.changes).'),
  record: cycleRecordSchema.describe('The cycle record itself, with authorization and cookie values masked.'),
  runStatus: z.enum(RUN_STATUSES).optional().describe('On the last cycle of a run: how the run ended (as the markdown\'s "Run ended" line).'),
  runStatusDetail: z.string().optional(),
});
export type CycleReportJson = z.infer<typeof cycleReportJsonSchema>;
