/**
 * What `run` and `cycle` write to `--json PATH`: how the run ended, each cycle's verdict and gate
 * with the paths of its reports, and the last cycle's JSON report itself, so a CI step needs one
 * file. Its zod schema is the source of its type and of schema/run-outcome.schema.json.
 */
import type { RunOutcome } from '../model/run-outcome.js';
import { type CycleReportJson } from '../model/report.js';
import type { RunOutcomeJson } from '../model/run-outcome.js';

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
