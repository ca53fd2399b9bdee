/**
 * The published JSON Schema for loop.config.yaml (schema/loop.config.schema.json), for editors and
 * other tools. It is generated from the zod schema; test/unit/config-json-schema.test.ts pins the
 * committed file to it (UPDATE_SCHEMA=1 rewrites the file).
 */
import { writeFile } from 'node:fs/promises';
import { configJsonSchema } from './schema.js';

export const JSON_SCHEMA_FILE = 'schema/loop.config.schema.json';

/** The schema as the file holds it: a title, two-space indentation, a final newline. */
export function renderJsonSchema(): string {
  const { $schema, ...rest } = configJsonSchema();
  const doc = {
    $schema,
    title: 'deploy-loop configuration (loop.config.yaml)',
    description: 'Build, deploy, smoke and gate settings for deploy-loop. Strings may use ${VAR} and ${VAR:-default}.',
    ...rest,
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export async function writeJsonSchema(path: string): Promise<void> {
  await writeFile(path, renderJsonSchema());
}
