import { describe, expect, it } from 'vitest';
import type { CycleRecord } from '../../src/model/record.js';
import { rankIssues } from '../../src/report/issues.js';
import type { CheckResult, CheckStatus, Priority } from '../../src/model/check-result.js';
import {
  agentFailing,
  firstCycleBuildFailed,
  firstCycleGateFailed,
  record,
  result,
  secondCycleDeployFailed,
  secondCyclePassed,
  withoutStageResults,
} from './report-fixtures.js';

/** A completed cycle with the given check statuses; failing ones carry an assertion failure. */
function cycleWith(cycle: number, checks: [string, Priority, CheckStatus][]): CycleRecord {
  const results: CheckResult[] = checks.map(([name, priority, status]) =>
    result({
      name,
      priority,
      status,
      ...(status === 'fail' ? { failure: { class: 'assertion', message: `${name} body mismatch`, evidence: { status: 200 } } } : {}),
    }),
  );
  const verdict = results.every((r) => r.status === 'pass') ? 'passed' : 'gate-failed';
  return record({ cycle, startedAt: `2025-06-03T10:0${cycle}:00.000Z`, smoke: { durationMs: 10, results }, verdict });
}

const summary = (issues: ReturnType<typeof rankIssues>) =>
  issues.map((i) => `${i.rank} ${i.priority} ${i.check} since ${i.failingSince} x${i.failingCycles}`);

describe('rankIssues', () => {
  it('puts P0 first, then the longest failing, then orders by name', () => {
    const c1 = cycleWith(1, [['alpha', 'P0', 'pass'], ['beta', 'P0', 'fail'], ['delta', 'P0', 'pass'], ['gamma', 'P1', 'fail']]);
    const c2 = { ...secondCycleDeployFailed(), cycle: 2 };
    const c3 = cycleWith(3, [
      ['zeta', 'P2', 'fail'],
      ['delta', 'P0', 'fail'],
      ['gamma', 'P1', 'fail'],
      ['beta', 'P0', 'fail'],
      ['alpha', 'P0', 'fail'],
    ]);
    expect(summary(rankIssues(c3, [c1, c2]))).toEqual([
      // beta has failed since cycle 1; cycle 2 deployed nothing, so it neither breaks nor counts.
      '1 P0 beta since 1 x2',
      '2 P0 alpha since 3 x1',
      '3 P0 delta since 3 x1',
      '4 P1 gamma since 1 x2',
      '5 P2 zeta since 3 x1',
    ]);
  });

  it('starts the streak again after a cycle in which the check passed', () => {
    const history = [cycleWith(1, [['a', 'P0', 'fail']]), cycleWith(2, [['a', 'P0', 'pass']])];
    expect(summary(rankIssues(cycleWith(3, [['a', 'P0', 'fail']]), history))).toEqual(['1 P0 a since 3 x1']);
  });

  it('ends the streak at a completed cycle that did not have the check yet', () => {
    const history = [cycleWith(1, [['old', 'P0', 'pass']]), cycleWith(2, [['old', 'P0', 'pass'], ['new', 'P0', 'fail']])];
    expect(summary(rankIssues(cycleWith(3, [['old', 'P0', 'pass'], ['new', 'P0', 'fail']]), history))).toEqual([
      '1 P0 new since 2 x2',
    ]);
  });

  it('carries the streak across a cycle where the check was skipped', () => {
    const history = [cycleWith(1, [['a', 'P0', 'fail']]), cycleWith(2, [['a', 'P0', 'skipped']])];
    expect(summary(rankIssues(cycleWith(3, [['a', 'P0', 'fail']]), history))).toEqual(['1 P0 a since 1 x2']);
  });

  it('ignores other services and the current cycle if it is passed in the history', () => {
    const current = cycleWith(2, [['a', 'P0', 'fail']]);
    const other = { ...cycleWith(1, [['a', 'P0', 'fail']]), service: 'billing' };
    expect(summary(rankIssues(current, [other, current]))).toEqual(['1 P0 a since 2 x1']);
  });

  it('turns the 1011 failure into a P0 issue with its close code, reason, evidence and config location', () => {
    const [issue, second] = rankIssues(firstCycleGateFailed(), []);
    expect(issue).toMatchObject({
      rank: 1,
      priority: 'P0',
      check: 'agent-pipeline',
      class: 'ws-1011-internal-error',
      location: 'loop.config.yaml:52',
      failingSince: 1,
      failingCycles: 1,
      evidence: { closeCode: 1011, closeReason: 'internal error', step: 2, excerpt: '{"type":"ack","id":"m-1"}' },
    });
    expect(issue!.evidence.logTail).toContain('[ws] closing 1011: internal error');
    expect(second).toMatchObject({ rank: 2, priority: 'P1', check: 'agent-pipeline-concurrent' });
  });

  it('has no issues for a passing cycle', () => {
    expect(rankIssues(secondCyclePassed(), [firstCycleGateFailed()])).toEqual([]);
  });

  it('makes a build failure a P0 build-failure issue with the output tail', () => {
    const issues = rankIssues(firstCycleBuildFailed(), []);
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ rank: 1, priority: 'P0', check: 'build', class: 'build-failure', failingSince: 1 });
    expect(issues[0]!.evidence.logTail).toContain("SyntaxError: Unexpected token '}'");
    expect(issues[0]!.evidence.actual).toBe('exit code 1');
  });

  it('derives the deploy issue from the deploy record when the loop did not record it as a result', () => {
    const history = [firstCycleGateFailed()];
    const recorded = rankIssues(secondCycleDeployFailed(), history);
    const derived = rankIssues(withoutStageResults(secondCycleDeployFailed()), history);
    const key = (i: (typeof recorded)[number]) => [i.rank, i.priority, i.check, i.class, i.failingSince, i.evidence.logTail, i.evidence.actual];
    expect(derived.map(key)).toEqual(recorded.map(key));
    expect(derived[0]!.message).toBe('revision chat-service-00002 exited with code 1 before listening (reason: ContainerExited)');
  });

  it('counts a deploy failure in consecutive cycles as one streak', () => {
    const c3 = { ...secondCycleDeployFailed(), cycle: 3, startedAt: '2025-06-03T09:16:00.000Z' };
    const [issue] = rankIssues(c3, [firstCycleGateFailed(), secondCycleDeployFailed()]);
    expect(issue).toMatchObject({ check: 'deploy', failingSince: 2, failingCycles: 2 });
  });

  it('gives an error without a recorded failure the check-error class', () => {
    const rec = cycleWith(1, [['a', 'P1', 'error']]);
    expect(rankIssues(rec, [])[0]).toMatchObject({ class: 'check-error', evidence: {} });
  });

  it('masks authorization and cookie values in the message and evidence', () => {
    const rec = firstCycleGateFailed();
    const agent = agentFailing();
    agent.failure!.message = 'rejected: Authorization: Bearer tok-live-123456';
    agent.failure!.evidence.excerpt = '{"cookie":"sid=s3cr3t-cookie"}';
    agent.failure!.evidence.logTail = ['set-cookie: sid=s3cr3t-cookie; HttpOnly'];
    rec.smoke.results = rec.smoke.results.map((r) => (r.name === agent.name ? agent : r));
    const text = JSON.stringify(rankIssues(rec, []));
    expect(text).not.toContain('tok-live-123456');
    expect(text).not.toContain('s3cr3t-cookie');
  });
});
