/**
 * The published JSON Schema for loop.config.yaml (schema/loop.config.schema.json), for editors and
 * other tools. It is generated from the zod schema; test/unit/config-json-schema.test.ts pins the
 * committed file to it (UPDATE_SCHEMA=1 rewrites the file).
 */
import { writeFile } from 'node:fs/promises';
import { configJsonSchema } from './schema.js';

export const JSON_SCHEMA_FILE = 'schema/loop.config.schema.json';

/**
 * A stable identifier, not a location: the schema is read from the installed package (the
 * `# yaml-language-server: $schema=` modeline `init` writes names its path). A URN promises no URL.
 */
export const CONFIG_SCHEMA_ID = 'urn:deploy-loop:schema:loop.config:v1';

/**
 * Matches a string that still holds `${VAR}` or `${VAR:-default}`. The loader checks a value after
 * interpolation; an editor sees it before, so every pattern also admits an interpolated string.
 */
export const INTERPOLATED = String.raw`\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}`;

/** The schema as the file holds it: a title, two-space indentation, a final newline. */
export function renderJsonSchema(): string {
  const { $schema, ...rest } = configJsonSchema();
  const doc = {
    $schema,
    $id: CONFIG_SCHEMA_ID,
    title: 'deploy-loop configuration (loop.config.yaml)',
    description: 'Build, deploy, smoke and gate settings for deploy-loop. Strings may use ${VAR} and ${VAR:-default}.',
    ...(admitInterpolation(rest) as Record<string, unknown>),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Every `pattern` becomes "the rule, or an interpolation anywhere in the string". */
function admitInterpolation(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(admitInterpolation);
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'pattern' && typeof v === 'string') out[k] = `(?:${v})|${INTERPOLATED}`;
    // Mapping keys are not interpolated (only values are), so their rules stay as they are.
    else if (k === 'propertyNames') out[k] = v;
    else if (k === 'properties' && v && typeof v === 'object') {
      // Keys of `properties` are names, not keywords: recurse into their values only.
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, admitInterpolation(s)]));
    } else out[k] = admitInterpolation(v);
  }
  return out;
}

export async function writeJsonSchema(path: string): Promise<void> {
  await writeFile(path, renderJsonSchema());
}
