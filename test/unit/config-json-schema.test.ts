/**
 * The published JSON Schema: pinned to the zod schema (UPDATE_SCHEMA=1 rewrites the file), and
 * read by ajv as an editor would: it accepts the repository's own config and rejects what the loader rejects.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { INTERPOLATED, JSON_SCHEMA_FILE, renderJsonSchema } from '../../src/config/json-schema.js';
import { schemaValidator } from '../helpers/json-schema.js';

const root = resolve(import.meta.dirname, '..', '..');
const schemaFile = join(root, JSON_SCHEMA_FILE);

type Schema = Record<string, unknown>;
const schema = JSON.parse(renderJsonSchema()) as Schema;

const validate = schemaValidator(JSON_SCHEMA_FILE);

const repoConfig = () => parse(readFileSync(join(root, 'loop.config.yaml'), 'utf8')) as unknown;

/** The repo config with the value at `path` replaced. */
function withValue(path: (string | number)[], value: unknown): unknown {
  const config = repoConfig();
  let node = config as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  node[path[path.length - 1] as string | number] = value;
  return config;
}

describe('published JSON Schema', () => {
  it('matches the committed file (UPDATE_SCHEMA=1 rewrites it)', () => {
    const rendered = renderJsonSchema();
    if (process.env.UPDATE_SCHEMA === '1') {
      mkdirSync(dirname(schemaFile), { recursive: true });
      writeFileSync(schemaFile, rendered);
    }
    expect(existsSync(schemaFile), `${JSON_SCHEMA_FILE} is missing: run UPDATE_SCHEMA=1 npm test -- test/unit/config-json-schema.test.ts`).toBe(true);
    expect(readFileSync(schemaFile, 'utf8'), `${JSON_SCHEMA_FILE} is stale: run UPDATE_SCHEMA=1 npm test -- test/unit/config-json-schema.test.ts`).toBe(rendered);
  });

  it('is strict where the loader is strict, and requires what it requires', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required).toEqual(expect.arrayContaining(['apiVersion', 'service', 'build', 'target', 'smoke']));
    const smoke = (schema.properties as Record<string, Schema>).smoke as Schema;
    const checks = (smoke.properties as Record<string, Schema>).checks as Schema;
    expect(checks).toMatchObject({ type: 'array', minItems: 1 });
    const kinds = ((checks.items as Schema).oneOf as Schema[]).map((o) => (o.properties as Record<string, Schema>).kind?.const);
    expect(kinds).toEqual(['http', 'websocket', 'command']);
  });

  it('accepts the repository loop.config.yaml', () => {
    expect(validate(repoConfig())).toEqual([]);
  });

  it.each([
    { what: 'an unknown top-level key', path: ['extra'], value: 1, error: '/: must NOT have additional properties (extra)' },
    { what: 'priority P9', path: ['smoke', 'checks', 0, 'priority'], value: 'P9', error: '/smoke/checks/0/priority: must be equal to one of the allowed values' },
    { what: 'a check path without a leading slash', path: ['smoke', 'checks', 1, 'path'], value: 'api/info', error: `/smoke/checks/1/path: must match pattern "(?:^\\/)|${INTERPOLATED}"` },
    { what: 'websocket connections 0', path: ['smoke', 'checks', 4, 'connections'], value: 0, error: '/smoke/checks/4/connections: must be >= 1' },
    { what: 'gate P0 150', path: ['gate', 'P0'], value: 150, error: '/gate/P0: must be <= 100' },
    { what: 'loop.maxCycles 0', path: ['loop', 'maxCycles'], value: 0, error: '/loop/maxCycles: must be >= 1' },
    { what: 'a wrong apiVersion', path: ['apiVersion'], value: 'deploy-loop/v2', error: '/apiVersion: must be equal to constant' },
    { what: 'no checks', path: ['smoke', 'checks'], value: [], error: '/smoke/checks: must NOT have fewer than 1 items' },
  ])('rejects $what, as the loader does', ({ path, value, error }) => {
    const errors = validate(withValue(path, value));
    expect(errors).toContain(error);
  });
});
