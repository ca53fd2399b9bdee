import { describe, expect, it } from 'vitest';
import { groupIssues, normalizeText } from '../../src/report/groups.js';
import { type RankedIssue } from '../../src/model/report.js';

function issue(rank: number, fields: Partial<RankedIssue> & Pick<RankedIssue, 'check'>): RankedIssue {
  return {
    rank,
    priority: 'P0',
    class: 'ws-1011-internal-error',
    message: `${fields.check} closed with 1011`,
    evidence: {},
    failingSince: 1,
    failingCycles: 1,
    ...fields,
  };
}

describe('groupIssues', () => {
  it('puts two checks closed with the same 1011 reason into one group with both pieces of evidence', () => {
    const groups = groupIssues([
      issue(1, { check: 'agent-a', location: 'loop.config.yaml:10', evidence: { closeCode: 1011, closeReason: 'pipeline error: session 4f3a9c21e0 failed', step: 2 } }),
      issue(2, { check: 'agent-b', location: 'loop.config.yaml:20', evidence: { closeCode: 1011, closeReason: 'pipeline error: session 77be01d4aa failed', connection: 3 } }),
    ]);
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ rank: 1, class: 'ws-1011-internal-error', cause: 'close 1011 "pipeline error: session 4f3a9c21e0 failed"' });
    expect(groups[0]!.checks.map((c) => [c.check, c.location, c.evidence])).toEqual([
      ['agent-a', 'loop.config.yaml:10', { closeCode: 1011, closeReason: 'pipeline error: session 4f3a9c21e0 failed', step: 2 }],
      ['agent-b', 'loop.config.yaml:20', { closeCode: 1011, closeReason: 'pipeline error: session 77be01d4aa failed', connection: 3 }],
    ]);
  });

  it('keeps checks closed with different 1011 reasons (or codes) apart', () => {
    const groups = groupIssues([
      issue(1, { check: 'agent-a', evidence: { closeCode: 1011, closeReason: 'pipeline error' } }),
      issue(2, { check: 'agent-b', evidence: { closeCode: 1011, closeReason: 'database unavailable' } }),
      issue(3, { check: 'agent-c', class: 'ws-unexpected-close', evidence: { closeCode: 1006, closeReason: 'pipeline error' } }),
    ]);
    expect(groups.map((g) => [g.rank, g.cause, g.checks.map((c) => c.check)])).toEqual([
      [1, 'close 1011 "pipeline error"', ['agent-a']],
      [2, 'close 1011 "database unavailable"', ['agent-b']],
      [3, 'close 1006 "pipeline error"', ['agent-c']],
    ]);
  });

  it('takes the highest priority and the earliest failingSince of its checks, and ranks groups by them', () => {
    const groups = groupIssues([
      issue(1, { check: 'p0-new', priority: 'P0', failingSince: 5, failingCycles: 1, evidence: { closeCode: 1011, closeReason: 'new fault' } }),
      issue(2, { check: 'p0-old', priority: 'P0', failingSince: 4, failingCycles: 2, evidence: { closeCode: 1011, closeReason: 'old fault' } }),
      issue(3, { check: 'p1-older', priority: 'P1', failingSince: 2, failingCycles: 4, evidence: { closeCode: 1011, closeReason: 'new fault' } }),
      issue(4, { check: 'p2-only', priority: 'P2', failingSince: 1, failingCycles: 5, class: 'http-5xx', evidence: { status: 500 } }),
    ]);
    // The "new fault" group holds a P0 check that started in cycle 5 and a P1 that started in cycle 2:
    // it is P0 and failing since cycle 2, so it ranks before the P0 group failing since cycle 4.
    expect(groups.map((g) => [g.rank, g.priority, g.failingSince, g.failingCycles, g.checks.map((c) => c.check)])).toEqual([
      [1, 'P0', 2, 4, ['p0-new', 'p1-older']],
      [2, 'P0', 4, 2, ['p0-old']],
      [3, 'P2', 1, 5, ['p2-only']],
    ]);
  });

  it('groups HTTP failures by status and the first body line with numbers and ids normalized', () => {
    const groups = groupIssues([
      issue(1, { check: 'get-a', class: 'http-5xx', evidence: { status: 500, excerpt: '\nerror: order 1234 not found\nstack…' } }),
      issue(2, { check: 'get-b', class: 'http-5xx', evidence: { status: 500, excerpt: 'error: order 98 not found' } }),
      issue(3, { check: 'get-c', class: 'http-5xx', evidence: { status: 502, excerpt: 'error: order 98 not found' } }),
    ]);
    expect(groups.map((g) => [g.cause, g.checks.map((c) => c.check)])).toEqual([
      ['HTTP 500 "error: order 1234 not found"', ['get-a', 'get-b']],
      ['HTTP 502 "error: order 98 not found"', ['get-c']],
    ]);
  });

  it('groups stage failures by stage and other failures by their normalized message', () => {
    const groups = groupIssues([
      issue(1, { check: 'build', class: 'build-failure', message: 'build command exited with code 1' }),
      issue(2, { check: 'slow-a', class: 'timeout', message: 'no answer from https://a.run.app/x within 5000 ms' }),
      issue(3, { check: 'slow-b', class: 'timeout', message: 'no answer from https://b.run.app/y within 3000 ms' }),
      issue(4, { check: 'other', class: 'check-error', message: 'no answer from https://b.run.app/y within 3000 ms' }),
    ]);
    expect(groups.map((g) => [g.key, g.checks.map((c) => c.check)])).toEqual([
      ['build-failure: build failed', ['build']],
      ['timeout: no answer from <url> within <n> ms', ['slow-a', 'slow-b']],
      ['check-error: no answer from <url> within <n> ms', ['other']],
    ]);
  });

  it('normalizes URLs, UUIDs, hex ids and numbers but leaves words alone', () => {
    expect(normalizeText('req 3f2b1c9d-0000-4abc-8def-0123456789ab at http://x:8080/a?b=1 took 12.5 ms (deadbeef42, cafe)')).toBe(
      'req <id> at <url> took <n> ms (<id>, cafe)',
    );
  });
});
