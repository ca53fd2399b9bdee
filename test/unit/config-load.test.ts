/**
 * Loading configs that are right: the repository's own, the defaults a minimal file gets,
 * `${VAR}` interpolation, and where each check is defined.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpolate, loadConfig, parseConfigText } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const root = resolve(import.meta.dirname, '..', '..');

const MINIMAL = `apiVersion: deploy-loop/v1
service: demo
build:
  kind: command
target:
  kind: local
  command: [node, server.mjs]
smoke:
  checks:
    - name: home
      kind: http
    - name: socket
      kind: websocket
`;

/** 1-based line of the first line of `text` that matches. */
function lineOf(text: string, re: RegExp): number {
  return text.split('\n').findIndex((l) => re.test(l)) + 1;
}

describe('loading loop.config.yaml', () => {
  it('loads the repository config, with a location for every check', async () => {
    const file = join(root, 'loop.config.yaml');
    const text = readFileSync(file, 'utf8');
    const { config, baseDir, checkLocations } = await loadConfig(file, {});
    expect(baseDir).toBe(root);
    expect(config.service).toBe('chat-service');
    const names = config.smoke.checks.map((c) => c.name);
    expect(names).toEqual([...text.matchAll(/^\s*- name: (\S+)$/gm)].map((m) => m[1]));
    for (const name of names) {
      expect(checkLocations[name]).toBe(`${file}:${lineOf(text, new RegExp(`- name: ${name}$`))}`);
    }
    const p0 = config.smoke.checks.filter((c) => c.priority === 'P0').map((c) => c.name);
    expect(p0).toContain('agent-pipeline');
  });

  it('fills in the defaults', () => {
    const { config } = parseConfigText(MINIMAL, '/x/loop.config.yaml', {});
    const [http, ws] = config.smoke.checks;
    expect(http).toMatchObject({ kind: 'http', priority: 'P1', method: 'GET', path: '/', headers: {}, expect: { status: 200 } });
    expect(ws).toMatchObject({ kind: 'websocket', priority: 'P1', path: '/', connections: 1, script: [], subprotocols: [] });
    expect(config.gate).toEqual({ P0: 100 });
    expect(config.loop).toEqual({ maxCycles: 5, stallAfter: 3, onFixFailure: 'continue' });
    expect(config.smoke).toMatchObject({ concurrency: 8, defaults: { timeoutMs: 5000, retries: 0, retryDelayMs: 200 } });
    expect(config.build).toMatchObject({ context: '.', exclude: ['**/.git', '**/node_modules'], timeoutMs: 300_000, keep: 10 });
    expect(config.target).toMatchObject({ host: '127.0.0.1', port: 0, readiness: { path: '/', timeoutMs: 15_000 }, keepRevisions: 3 });
    expect(config.traffic).toEqual({ strategy: 'direct', steps: [10, 50, 100], holdMs: 0, smoke: 'all', tag: 'candidate', afterPromote: 'pinned' });
    expect(config.reports).toEqual({ dir: 'reports' });
  });

  it('keeps values that are given rather than defaulting them', () => {
    const text = MINIMAL.replace('      kind: http\n', '      kind: http\n      priority: P0\n      method: POST\n      expect: { status: [200, 201] }\n');
    const [http] = parseConfigText(text, '/x/loop.config.yaml', {}).config.smoke.checks;
    expect(http).toMatchObject({ priority: 'P0', method: 'POST', expect: { status: [200, 201] } });
  });

  it('interpolates ${VAR} and ${VAR:-default}, and keeps $${literal} literal', () => {
    // split/join, because String#replace would read "$$" in the replacement as one "$".
    const text = MINIMAL.replace('service: demo', 'service: ${SERVICE}')
      .split('[node, server.mjs]')
      .join('[node, "${ENTRY:-server.mjs}", "--flag=$${NOT_A_VAR}", "${EMPTY:-fallback}"]')
      .replace('      kind: websocket\n', '      kind: websocket\n      path: /ws/${ROOM}/${ROOM}\n');
    const env = { SERVICE: 'from-env', ROOM: 'lobby', EMPTY: '' };
    const { config } = parseConfigText(text, '/x/loop.config.yaml', env);
    expect(config.service).toBe('from-env');
    if (config.target.kind !== 'local') throw new Error('expected a local target');
    expect(config.target.command).toEqual(['node', 'server.mjs', '--flag=${NOT_A_VAR}', 'fallback']);
    expect(config.smoke.checks[1]?.path).toBe('/ws/lobby/lobby');
    const overridden = parseConfigText(text, '/x/loop.config.yaml', { ...env, ENTRY: 'main.mjs' });
    const t = overridden.config.target;
    expect(t.kind === 'local' ? t.command?.[1] : undefined).toBe('main.mjs');
  });

  it('does not interpolate twice: a value containing ${...} stays as given', () => {
    const out = interpolate({ a: ['${X}'] }, [], { X: '${Y}', Y: 'nope' }, () => {
      throw new Error('nothing is missing');
    });
    expect(out).toEqual({ a: ['${Y}'] });
  });

  it('reports every missing variable with its path, not just the first', () => {
    const missing: string[] = [];
    interpolate({ a: '${A}', b: [{ c: 'x-${C}-${A}' }], n: 3 }, [], {}, (path, name) => missing.push(`${path.join('.')}:${name}`));
    expect(missing).toEqual(['a:A', 'b.0.c:C', 'b.0.c:A']);
  });

  it('reports a missing file as a ConfigError with a hint', async () => {
    const err = await loadConfig(join(root, 'does-not-exist.yaml'), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues[0]?.message).toBe('file not found');
    expect((err as ConfigError).hint).toMatch(/--config/);
  });
});
