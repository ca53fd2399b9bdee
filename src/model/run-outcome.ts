/**
 * What \`run\` and \`cycle\` end with: the in-process outcome, and its JSON form for \`--json PATH\`
 * (the source of schema/run-outcome.schema.json).
 */
import { z } from 'zod';
import { CYCLE_VERDICTS, RUN_STATUSES, gateVerdictSchema, type CycleRecord, type RunStatus } from './record.js';
import { cycleReportJsonSchema } from './report.js';

export const publishedCycleSchema = z
  .object({
    markdown: z.string(),
    json: z.string(),
    junit: z.string(),
    record: z.string().describe('The history record the reports are rendered from.'),
    summary: z.string().describe('reports/summary.md: the trend across every cycle of the service.'),
  })
  .describe(
    'Where the cycle wrote its reports. In the `--json` outcome these paths are relative to the working directory deploy-loop ran in (the repository root in CI), with / separators; in process (RunOutcome.published) they are absolute.',
  )
  .meta({ id: 'PublishedCycle' });
export type PublishedCycle = z.infer<typeof publishedCycleSchema>;

export const runOutcomeJsonSchema = z.object({
  status: z.enum(RUN_STATUSES).describe('How the run ended (`cycle` runs one cycle: passed, max-cycles or interrupted).'),
  reportsDir: z.string().describe('The reports folder, relative to the working directory deploy-loop ran in ("." when it is that folder), with / separators.'),
  cycles: z.array(
    z.object({
      cycle: z.number().int().min(1),
      verdict: z.enum(CYCLE_VERDICTS),
      gate: gateVerdictSchema,
      reports: publishedCycleSchema,
    }),
  ),
  lastReport: cycleReportJsonSchema.optional().describe("The last cycle's JSON report, as its reports/cycle-NNN.json holds it."),
});
export type RunOutcomeJson = z.infer<typeof runOutcomeJsonSchema>;

export interface RunOutcome {
  status: RunStatus;
  cycles: CycleRecord[];
  published: PublishedCycle[];
  reportsDir: string;
}
