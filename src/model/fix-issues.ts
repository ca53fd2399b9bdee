/** The file the fix command is given (DEPLOY_LOOP_ISSUES_JSON); the source of schema/fix-issues.schema.json. */
import { z } from 'zod';
import { prioritySchema } from './check-result.js';
import { stoppedEarlySchema } from './record.js';
import { issueGroupSchema, rankedIssueSchema } from './report.js';
import { attributionSchema, cycleChangesSchema } from './changes.js';

/** Evidence strings are cut to this many characters so an agent's context is not flooded. */
export const EVIDENCE_BUDGET = 2000;

export const flakyIssueSchema = z
  .object({
    check: z.string(),
    priority: prioritySchema,
    location: z.string().optional().describe('Config location of the check, `file:line`.'),
    failedAttempts: z
      .array(z.object({ attempt: z.number().int(), class: z.string().optional(), message: z.string().optional() }))
      .describe('The failed attempts before the pass: class and message of each.'),
  })
  .meta({ id: 'FlakyIssue' });
export type FlakyIssue = z.infer<typeof flakyIssueSchema>;

/** The file the fix command is given (DEPLOY_LOOP_ISSUES_JSON): what to fix, P0 first, evidence cut to a budget. */
export const fixIssuesFileSchema = z.object({
  cycle: z.number().int().min(1).describe('The cycle these issues come from.'),
  service: z.string(),
  issues: z.array(rankedIssueSchema).describe(`Ranked P0 first, then by how long they have failed; evidence strings cut to ${EVIDENCE_BUDGET} characters, log tails to 20 lines.`),
  groups: z.array(issueGroupSchema).describe('The same issues grouped by root cause.'),
  flaky: z.array(flakyIssueSchema).describe('P0 checks that passed only after a failed attempt: the gate may count them as not passed.'),
  stoppedEarly: stoppedEarlySchema.optional().describe('An abortOnFail threshold stopped the smoke run: `skipped` checks did not run and are not among the issues.'),
  changes: cycleChangesSchema.optional().describe('What the previous fix changed (files, inputs, suite), as the report lists it.'),
  attribution: attributionSchema.optional(),
});
export type FixIssuesFile = z.infer<typeof fixIssuesFileSchema>;
