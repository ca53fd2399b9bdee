import { describe, expect, it } from 'vitest';
import type { CycleRecord } from '../../src/model/record.js';
import { chooseRollbackRevision, planRollbackTo } from '../../src/traffic/rollback.js';

const rec = (cycle: number, revision: string, verdict: CycleRecord['verdict'], action: CycleRecord['traffic']['action']) =>
  ({ cycle, verdict, deploy: { status: 'ok', revision, durationMs: 0 }, traffic: { before: [], after: [], action } }) as unknown as CycleRecord;

describe('chooseRollbackRevision', () => {
  const history = [rec(1, 'r1', 'passed', 'promoted'), rec(2, 'r2', 'passed', 'promoted'), rec(3, 'r3', 'gate-failed', 'kept')];

  it('picks the newest promoted revision other than the one serving everything', () => {
    expect(chooseRollbackRevision(history, [{ revision: 'r2', percent: 100 }])).toMatchObject({ ok: true, revision: 'r1' });
    // A revision deployed outside the loop serves: the newest good one is the way back.
    expect(chooseRollbackRevision(history, [{ revision: 'manual', percent: 100 }])).toMatchObject({ ok: true, revision: 'r2' });
    // A split counts as nobody serving everything.
    expect(chooseRollbackRevision(history, [{ revision: 'r2', percent: 50 }, { revision: 'r1', percent: 50 }])).toMatchObject({ revision: 'r2' });
  });

  it('never picks a revision whose cycle failed, and takes a named revision as given', () => {
    expect(chooseRollbackRevision([rec(1, 'bad', 'gate-failed', 'kept')], [])).toMatchObject({ ok: false, message: /no recorded cycle passed/ });
    expect(chooseRollbackRevision([rec(1, 'r1', 'passed', 'promoted')], [{ revision: 'r1', percent: 100 }])).toMatchObject({ ok: false, message: /already serves 100%/ });
    expect(chooseRollbackRevision([], [], 'x')).toMatchObject({ ok: true, revision: 'x' });
  });
});

describe('planRollbackTo', () => {
  it('gives the revision 100% and keeps every tag at 0%', () => {
    const current = [
      { revision: 'r2', percent: 90 },
      { revision: 'r3', percent: 10, tag: 'candidate' },
      { revision: 'r1', percent: 0, tag: 'v1' },
    ];
    expect(planRollbackTo(current, 'r1')).toEqual([
      { revision: 'r1', percent: 100, tag: 'v1' },
      { revision: 'r3', percent: 0, tag: 'candidate' },
    ]);
  });
});
