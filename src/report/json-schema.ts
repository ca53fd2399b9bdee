/**
 * The published JSON Schemas for what deploy-loop writes: the JSON cycle report
 * (schema/cycle-report.schema.json) and the history record (schema/cycle-record.schema.json). Both
 * are generated from the zod schemas the types come from; test/unit/report-json-schema.test.ts pins
 * the committed files to them (UPDATE_SCHEMA=1 rewrites them) and validates real reports against them.
 */
import { z } from 'zod';
import { cycleRecordSchema, RECORD_SCHEMA_VERSION } from '../loop/record.js';
import { cycleReportJsonSchema, REPORT_VERSION } from './json.js';

export const REPORT_SCHEMA_FILE = 'schema/cycle-report.schema.json';
export const RECORD_SCHEMA_FILE = 'schema/cycle-record.schema.json';

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
