/**
 * promote() against an in-memory target: every way a canary can end leaves the split either fully
 * on the candidate or back where it was before the cycle.
 */
import { describe, expect, it } from 'vitest';
import type { Target, TrafficEntry } from '../../src/deploy/target.js';
import { silentLogger } from '../../src/log.js';
import type { GateVerdict } from '../../src/model/record.js';
import type { CheckResult } from '../../src/model/check-result.js';
import { promote, type PromoteInput } from '../../src/traffic/promote.js';

function memoryTarget(initial: TrafficEntry[], failOnSet?: number) {
  const sets: Array<{ split: TrafficEntry[]; aborted: boolean }> = [];
  let split = initial;
  const target: Target = {
    kind: 'memory',
    deployCandidate: () => Promise.reject(new Error('not used')),
    async setTraffic(ctx, next) {
      sets.push({ split: next, aborted: ctx.signal.aborted });
      if (sets.length === failOnSet) throw new Error('UNAVAILABLE: try again later');
      split = next;
    },
    currentTraffic: async () => split,
    serviceUrl: () => 'http://127.0.0.1:1',
    close: async () => undefined,
  };
  return { target, sets, split: () => split };
}

const result = (status: 'pass' | 'fail'): CheckResult =>
  ({ name: 'burst', kind: 'websocket', priority: 'P0', status, durationMs: 1, attempts: 1, figures: {} }) as CheckResult;
const gate = (results: CheckResult[]): GateVerdict => ({ passed: results.every((r) => r.status === 'pass'), tallies: [], reasons: results.some((r) => r.status !== 'pass') ? ['P0 failed'] : [] });

const before = [{ revision: 'a', percent: 100 }];
const restore = [{ revision: 'a', percent: 100 }, { revision: 'b', percent: 0, tag: 'candidate' }];

function input(target: Target, signal: AbortSignal, over: Partial<PromoteInput> = {}): PromoteInput {
  return {
    target,
    ctx: { signal, log: silentLogger(), cycle: 2 },
    traffic: { strategy: 'canary', steps: [10, 50, 100], holdMs: 0, smoke: 'all', tag: 'candidate', afterPromote: 'pinned' },
    before,
    restore,
    candidate: 'b',
    smoke: async () => [result('pass')],
    gate,
    ...over,
  };
}

describe('promote', () => {
  it('direct: one split, all traffic to the candidate, no smoke run', async () => {
    const m = memoryTarget(restore);
    let smokes = 0;
    const out = await promote(input(m.target, new AbortController().signal, { traffic: { strategy: 'direct', steps: [10, 50, 100], holdMs: 0, smoke: 'all', tag: 'candidate', afterPromote: 'pinned' }, smoke: async () => (smokes++, []) }));
    expect(out).toEqual({ status: 'promoted' });
    expect(m.sets.map((s) => s.split)).toEqual([[{ revision: 'b', percent: 100 }]]);
    expect(smokes).toBe(0);
  });

  it('canary: a failed gate at a step restores the split from before the cycle', async () => {
    const m = memoryTarget(restore);
    let n = 0;
    const out = await promote(input(m.target, new AbortController().signal, { smoke: async () => [result(++n >= 2 ? 'fail' : 'pass')] }));
    expect(out).toMatchObject({ status: 'rolled-back', reasons: ['P0 failed'], canary: { failedAtStep: 1 } });
    expect(m.sets.map((s) => s.split.find((e) => e.revision === 'b')?.percent)).toEqual([10, 50, 0]);
    expect(m.split()).toEqual(restore);
  });

  it('canary: an API error at a step restores the split and is reported', async () => {
    const m = memoryTarget(restore, 2);
    await expect(promote(input(m.target, new AbortController().signal))).rejects.toThrow(/UNAVAILABLE/);
    expect(m.split()).toEqual(restore);
    expect(m.sets).toHaveLength(3);
  });

  it('canary: an abort during the hold restores the split with a signal that is not aborted', async () => {
    const m = memoryTarget(restore);
    const ac = new AbortController();
    const out = promote(input(m.target, ac.signal, { traffic: { strategy: 'canary', steps: [10, 100], holdMs: 60_000, smoke: 'all', tag: 'candidate', afterPromote: 'pinned' }, onStep: () => ac.abort() }));
    expect(await out).toMatchObject({ status: 'interrupted', restored: true });
    expect(m.split()).toEqual(restore);
    expect(m.sets.at(-1)).toEqual({ split: restore, aborted: false });
  });

  it('canary: an abort during a step smoke run restores the split too', async () => {
    const m = memoryTarget(restore);
    const ac = new AbortController();
    const out = await promote(input(m.target, ac.signal, { smoke: async () => (ac.abort(), [result('fail')]) }));
    expect(out).toMatchObject({ status: 'interrupted', restored: true });
    expect(m.split()).toEqual(restore);
  });

  it('direct: an abort while the split is being set puts back the split from before the cycle', async () => {
    const m = memoryTarget(restore);
    const ac = new AbortController();
    const target: Target = { ...m.target, setTraffic: async (ctx, split) => { const first = m.sets.length === 0; await m.target.setTraffic(ctx, split); if (first) ac.abort(); } };
    const out = await promote(input(target, ac.signal, { traffic: { strategy: 'direct', steps: [100], holdMs: 0, smoke: 'all', tag: 'candidate', afterPromote: 'pinned' } }));
    expect(out).toMatchObject({ status: 'interrupted', restored: true });
    expect(m.split()).toEqual(restore);
  });

  it('canary with nothing serving before: one 100% step, and a failure there cannot go back to an empty split', async () => {
    const m = memoryTarget([{ revision: 'b', percent: 0, tag: 'candidate' }]);
    const out = await promote(
      input(m.target, new AbortController().signal, { before: [], restore: [{ revision: 'b', percent: 0, tag: 'candidate' }], smoke: async () => [result('fail')] }),
    );
    expect(out).toMatchObject({ status: 'rolled-back', restored: false, canary: { failedAtStep: 0, steps: [{ percent: 100, passed: false }] } });
    expect(m.sets.map((s) => s.split)).toEqual([[{ revision: 'b', percent: 100 }]]);
  });
});
