/**
 * What `run` and `cycle` write to `--json PATH`: how the run ended, each cycle's verdict and gate
 * with the paths of its reports, and the last cycle's JSON report itself, so a CI step needs one
 * file. Its zod schema is the source of its type and of schema/run-outcome.schema.json.
 *
 * Paths are relative to the working directory deploy-loop ran in, with `/` separators: a CI step
 * runs from the repository root, so `cat "$(jq -r '.cycles[-1].reports.markdown' outcome.json)"`
 * works there as written, wherever the outcome file itself was put, and no absolute path of the
 * machine that ran it leaks into an artifact.
 */
import { relative, sep } from 'node:path';
import { type CycleReportJson } from '../model/report.js';
import type { PublishedCycle, RunOutcome, RunOutcomeJson } from '../model/run-outcome.js';

/** `path` relative to `base` ("." for `base` itself), `/`-separated on every platform. */
export function outcomePath(path: string, base: string): string {
  const rel = relative(base, path);
  return rel === '' ? '.' : rel.split(sep).join('/');
}

function relativeReports(reports: PublishedCycle, base: string): PublishedCycle {
  return {
    markdown: outcomePath(reports.markdown, base),
    json: outcomePath(reports.json, base),
    junit: outcomePath(reports.junit, base),
    record: outcomePath(reports.record, base),
    summary: outcomePath(reports.summary, base),
  };
}

/** `base` is the working directory the paths are made relative to (the CLI passes process.cwd()). */
export function renderRunOutcome(outcome: RunOutcome, lastReport: CycleReportJson | undefined, base: string): RunOutcomeJson {
  return {
    status: outcome.status,
    reportsDir: outcomePath(outcome.reportsDir, base),
    cycles: outcome.cycles.flatMap((c, i) => {
      const reports = outcome.published[i];
      return reports ? [{ cycle: c.cycle, verdict: c.verdict, gate: c.gate, reports: relativeReports(reports, base) }] : [];
    }),
    ...(lastReport ? { lastReport } : {}),
  };
}
