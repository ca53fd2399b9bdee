import { describe, expect, it } from 'vitest';
import { compareCycles } from '../../src/report/compare.js';
import type { CycleRecord } from '../../src/model/record.js';
import { type CheckChange, type Comparison } from '../../src/model/report.js';
import {
  firstCycleBuildFailed,
  firstCycleGateFailed,
  gateOf,
  interruptedCycle,
  record,
  result,
  secondCycleDeployFailed,
  secondCyclePassed,
  thirdCyclePassedAfterDeployFailure,
  withoutStageResults,
} from './report-fixtures.js';

const LISTS = ['newlyPassing', 'newlyFailing', 'stillFailing', 'stillPassing', 'added', 'removed', 'unmeasured'] as const;

function names(list: CheckChange[]): string[] {
  return list.map((c) => c.name);
}

/** Which list each check landed in; fails when a check is in two lists. */
function placement(c: Comparison): Record<string, string> {
  const where: Record<string, string> = {};
  for (const key of LISTS) {
    for (const change of c[key]) {
      expect(where[change.name], `${change.name} in ${where[change.name]} and ${key}`).toBeUndefined();
      where[change.name] = key;
    }
  }
  return where;
}

describe('compareCycles', () => {
  it('has nothing to compare on a first cycle', () => {
    const c = compareCycles(firstCycleGateFailed(), undefined);
    expect(c.previousCycle).toBeNull();
    for (const key of LISTS) expect(c[key]).toEqual([]);
  });

  it('lists the fixed agent checks as newly passing with their figures before and after', () => {
    const c = compareCycles(secondCyclePassed(), firstCycleGateFailed());
    expect(c.previousCycle).toBe(1);
    expect(placement(c)).toEqual({
      'agent-pipeline': 'newlyPassing',
      'agent-pipeline-concurrent': 'newlyPassing',
      health: 'stillPassing',
      'echo-websocket': 'stillPassing',
      info: 'stillPassing',
      'admin-requires-token': 'stillPassing',
    });
    expect(c.newlyPassing[0]).toEqual({
      name: 'agent-pipeline',
      priority: 'P0',
      before: 'fail',
      after: 'pass',
      latencyBeforeMs: 118,
      latencyAfterMs: 391,
      connectBeforeMs: 4.2,
      connectAfterMs: 3.8,
    });
    // Multi-connection checks compare their p95 connect time.
    expect(c.newlyPassing[1]).toMatchObject({ name: 'agent-pipeline-concurrent', connectBeforeMs: 16, connectAfterMs: 14 });
  });

  it('swapping the cycles turns newly passing into newly failing', () => {
    const c = compareCycles(firstCycleGateFailed(), secondCyclePassed());
    expect(names(c.newlyFailing)).toEqual(['agent-pipeline', 'agent-pipeline-concurrent']);
    expect(c.newlyPassing).toEqual([]);
  });

  it('keeps a check failing in both cycles in stillFailing, ordered P0 first', () => {
    const c = compareCycles(firstCycleGateFailed(), { ...firstCycleGateFailed(), cycle: 0 });
    expect(names(c.stillFailing)).toEqual(['agent-pipeline', 'agent-pipeline-concurrent']);
    expect(c.stillFailing.map((x) => x.priority)).toEqual(['P0', 'P1']);
  });

  it('tells added and removed checks apart when both cycles ran their checks', () => {
    const before = firstCycleGateFailed();
    const after = secondCyclePassed();
    after.smoke.results = [
      ...after.smoke.results.filter((r) => r.name !== 'info'),
      result({ name: 'metrics', priority: 'P3', figures: { latencyMs: 4 } }),
    ];
    const c = compareCycles(after, before);
    expect(names(c.added)).toEqual(['metrics']);
    expect(c.added[0]).toMatchObject({ before: 'absent', after: 'pass', latencyAfterMs: 4 });
    expect(names(c.removed)).toEqual(['info']);
  });

  it('does not call checks removed when this cycle never reached them (deploy failed)', () => {
    const c = compareCycles(secondCycleDeployFailed(), firstCycleGateFailed());
    const where = placement(c);
    expect(where.deploy).toBe('newlyFailing');
    expect(c.removed).toEqual([]);
    expect(names(c.unmeasured)).toHaveLength(6);
    expect(c.newlyFailing[0]).toMatchObject({ name: 'deploy', priority: 'P0', before: 'pass', after: 'fail' });
  });

  it('reports the deploy as newly passing once a cycle deploys again', () => {
    const c = compareCycles(thirdCyclePassedAfterDeployFailure(), secondCycleDeployFailed());
    expect(names(c.newlyPassing)).toEqual(['deploy']);
    expect(c.added).toEqual([]);
    expect(names(c.unmeasured)).toHaveLength(6);
  });

  it('gives the same answer whether or not the loop recorded the stage failure as a result', () => {
    const recorded = compareCycles(thirdCyclePassedAfterDeployFailure(), secondCycleDeployFailed());
    const derived = compareCycles(thirdCyclePassedAfterDeployFailure(), withoutStageResults(secondCycleDeployFailed()));
    expect(derived).toEqual(recorded);
  });

  it('compares the build stage too, and leaves a skipped deploy out', () => {
    const c = compareCycles(secondCyclePassed(), firstCycleBuildFailed());
    expect(names(c.newlyPassing)).toEqual(['build']);
    expect(placement(c).deploy).toBeUndefined();
  });

  it('does not compare a check that was skipped on either side', () => {
    const c = compareCycles(interruptedCycle(), secondCyclePassed());
    expect(placement(c)).toMatchObject({ health: 'stillPassing', 'agent-pipeline': 'unmeasured' });
    // The interrupted cycle never got to the other checks: they are not compared, not removed.
    expect(c.removed).toEqual([]);
    expect(names(c.unmeasured)).toEqual(['agent-pipeline', 'echo-websocket', 'agent-pipeline-concurrent', 'info', 'admin-requires-token']);
  });

  it('treats an error as failing', () => {
    const mk = (cycle: number, status: 'pass' | 'error'): CycleRecord => {
      const results = [result({ name: 'health', priority: 'P0', status })];
      return record({ cycle, startedAt: '2025-06-03T10:00:00.000Z', smoke: { durationMs: 5, results }, gate: gateOf(results) });
    };
    expect(names(compareCycles(mk(2, 'error'), mk(1, 'pass')).newlyFailing)).toEqual(['health']);
    expect(names(compareCycles(mk(2, 'error'), mk(1, 'error')).stillFailing)).toEqual(['health']);
  });
});
