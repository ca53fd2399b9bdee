import { describe, expect, it } from 'vitest';
import { gateSchema } from '../../src/config/schema.js';
import { assessGate } from '../../src/loop/gate.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { firstCycleGateFailed } from './report-fixtures.js';
import { evaluateThreshold, firstAbortingThreshold, parseThreshold, stoppedEarlyText, type ThresholdConfig } from '../../src/model/thresholds.js';
import type { CheckResult, CheckStatus, Priority } from '../../src/model/check-result.js';

function result(name: string, status: CheckStatus, figures: CheckResult['figures'] = {}, priority: Priority = 'P0'): CheckResult {
  return { name, kind: 'http', priority, status, durationMs: 1, attempts: 1, figures };
}

// Latencies 10..100 ms over ten P0 checks, one failing; connect times on two P1 websocket checks.
const RESULTS: CheckResult[] = [
  ...Array.from({ length: 10 }, (_, i) => result(`h${i + 1}`, i === 9 ? 'fail' : 'pass', { latencyMs: (i + 1) * 10 })),
  result('ws1', 'pass', { connectMs: 40 }, 'P1'),
  result('ws2', 'pass', { connectMs: 1200 }, 'P1'),
  result('suite › api › a', 'pass', {}, 'P2'),
  result('suite › api › b', 'error', {}, 'P2'),
  result('gone', 'skipped', { latencyMs: 99999 }, 'P3'),
];

describe('parseThreshold', () => {
  it.each([
    ['p95(latency) < 500ms', { fn: 'p95', metric: 'latency', op: '<', value: 500 }],
    ['max(connectMs) < 1000', { fn: 'max', metric: 'connectMs', op: '<', value: 1000 }],
    ['avg(latency)<=1.5s', { fn: 'avg', metric: 'latency', op: '<=', value: 1500 }],
    ['rate(fail) == 0', { fn: 'rate', metric: 'fail', op: '==', value: 0 }],
    ['rate(pass) >= 99%', { fn: 'rate', metric: 'pass', op: '>=', value: 0.99 }],
    ['count(fail) != 3', { fn: 'count', metric: 'fail', op: '!=', value: 3 }],
  ])('reads %s', (expr, want) => {
    expect(parseThreshold(expr)).toEqual({ ok: true, threshold: want });
  });

  it.each([
    ['p95 latency < 500', /cannot read threshold/],
    ['p42(latency) < 5', /unknown function "p42"/],
    ['p95(memory) < 5', /takes latency or connectMs, not "memory"/],
    ['rate(latency) < 0.1', /rate\(\) takes fail or pass/],
    ['rate(fail) < 5ms', /a fraction, not a time/],
    ['rate(fail) < 2', /between 0 and 1/],
    ['count(fail) < 2%', /plain number/],
    ['max(latency) < 50%', /is a time/],
    ['max(latency) ~ 5', /cannot read threshold/],
  ])('rejects %s', (expr, why) => {
    const p = parseThreshold(expr);
    expect(p.ok).toBe(false);
    if (!p.ok) expect(p.error).toMatch(why);
  });
});

describe('evaluateThreshold', () => {
  const cases: Array<[string, ThresholdConfig, number | null, boolean]> = [
    ['p50 passing', { expr: 'p50(latency) <= 50ms' }, 50, true],
    ['p50 failing', { expr: 'p50(latency) < 50ms' }, 50, false],
    ['p90 passing', { expr: 'p90(latency) < 0.1s' }, 90, true],
    ['p90 failing', { expr: 'p90(latency) < 90' }, 90, false],
    ['p95 passing', { expr: 'p95(latency) <= 100ms' }, 100, true],
    ['p95 failing', { expr: 'p95(latency) < 100ms' }, 100, false],
    ['p99 failing', { expr: 'p99(latency) < 50ms' }, 100, false],
    ['min passing', { expr: 'min(latency) >= 10' }, 10, true],
    ['min failing', { expr: 'min(latency) > 10' }, 10, false],
    ['avg passing', { expr: 'avg(latency) == 55' }, 55, true],
    ['avg failing', { expr: 'avg(latency) < 50ms' }, 55, false],
    ['max connect passing', { expr: 'max(connectMs) < 2s' }, 1200, true],
    ['max connect failing', { expr: 'max(connectMs) < 1000' }, 1200, false],
    ['rate(fail) over all non-skipped (1 fail + 1 error of 14)', { expr: 'rate(fail) < 15%' }, 2 / 14, true],
    ['rate(fail) == 0 failing', { expr: 'rate(fail) == 0' }, 2 / 14, false],
    ['rate(fail) per priority passing', { expr: 'rate(fail) == 0', priority: 'P1' }, 0, true],
    ['rate(pass) per priority failing', { expr: 'rate(pass) >= 95%', priority: 'P0' }, 0.9, false],
    ['count(fail) per check passing', { expr: 'count(fail) == 0', checks: ['h1', 'h2'] }, 0, true],
    ['count(fail) per command check covers its cases', { expr: 'count(fail) == 0', checks: ['suite'] }, 1, false],
    ['count(pass) passing', { expr: 'count(pass) > 10' }, 12, true],
    ['zero samples fail closed', { expr: 'max(connectMs) < 1000', priority: 'P0' }, null, false],
    ['skipped results are not samples', { expr: 'rate(fail) == 0', priority: 'P3' }, null, false],
  ];
  it.each(cases)('%s', (_what, t, value, passed) => {
    const r = evaluateThreshold(RESULTS, t);
    if (value === null) expect(r.value).toBeNull();
    else expect(r.value).toBeCloseTo(value, 5);
    expect(r.passed).toBe(passed);
    if (value === null) expect(r.samples).toBe(0);
  });
});

describe('thresholds in the gate', () => {
  it('a failing threshold fails the gate with its measured value; a passing one is reported', () => {
    const gate = gateSchema.parse({ P0: 0, thresholds: [{ expr: 'p95(latency) < 50ms' }, { expr: 'max(connectMs) < 2s', priority: 'P1' }] });
    const v = assessGate(RESULTS, gate);
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual(['threshold p95(latency) < 50ms (all checks) failed: measured 100 ms']);
    expect(v.thresholds?.map((t) => [t.expr, t.value, t.passed])).toEqual([
      ['p95(latency) < 50ms', 100, false],
      ['max(connectMs) < 2s', 1200, true],
    ]);
  });

  it('the schema rejects an unreadable threshold, naming the field', () => {
    const r = gateSchema.safeParse({ thresholds: [{ expr: 'p95(latency) < 500ms' }, { expr: 'p95(latency) < 5%' }] });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['thresholds', 1, 'expr']);
    expect(r.error?.issues[0]?.message).toMatch(/is a time/);
  });
});

describe('firstAbortingThreshold', () => {
  const abort = (expr: string, extra: Partial<ThresholdConfig> = {}): ThresholdConfig => ({ expr, abortOnFail: true, ...extra });

  it('returns the first abortOnFail threshold that fails on the results so far', () => {
    const failed = firstAbortingThreshold(RESULTS, [abort('max(latency) < 1s'), abort('max(connectMs) < 1s', { priority: 'P1' }), abort('rate(fail) == 0')]);
    expect(failed).toMatchObject({ expr: 'max(connectMs) < 1s', scope: 'P1 checks', value: 1200, passed: false, samples: 2 });
  });

  it('ignores thresholds without abortOnFail, however badly they fail', () => {
    expect(firstAbortingThreshold(RESULTS, [{ expr: 'rate(fail) == 0' }, { expr: 'max(latency) < 1ms', abortOnFail: false }])).toBeUndefined();
  });

  it('does not stop on zero samples so far: the figure has not been measured yet', () => {
    expect(firstAbortingThreshold(RESULTS, [abort('max(connectMs) < 1ms', { checks: ['not-yet-run'] })])).toBeUndefined();
    expect(firstAbortingThreshold([], [abort('rate(pass) == 100%')])).toBeUndefined();
  });

  it('says which threshold stopped the run, its value, and how much did not finish', () => {
    expect(stoppedEarlyText({ expr: 'p95(latency) < 500ms', scope: 'all checks', value: 812, samples: 3, afterResults: 3, skipped: 5 })).toBe(
      'abortOnFail threshold p95(latency) < 500ms (all checks) failed after 3 results, measured 812 ms: the smoke run stopped and 5 checks did not finish',
    );
  });
});

describe('thresholds in the cycle report', () => {
  it('the markdown shows each threshold with its measured value and sample count', () => {
    const rec = firstCycleGateFailed();
    rec.gate = assessGate(rec.smoke.results, gateSchema.parse({ P0: 0, thresholds: [{ expr: 'rate(fail) == 0' }, { expr: 'max(connectMs) < 1s', checks: ['nope'] }] }));
    const md = renderCycleMarkdown(rec, []);
    const fails = rec.smoke.results.filter((r) => r.status !== 'pass' && r.status !== 'skipped').length;
    const total = rec.smoke.results.filter((r) => r.status !== 'skipped').length;
    expect(md).toContain(`| \`rate(fail) == 0\` | all checks | ${Math.round((fails / total) * 1000) / 10}% | ${total} | failed |`);
    expect(md).toContain('| `max(connectMs) < 1s` | checks nope | no samples | 0 | failed: no samples |');
  });
});
