/**
 * The published JSON Schemas for what deploy-loop writes: the JSON cycle report
 * (schema/cycle-report.schema.json), the history record (schema/cycle-record.schema.json), the issues
 * file the fix command reads (schema/fix-issues.schema.json) and the `--json PATH` file of `run` and
 * `cycle` (schema/run-outcome.schema.json). All are generated from the zod schemas their types come
 * from; test/unit/report-json-schema.test.ts pins the committed files to them (UPDATE_SCHEMA=1
 * rewrites them) and validates reports against them with ajv.
 */
import { z } from 'zod';
import { cycleRecordSchema, RECORD_SCHEMA_VERSION } from '../model/record.js';
import { fixIssuesFileSchema } from '../model/fix-issues.js';
import { cycleReportJsonSchema, REPORT_VERSION } from '../model/report.js';
import { runOutcomeJsonSchema } from '../model/run-outcome.js';

export const REPORT_SCHEMA_FILE = 'schema/cycle-report.schema.json';
export const RECORD_SCHEMA_FILE = 'schema/cycle-record.schema.json';
export const ISSUES_SCHEMA_FILE = 'schema/fix-issues.schema.json';
export const OUTCOME_SCHEMA_FILE = 'schema/run-outcome.schema.json';

function render(schema: z.ZodType, title: string, description: string): string {
  // Parts with a meta id (CheckResult, RankedIssue, …) become $defs under that name.
  const { $schema, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12' });
  return `${JSON.stringify({ $schema, title, description, ...rest }, null, 2)}\n`;
}

export function renderReportJsonSchema(): string {
  return render(
    cycleReportJsonSchema,
    `deploy-loop cycle report (reports/cycle-NNN.json), reportVersion ${REPORT_VERSION}`,
    'Everything the markdown cycle report says, for tools and agents: verdict, gate with measured thresholds, comparison with the previous cycle, ranked issues with evidence, next steps, and the redacted cycle record.',
  );
}

export function renderRecordJsonSchema(): string {
  return render(
    cycleRecordSchema,
    `deploy-loop cycle record (reports/history/cycle-NNN.json), schemaVersion ${RECORD_SCHEMA_VERSION}`,
    'What one cycle left behind: build, deploy, traffic, smoke results with evidence, gate. Every report is re-rendered from these.',
  );
}

export function renderFixIssuesJsonSchema(): string {
  return render(
    fixIssuesFileSchema,
    'deploy-loop fix issues (reports/issues-NNN.json, given to the fix command as DEPLOY_LOOP_ISSUES_JSON)',
    "What the fix command should fix after a cycle: the ranked issues with evidence cut to a budget, grouped by root cause, and the P0 checks that passed only on retry.",
  );
}

export function renderRunOutcomeJsonSchema(): string {
  return render(
    runOutcomeJsonSchema,
    'deploy-loop run outcome (the --json PATH file of run and cycle)',
    "How the run ended, each cycle's verdict and gate with the paths of its reports, and the last cycle's JSON report.",
  );
}
