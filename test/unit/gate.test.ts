import { describe, expect, it } from 'vitest';
import type { GateConfig } from '../../src/config/schema.js';
import { assessGate } from '../../src/loop/gate.js';
import type { CheckResult, CheckStatus, Priority } from '../../src/model/check-result.js';

function check(name: string, priority: Priority, status: CheckStatus, opts: { retriedAfterFail?: boolean } = {}): CheckResult {
  const r: CheckResult = { name, kind: 'http', priority, status, durationMs: 5, attempts: 1, figures: {} };
  if (opts.retriedAfterFail) {
    r.attempts = 2;
    r.attemptLog = [
      { attempt: 1, status: 'fail', durationMs: 5, failure: { class: 'timeout', message: 'no response', evidence: {} } },
      { attempt: 2, status, durationMs: 5 },
    ];
  }
  return r;
}

interface Case {
  what: string;
  results: CheckResult[];
  gate: GateConfig;
  passed: boolean;
  reasons?: (string | RegExp)[];
}

const CASES: Case[] = [
  { what: 'every P0 passes', results: [check('a', 'P0', 'pass'), check('b', 'P0', 'pass')], gate: { P0: 100 }, passed: true },
  {
    what: 'one P0 fails',
    results: [check('a', 'P0', 'pass'), check('b', 'P0', 'fail')],
    gate: { P0: 100 },
    passed: false,
    reasons: ['P0 passed 1 of 2 (50%), needs 100%'],
  },
  { what: 'a P0 error counts as failing', results: [check('a', 'P0', 'error')], gate: { P0: 100 }, passed: false },
  { what: 'a skipped P0 counts as not passed', results: [check('a', 'P0', 'skipped')], gate: { P0: 100 }, passed: false },
  {
    what: 'an ungated priority may fail',
    results: [check('a', 'P0', 'pass'), check('b', 'P2', 'fail')],
    gate: { P0: 100 },
    passed: true,
  },
  {
    what: 'a P1 threshold below 100 allows some failures',
    results: [check('a', 'P0', 'pass'), check('b', 'P1', 'pass'), check('c', 'P1', 'pass'), check('d', 'P1', 'fail')],
    gate: { P0: 100, P1: 60 },
    passed: true,
  },
  {
    what: 'no check ran at all',
    results: [],
    gate: { P0: 100 },
    passed: false,
    reasons: ['no check ran: a suite that ran nothing cannot pass'],
  },
  {
    what: 'no check ran, even when every threshold is 0',
    results: [],
    gate: { P0: 0 },
    passed: false,
  },
  {
    what: 'an explicitly gated priority with no checks fails closed',
    results: [check('a', 'P0', 'pass')],
    gate: { P0: 100, P1: 90 },
    passed: false,
    reasons: ['P1 is gated at 90% but no P1 check ran'],
  },
  {
    what: 'the default P0 gate with no P0 check fails closed',
    results: [check('a', 'P1', 'pass')],
    gate: { P0: 100 },
    passed: false,
    reasons: ['P0 is gated at 100% but no P0 check ran'],
  },
  {
    what: 'a priority gated at 0% holds with no checks (the explicit opt-out)',
    results: [check('a', 'P1', 'pass')],
    gate: { P0: 0 },
    passed: true,
  },
  {
    what: 'a P0 that passed only on retry is flaky and does not count',
    results: [check('a', 'P0', 'pass'), check('b', 'P0', 'pass', { retriedAfterFail: true })],
    gate: { P0: 100 },
    passed: false,
    reasons: [/^P0 passed 1 of 2 \(50%\), needs 100%; 1 passed only on retry \(flaky\)/],
  },
  {
    what: 'a flaky P0 counts when the gate allows flaky',
    results: [check('a', 'P0', 'pass'), check('b', 'P0', 'pass', { retriedAfterFail: true })],
    gate: { P0: 100, allowFlaky: true },
    passed: true,
  },
  {
    what: 'a check retried after an error that then passed is flaky',
    results: [{ ...check('a', 'P0', 'pass'), attempts: 2, attemptLog: [{ attempt: 1, status: 'error', durationMs: 1 }, { attempt: 2, status: 'pass', durationMs: 1 }] }],
    gate: { P0: 100 },
    passed: false,
  },
  {
    what: 'retries that all failed are a failure, not flaky',
    results: [check('a', 'P0', 'fail', { retriedAfterFail: true })],
    gate: { P0: 100, allowFlaky: true },
    passed: false,
    reasons: ['P0 passed 0 of 1 (0%), needs 100%'],
  },
];

describe('assessGate', () => {
  it.each(CASES)('$what', ({ results, gate, passed, reasons }) => {
    const verdict = assessGate(results, gate);
    expect(verdict.passed).toBe(passed);
    expect(verdict.tallies.every((t) => t.ok) && results.length > 0).toBe(passed);
    if (reasons) {
      expect(verdict.reasons).toHaveLength(reasons.length);
      reasons.forEach((r, i) => expect(verdict.reasons[i]).toMatch(r));
    }
    if (!passed) expect(verdict.reasons.length).toBeGreaterThan(0);
  });

  it('counts flaky passes in the tally', () => {
    const v = assessGate([check('a', 'P0', 'pass', { retriedAfterFail: true }), check('b', 'P0', 'pass')], { P0: 100 });
    expect(v.tallies[0]).toMatchObject({ priority: 'P0', total: 2, passed: 1, failed: 1, flaky: 1, passRate: 50, ok: false });
  });

  it('blocks on outside reasons even when every check passed', () => {
    const v = assessGate([check('a', 'P0', 'pass')], { P0: 100 }, { blockers: ['the smoke suite changed'] });
    expect(v.passed).toBe(false);
    expect(v.reasons).toEqual(['the smoke suite changed']);
  });
});
