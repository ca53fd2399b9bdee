/**
 * The published JSON Schema: pinned to the zod schema (UPDATE_SCHEMA=1 rewrites the file), and
 * checked to accept the repository's own config and reject what the loader rejects.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { JSON_SCHEMA_FILE, renderJsonSchema } from '../../src/config/json-schema.js';

const root = resolve(import.meta.dirname, '..', '..');
const schemaFile = join(root, JSON_SCHEMA_FILE);

type Schema = Record<string, unknown>;
const schema = JSON.parse(renderJsonSchema()) as Schema;

/**
 * Enough of JSON Schema 2020-12 for what zod emits here; returns `path: problem` strings. No
 * validator library is a dependency, and this one only has to agree with the loader on the cases below.
 */
function validate(s: Schema, v: unknown, path = '$'): string[] {
  const errs: string[] = [];
  const sub = (key: string) => s[key] as Schema | undefined;
  if ('const' in s && v !== s.const) errs.push(`${path}: not ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.includes(v)) errs.push(`${path}: not one of ${s.enum.join(', ')}`);
  if (typeof s.type === 'string' && !hasType(v, s.type)) return [...errs, `${path}: not ${s.type}`];
  for (const key of ['oneOf', 'anyOf'] as const) {
    const options = s[key] as Schema[] | undefined;
    if (!options) continue;
    const matching = options.filter((o) => validate(o, v, path).length === 0).length;
    if (key === 'oneOf' ? matching !== 1 : matching === 0) errs.push(`${path}: matches ${matching} of the ${key} options`);
  }
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) errs.push(`${path}: below ${s.minimum}`);
    if (typeof s.maximum === 'number' && v > s.maximum) errs.push(`${path}: above ${s.maximum}`);
    if (typeof s.exclusiveMinimum === 'number' && v <= s.exclusiveMinimum) errs.push(`${path}: not above ${s.exclusiveMinimum}`);
  }
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && v.length < s.minLength) errs.push(`${path}: too short`);
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) errs.push(`${path}: does not match ${s.pattern}`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) errs.push(`${path}: fewer than ${s.minItems} items`);
    const items = sub('items');
    if (items) v.forEach((item, i) => errs.push(...validate(items, item, `${path}[${i}]`)));
  }
  if (isObject(v)) {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) if (!(r in v)) errs.push(`${path}: missing ${r}`);
    for (const [k, val] of Object.entries(v)) {
      const p = props[k];
      if (p) errs.push(...validate(p, val, `${path}.${k}`));
      else if (s.additionalProperties === false) errs.push(`${path}: unknown ${k}`);
      else if (isObject(s.additionalProperties)) errs.push(...validate(s.additionalProperties, val, `${path}.${k}`));
    }
  }
  return errs;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
function hasType(v: unknown, type: string): boolean {
  if (type === 'integer') return Number.isInteger(v);
  if (type === 'object') return isObject(v);
  if (type === 'array') return Array.isArray(v);
  return typeof v === type;
}

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
    expect(validate(schema, repoConfig())).toEqual([]);
  });

  it.each([
    { what: 'an unknown top-level key', path: ['extra'], value: 1, error: '$: unknown extra' },
    { what: 'priority P9', path: ['smoke', 'checks', 0, 'priority'], value: 'P9', error: '$.smoke.checks[0]: matches 0 of the oneOf options' },
    { what: 'a check path without a leading slash', path: ['smoke', 'checks', 1, 'path'], value: 'api/info', error: '$.smoke.checks[1]: matches 0' },
    { what: 'websocket connections 0', path: ['smoke', 'checks', 4, 'connections'], value: 0, error: '$.smoke.checks[4]: matches 0' },
    { what: 'gate P0 150', path: ['gate', 'P0'], value: 150, error: '$.gate.P0: above 100' },
    { what: 'loop.maxCycles 0', path: ['loop', 'maxCycles'], value: 0, error: '$.loop.maxCycles: below 1' },
    { what: 'a wrong apiVersion', path: ['apiVersion'], value: 'deploy-loop/v2', error: '$.apiVersion: not "deploy-loop/v1"' },
    { what: 'no checks', path: ['smoke', 'checks'], value: [], error: '$.smoke.checks: fewer than 1 items' },
  ])('rejects $what, as the loader does', ({ path, value, error }) => {
    const errors = validate(schema, withValue(path, value));
    expect(errors.some((e) => e.startsWith(error)), errors.join('\n')).toBe(true);
  });
});
