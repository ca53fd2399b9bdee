import { describe, expect, it } from 'vitest';
import type { CheckConfig, GateConfig } from '../../src/config/schema.js';
import { assessIntegrity, canonicalJson, diffSuites, fingerprintSuite, integrityBlocker } from '../../src/loop/integrity.js';
import type { CycleRecord } from '../../src/model/record.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { firstCycleGateFailed, secondCyclePassed } from './report-fixtures.js';
import { headings } from './report-markdown-reader.js';

function http(name: string, priority: CheckConfig['priority'], path = '/'): CheckConfig {
  return { kind: 'http', name, priority, path, method: 'GET', expect: { status: 200 } } as unknown as CheckConfig;
}

const CHECKS = [http('health', 'P0', '/health'), http('info', 'P1', '/info'), http('admin', 'P0', '/admin')];
const GATE: GateConfig = { P0: 100, P1: 90 };

function kinds(before: [CheckConfig[], GateConfig], after: [CheckConfig[], GateConfig]): [string, string, boolean][] {
  return diffSuites(fingerprintSuite(...before), fingerprintSuite(...after)).map((c) => [c.kind, c.subject, c.weakening]);
}

function withSuite(rec: CycleRecord, checks: CheckConfig[], gate: GateConfig, previous?: CycleRecord, accepted?: string): CycleRecord {
  return { ...rec, suite: assessIntegrity(fingerprintSuite(checks, gate), previous, accepted) };
}

describe('fingerprintSuite', () => {
  it('does not depend on key or check order', () => {
    const reordered = [...CHECKS].reverse().map((c) => Object.fromEntries(Object.entries(c).reverse()) as CheckConfig);
    expect(fingerprintSuite(reordered, { P1: 90, P0: 100 }).sha256).toBe(fingerprintSuite(CHECKS, GATE).sha256);
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: undefined }] })).toBe('{"a":[{"d":2}],"b":1}');
  });

  it('does not change when only a secret value in a check changes', () => {
    const withToken = (t: string) => [{ ...CHECKS[0]!, headers: { authorization: `Bearer ${t}` } } as CheckConfig];
    const a = fingerprintSuite(withToken('tok-aaaaaaaaaaaa'), GATE, ['tok-aaaaaaaaaaaa']);
    const b = fingerprintSuite(withToken('tok-bbbbbbbbbbbb'), GATE, ['tok-bbbbbbbbbbbb']);
    expect(b.sha256).toBe(a.sha256);
  });

  it('changes when any check or threshold changes', () => {
    const base = fingerprintSuite(CHECKS, GATE);
    expect(fingerprintSuite([http('health', 'P0', '/healthz'), ...CHECKS.slice(1)], GATE).sha256).not.toBe(base.sha256);
    expect(fingerprintSuite(CHECKS, { ...GATE, P1: 80 }).sha256).not.toBe(base.sha256);
    expect(fingerprintSuite(CHECKS, GATE).checks.health!.sha256).toBe(base.checks.health!.sha256);
  });
});

describe('diffSuites', () => {
  it.each<[string, [CheckConfig[], GateConfig], [string, string, boolean][]]>([
    ['nothing changed', [CHECKS, GATE], []],
    ['a check removed', [CHECKS.slice(0, 2), GATE], [['check-removed', 'admin', true]]],
    ['a priority lowered', [[CHECKS[0]!, CHECKS[1]!, http('admin', 'P2', '/admin')], GATE], [['priority-lowered', 'admin', true]]],
    ['a priority raised', [[CHECKS[0]!, http('info', 'P0', '/info'), CHECKS[2]!], GATE], [['priority-raised', 'info', false]]],
    ['a check edited', [[http('health', 'P0', '/'), CHECKS[1]!, CHECKS[2]!], GATE], [['check-changed', 'health', true]]],
    ['a check added', [[...CHECKS, http('new', 'P1')], GATE], [['check-added', 'new', false]]],
    ['a threshold loosened', [CHECKS, { P0: 100, P1: 50 }], [['threshold-loosened', 'P1', true]]],
    ['a threshold removed', [CHECKS, { P0: 100 }], [['threshold-loosened', 'P1', true]]],
    ['a threshold tightened', [CHECKS, { P0: 100, P1: 100 }], [['threshold-tightened', 'P1', false]]],
    ['flaky allowed', [CHECKS, { ...GATE, allowFlaky: true }], [['flaky-allowed', 'allowFlaky', true]]],
  ])('%s', (_what, after, expected) => {
    expect(kinds([CHECKS, GATE], after)).toEqual(expected);
  });
});

describe('assessIntegrity', () => {
  const first = withSuite(firstCycleGateFailed(), CHECKS, GATE);

  it('has nothing to compare on the first recorded cycle', () => {
    expect(first.suite).toMatchObject({ changes: [], blocked: false, accepted: false });
  });

  it('blocks a weakened suite and names the change for the gate', () => {
    const i = assessIntegrity(fingerprintSuite(CHECKS.slice(0, 2), GATE), first, undefined);
    expect(i).toMatchObject({ blocked: true, comparedWithCycle: 1 });
    expect(integrityBlocker(i)[0]).toMatch(/check "admin" \(P0\) was removed.*accept-suite/);
  });

  it('does not block a suite that only got stricter', () => {
    const i = assessIntegrity(fingerprintSuite([...CHECKS, http('x', 'P0')], { P0: 100, P1: 100 }), first, undefined);
    expect(i.changes).toHaveLength(2);
    expect(i.blocked).toBe(false);
    expect(integrityBlocker(i)).toEqual([]);
  });

  it('keeps blocking in the next cycle while the weakened suite stays', () => {
    const weakened = withSuite(secondCyclePassed(), CHECKS.slice(0, 2), GATE, first);
    expect(weakened.suite?.blocked).toBe(true);
    const again = assessIntegrity(fingerprintSuite(CHECKS.slice(0, 2), GATE), weakened, undefined);
    expect(again.blocked).toBe(true);
    expect(again.changes.map((c) => c.kind)).toEqual(['check-removed']);
  });

  it('stops blocking once the weakened suite is accepted, and when the suite is restored', () => {
    const weakened = withSuite(secondCyclePassed(), CHECKS.slice(0, 2), GATE, first);
    const fp = fingerprintSuite(CHECKS.slice(0, 2), GATE);
    expect(assessIntegrity(fp, weakened, fp.sha256)).toMatchObject({ blocked: false, accepted: true });
    expect(assessIntegrity(fingerprintSuite(CHECKS, GATE), weakened, undefined).blocked).toBe(false);
  });

  it('the cycle report states the change at the top', () => {
    const weakened = withSuite(secondCyclePassed(), CHECKS.slice(0, 2), GATE, first);
    const md = renderCycleMarkdown(weakened, [first]);
    expect(headings(md).slice(0, 2)).toEqual(['# chat-service — cycle 2', '## Suite changed since cycle 1']);
    expect(md).toContain('- **weakened**: check "admin" (P0) was removed');
    expect(md).toContain('blocked until a person accepts the new suite');
  });
});
