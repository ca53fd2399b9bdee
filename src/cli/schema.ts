/** `deploy-loop schema [WHICH]`: the published JSON Schemas, as committed under schema/. */
import { EXIT, UsageError } from '../errors.js';
import { HELP_OPTION, defineCommand } from './command.js';

const SCHEMAS = ['config', 'report', 'record', 'issues', 'outcome'] as const;

async function schemaText(which: string): Promise<string> {
  if (which === 'config') return (await import('../config/json-schema.js')).renderJsonSchema();
  const schemas = await import('../report/json-schema.js');
  const render: Record<string, () => string> = {
    report: schemas.renderReportJsonSchema,
    record: schemas.renderRecordJsonSchema,
    issues: schemas.renderFixIssuesJsonSchema,
    outcome: schemas.renderRunOutcomeJsonSchema,
  };
  const chosen = render[which];
  if (!chosen) throw new UsageError(`unknown schema "${which}"`, `deploy-loop schema ${SCHEMAS.join(' | ')}`);
  return chosen();
}

export const schemaCommand = defineCommand({
  name: 'schema',
  summary: 'print a JSON Schema (config, report, record, ...)',
  description: `Prints one of the JSON Schemas deploy-loop publishes:
  config   loop.config.yaml (default)
  report   reports/cycle-NNN.json
  record   reports/history/cycle-NNN.json
  issues   the fix command's DEPLOY_LOOP_ISSUES_JSON
  outcome  the file --json PATH writes`,
  examples: ['deploy-loop schema > loop.config.schema.json', 'deploy-loop schema report'],
  options: { ...HELP_OPTION },
  positionals: [{ name: 'schema', required: false, choices: SCHEMAS, description: SCHEMAS.join(' | ') }],
  async run({ positionals }) {
    process.stdout.write(await schemaText(positionals[0] ?? 'config'));
    return EXIT.ok;
  },
});
