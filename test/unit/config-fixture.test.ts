/**
 * The test fixtures' own guarantees: the typed configs are configs the real loader accepts, and a
 * text patch that stops matching throws instead of silently leaving the text as it was.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { configYaml, patchText } from '../helpers/config-fixture.js';
import { tinyConfig } from '../helpers/tiny-service.js';
import { canaryConfig } from '../integration/canary-fixtures.js';

describe('typed config fixtures', () => {
  it('tinyConfig, with every option, is a config the loader accepts and means what its options say', () => {
    const { config } = parseConfigText(tinyConfig({ maxCycles: 2, fix: true, slowCheck: true, buildCommand: ['make'] }), '/x/loop.config.yaml');
    expect(config.loop.maxCycles).toBe(2);
    expect(config.loop.fix?.command).toEqual([process.execPath, 'fix.mjs']);
    expect(config.smoke.checks.map((c) => `${c.name} ${c.priority}`)).toEqual(['health P0', 'agent P0', 'slow P1']);
    expect(config.build).toMatchObject({ kind: 'command', context: 'app', command: ['make'] });
  });

  it('canaryConfig is a canary config the loader accepts', () => {
    const { config } = parseConfigText(canaryConfig('/x', { holdMs: 5 }), '/x/loop.config.yaml');
    expect(config.traffic).toMatchObject({ strategy: 'canary', steps: [10, 50, 100], holdMs: 5, smoke: ['burst'] });
  });

  it('configYaml writes the YAML of the object', () => {
    expect(configYaml({ apiVersion: 'deploy-loop/v1', service: 's', build: { kind: 'command' }, target: { kind: 'local', command: ['a'] }, smoke: { checks: [{ name: 'h', kind: 'http', path: '/' }] } }))
      .toContain('service: s\n');
  });
});

describe('patchText', () => {
  it('replaces a string or a pattern that occurs', () => {
    expect(patchText('a: 1\nb: 2\n', 'b: 2', 'b: 3')).toBe('a: 1\nb: 3\n');
    expect(patchText('  # x\n  # y\n', /^  # /gm, '  ')).toBe('  x\n  y\n');
  });

  it('throws when the search does not occur, so a stale patch cannot pass unnoticed', () => {
    expect(() => patchText('priority: P1\n', 'priority: P0', 'priority: P7')).toThrow(/does not occur/);
    expect(() => patchText('a\n', /^b/m, 'c')).toThrow(/does not occur/);
  });
});
