/**
 * The config schema as an editor reads it: every property described (hover text), defaults where
 * zod has them, a stable $id, and what `init` writes (with `${VAR:-default}` values) free of schema
 * errors, while a literal value that breaks a rule is still refused.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_SCHEMA_ID, JSON_SCHEMA_FILE, renderJsonSchema } from '../../src/config/json-schema.js';
import { candidateTagFor, CLOUD_RUN_TAG_AND_SERVICE_MAX, ignoreOutputFolders, renderInitConfig } from '../../src/init.js';
import { loadConfig } from '../../src/config/load.js';
import { schemaValidator } from '../helpers/json-schema.js';

type Schema = Record<string, unknown>;
const schema = JSON.parse(renderJsonSchema()) as Schema;
const validate = schemaValidator(JSON_SCHEMA_FILE);

/** Every property of every object in the schema, with its path, however deep (items, unions, records). */
function properties(node: unknown, path = ''): { path: string; schema: Schema }[] {
  if (!node || typeof node !== 'object') return [];
  if (Array.isArray(node)) return node.flatMap((n) => properties(n, path));
  const n = node as Schema;
  const out: { path: string; schema: Schema }[] = [];
  for (const [name, sub] of Object.entries((n.properties as Record<string, Schema> | undefined) ?? {})) {
    out.push({ path: `${path}.${name}`, schema: sub }, ...properties(sub, `${path}.${name}`));
  }
  for (const k of ['items', 'anyOf', 'oneOf', 'allOf', 'additionalProperties']) {
    if (n[k] && typeof n[k] === 'object') out.push(...properties(n[k], k === 'items' ? `${path}[]` : path));
  }
  return out;
}

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'dl-schema-'));
  dirs.push(d);
  return d;
}

describe('config schema for editors', () => {
  const props = properties(schema);

  it('describes every property', () => {
    expect(props.length).toBeGreaterThan(150);
    expect(props.filter((p) => typeof p.schema.description !== 'string' || p.schema.description === '').map((p) => p.path)).toEqual([]);
  });

  it('states the defaults zod applies, and those documented ones applied elsewhere', () => {
    const def = (path: string) => props.find((p) => p.path === path)?.schema.default;
    expect(def('.smoke.concurrency')).toBe(8);
    expect(def('.gate.P0')).toBe(100);
    expect(def('.traffic.tag')).toBe('candidate');
    expect(def('.loop.maxCycles')).toBe(5);
    expect(def('.reports.dir')).toBe('reports');
    expect(def('.gate.allowFlaky')).toBe(false);
    expect(def('.smoke.defaults.retry.maxDelayMs')).toBe(30_000);
  });

  it('has a stable $id', () => {
    expect(schema.$id).toBe(CONFIG_SCHEMA_ID);
    expect(CONFIG_SCHEMA_ID).toBe('urn:deploy-loop:schema:loop.config:v1');
  });

  it.each(['local', 'cloudrun'] as const)('accepts what init --target %s writes, ${VAR:-default} values included', (target) => {
    const text = renderInitConfig({ service: 'billing-api', target, health: '/healthz', ws: '/ws', schema: '../schema/loop.config.schema.json', tag: 'candidate' });
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/loop.config.schema.json');
    expect(validate(parse(text))).toEqual([]);
  });

  it('still refuses a literal value that breaks a pattern', () => {
    const text = renderInitConfig({ service: 'billing-api', target: 'cloudrun', health: '/healthz' });
    const config = parse(text) as { target: Record<string, unknown> };
    config.target.region = 'Europe West';
    expect(validate(config)).toContain('/target/region: must match pattern "(?:^[a-z]+(-[a-z]+)+[0-9]+$)|\\$\\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\\}"');
    config.target.region = '${REGION}';
    expect(validate(config)).toEqual([]);
  });

  it('writes a cloudrun config the loader accepts with a tag that fits Cloud Run\'s 46 characters', async () => {
    const long = `s${'x'.repeat(40)}`; // 41 characters: "candidate" (9) would make 50
    expect(candidateTagFor('short')).toBe('candidate');
    expect(candidateTagFor(long)).toBe('cand');
    expect(candidateTagFor('a'.repeat(45))).toBe('c');
    expect(candidateTagFor('a'.repeat(46))).toBeUndefined();
    const tag = candidateTagFor(long)!;
    expect(long.length + tag.length).toBeLessThanOrEqual(CLOUD_RUN_TAG_AND_SERVICE_MAX);
    const dir = scratch();
    const file = join(dir, 'loop.config.yaml');
    writeFileSync(file, renderInitConfig({ service: long, target: 'cloudrun', health: '/healthz', tag }));
    const loaded = await loadConfig(file);
    expect(loaded.config.traffic.tag).toBe('cand');
  });
});

describe('init and .gitignore', () => {
  it('adds the missing lines to an existing .gitignore and says so', async () => {
    const dir = scratch();
    writeFileSync(join(dir, '.gitignore'), 'node_modules/\n/reports\n');
    expect(await ignoreOutputFolders(dir)).toBe(`added .deploy-loop/ to ${join(dir, '.gitignore')}`);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe("node_modules/\n/reports\n# deploy-loop's working files and reports\n.deploy-loop/\n");
    expect(await ignoreOutputFolders(dir)).toBe('.gitignore already ignores .deploy-loop/ and reports/');
  });

  it('adds both to a .gitignore without a final newline, keeping its last line', async () => {
    const dir = scratch();
    writeFileSync(join(dir, '.gitignore'), 'dist');
    await ignoreOutputFolders(dir);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe("dist\n# deploy-loop's working files and reports\n.deploy-loop/\nreports/\n");
  });

  it('creates no .gitignore, and prints the lines to add', async () => {
    const dir = scratch();
    expect(await ignoreOutputFolders(dir)).toBe(`no .gitignore in ${dir}; add these lines to yours: .deploy-loop/ reports/`);
    expect(() => readFileSync(join(dir, '.gitignore'))).toThrow();
  });
});
