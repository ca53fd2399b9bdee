/**
 * What `run` and `cycle` write to `--json PATH`: how the run ended, each cycle's verdict and gate
 * with the paths of its reports, and the last cycle's JSON report itself, so a CI step needs one
 * file. Its zod schema is the source of its type and of schema/run-outcome.schema.json.
 */
import { z } from 'zod';
import { CYCLE_VERDICTS, RUN_STATUSES, gateVerdictSchema } from '../loop/record.js';
import type { RunOutcome } from '../loop/run.js';
import { cycleReportJsonSchema, type CycleReportJson } from './json.js';

export const publishedCycleSchema = z
  .object({
    markdown: z.string(),
    json: z.string(),
    junit: z.string(),
    record: z.string().describe('The history record the reports are rendered from.'),
    summary: z.string().describe('reports/summary.md: the trend across every cycle of the service.'),
  })
  .describe('Absolute paths of what the cycle wrote.')
  .meta({ id: 'PublishedCycle' });
export type PublishedCycle = z.infer<typeof publishedCycleSchema>;

export const runOutcomeJsonSchema = z.object({
  status: z.enum(RUN_STATUSES).describe('How the run ended (`cycle` runs one cycle: passed, max-cycles or interrupted).'),
  reportsDir: z.string(),
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

export function renderRunOutcome(outcome: RunOutcome, lastReport: CycleReportJson | undefined): RunOutcomeJson {
  return {
    status: outcome.status,
    reportsDir: outcome.reportsDir,
    cycles: outcome.cycles.flatMap((c, i) => {
      const reports = outcome.published[i];
      return reports ? [{ cycle: c.cycle, verdict: c.verdict, gate: c.gate, reports }] : [];
    }),
    ...(lastReport ? { lastReport } : {}),
  };
}
