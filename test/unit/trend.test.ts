import { describe, expect, it } from 'vitest';
import type { CycleRecord } from '../../src/model/record.js';
import { issueLives, renderTrend } from '../../src/report/trend.js';
import {
  firstCycleGateFailed,
  gateOf,
  result,
  secondCycleDeployFailed,
  secondCyclePassed,
  stoppedByThreshold,
  thirdCyclePassedAfterDeployFailure,
} from './report-fixtures.js';
import { readFences, readTables, section } from './report-markdown-reader.js';

const DIGEST = 'sha256:4c1f9e0a7b2d';

function withCycle(rec: CycleRecord, cycle: number, startedAt: string, digest?: string): CycleRecord {
  const revision = `chat-service-${String(cycle).padStart(5, '0')}`;
  return {
    ...rec,
    cycle,
    startedAt,
    finishedAt: startedAt,
    build: { ...rec.build, ...(digest ? { digest } : {}) },
    deploy: { ...rec.deploy, revision },
  };
}

/** Cycle 4: agent-pipeline fails again on new code (reopened). */
function fourthCycleReopened(): CycleRecord {
  return withCycle(firstCycleGateFailed(), 4, '2025-06-03T09:17:10.000Z', DIGEST);
}

/** Cycle 5: same image digest as cycle 4, agent passes (a flip, not a fix); health passes only on retry. */
function fifthCycleSameCode(): CycleRecord {
  const rec = withCycle(secondCyclePassed(), 5, '2025-06-03T09:18:20.000Z', DIGEST);
  const results = rec.smoke.results.map((r) =>
    r.name === 'health'
      ? result({
          ...r,
          attempts: 2,
          attemptLog: [
            { attempt: 1, status: 'fail', durationMs: 5001, failure: { class: 'timeout', message: 'no response in 5000 ms', evidence: {} } },
            { attempt: 2, status: 'pass', durationMs: 4 },
          ],
        })
      : r,
  );
  return { ...rec, smoke: { ...rec.smoke, results }, gate: gateOf(results) };
}

function fiveCycles(): CycleRecord[] {
  return [firstCycleGateFailed(), secondCycleDeployFailed(), thirdCyclePassedAfterDeployFailure(), fourthCycleReopened(), fifthCycleSameCode()];
}

describe('renderTrend', () => {
  it('renders five recorded cycles (snapshot)', async () => {
    await expect(renderTrend(fiveCycles())).toMatchFileSnapshot('__snapshots__/trend-5-cycles.md');
  });

  it('has one row per cycle with the pass rate per priority and the stage durations', () => {
    const md = renderTrend(fiveCycles());
    const [table] = readTables(section(md, '## Cycles'));
    expect(table!.header).toEqual(['Cycle', 'Revision', 'Verdict', 'P0 pass rate', 'P1 pass rate', 'P2 pass rate', 'Changed', 'Build', 'Deploy', 'Smoke']);
    expect(table!.rows.map((r) => [r[0], r[2], r[3]])).toEqual([
      ['1', 'gate failed', '66.7%'],
      ['2', 'deploy failed', '0%'],
      ['3', 'gate passed', '100%'],
      ['4', 'gate failed', '66.7%'],
      ['5', 'gate passed', '100%'],
    ]);
  });

  it('marks a cycle whose smoke run an abortOnFail threshold stopped, next to its pass rates', () => {
    const stopped = stoppedByThreshold();
    const [table] = readTables(section(renderTrend([stopped, { ...secondCyclePassed() }]), '## Cycles'));
    expect(table!.rows.map((r) => r[2])).toEqual(['gate failed (stopped early: 1 not run)', 'gate passed']);
  });

  it('charts each priority with one value per cycle', () => {
    const md = renderTrend(fiveCycles());
    const [chart] = readFences(section(md, '## Pass rate')).blocks;
    expect(chart!.info).toBe('mermaid');
    const lines = chart!.content.split('\n');
    expect(lines[0]).toBe('xychart-beta');
    expect(lines).toContain('  x-axis "Cycle" ["1", "2", "3", "4", "5"]');
    expect(lines).toContain('  line [66.7, 0, 100, 66.7, 100]');
  });

  it('orders records by cycle whatever order they come in', () => {
    const cycles = fiveCycles();
    expect(renderTrend([...cycles].reverse())).toBe(renderTrend(cycles));
  });

  it('says so when nothing was recorded', () => {
    expect(renderTrend([])).toContain('No cycle has been recorded yet.');
  });
});

describe('issueLives', () => {
  it('follows an issue from first seen through fixed, reopened and flaky', () => {
    const agent = issueLives(fiveCycles()).find((l) => l.check === 'agent-pipeline');
    expect(agent).toMatchObject({
      priority: 'P0',
      firstSeen: 1,
      failingCycles: [1, 4],
      fixedIn: [3],
      reopenedIn: [4],
      // Cycle 5 ran the same image digest as cycle 4: passing there is a flip, never a fix.
      flakyIn: [5],
      state: 'flaky',
    });
  });

  it('names a check that passed only on retry as flaky', () => {
    const health = issueLives(fiveCycles()).find((l) => l.check === 'health');
    expect(health).toMatchObject({ failingCycles: [], fixedIn: [], flakyIn: [5], state: 'flaky' });
  });

  it('reports a deploy failure fixed by new code as fixed', () => {
    const deploy = issueLives(fiveCycles()).find((l) => l.check === 'deploy');
    expect(deploy).toMatchObject({ firstSeen: 2, failingCycles: [2], fixedIn: [3], state: 'fixed' });
  });

  it('treats a pass on the same revision after a failure as flaky, not fixed', () => {
    const failed = withCycle(firstCycleGateFailed(), 1, '2025-06-03T09:14:02.118Z');
    const passed = withCycle(secondCyclePassed(), 2, '2025-06-03T09:15:02.118Z');
    passed.deploy.revision = failed.deploy.revision!;
    const agent = issueLives([failed, passed]).find((l) => l.check === 'agent-pipeline');
    expect(agent).toMatchObject({ fixedIn: [], flakyIn: [2], state: 'flaky' });
  });

  it('keeps a failing issue failing across cycles that did not measure it', () => {
    const lives = issueLives([firstCycleGateFailed(), secondCycleDeployFailed()]);
    expect(lives.find((l) => l.check === 'agent-pipeline')).toMatchObject({ failingCycles: [1], fixedIn: [], state: 'failing' });
  });
});
