import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCycle } from '../../src/loop/cycle.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { removeDir, scratchDir } from '../helpers/cli.js';
import { localCycleBase } from './local-fixtures.js';
import { canaryConfig, canaryConfigInput, failFlag, writeCanaryProject, type CanaryConfig } from './canary-fixtures.js';
import { configYaml, type ConfigInput } from '../helpers/config-fixture.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function revisionBehind(url: string): Promise<string | null> {
  const res = await fetch(new URL('/healthz', url));
  await res.arrayBuffer();
  return res.headers.get('x-deploy-loop-revision');
}

const serving = (split: { revision: string; percent: number }[]) => split.filter((e) => e.percent > 0);

describe('canary promotion on the local target', () => {
  it('rolls traffic back to the split before the cycle when the candidate fails at the 50% step', async () => {
    const dir = await scratchDir('canary');
    cleanups.push(() => removeDir(dir));
    await writeCanaryProject(dir, 'ok');
    const base = localCycleBase(dir, canaryConfig(dir), (t) => cleanups.push(() => t.close()));
    const { target } = base;

    // Nothing served before: the first candidate goes to 100% in one step.
    const c1 = await runCycle({ ...base, cycle: 1 });
    expect(c1.verdict).toBe('passed');
    expect(c1.traffic.canary?.steps.map((s) => [s.percent, s.passed])).toEqual([[100, true]]);
    const good = c1.deploy.revision as string;

    await writeFile(join(dir, 'app', 'mode.txt'), 'flag');
    const seen: string[] = [];
    const c2 = await runCycle({
      ...base,
      cycle: 2,
      onStep: (step) => {
        seen.push(step);
        // The fault starts when the 50% split is in place, before that step's smoke run.
        if (step === 'canary-50') writeFileSync(failFlag(dir), '');
      },
    });
    expect(seen).toContain('canary-10');
    expect(seen).not.toContain('canary-100');
    expect(c2.verdict).toBe('gate-failed');
    expect(c2.traffic.canary?.failedAtStep).toBe(1);
    expect(c2.traffic.canary?.steps).toMatchObject([
      { percent: 10, passed: true, results: { total: 1, failed: 0 } },
      { percent: 50, passed: false, results: { total: 1, failed: 1, failedChecks: ['burst'] } },
    ]);
    expect(c2.traffic.action).toBe('kept');
    expect(c2.traffic.note).toMatch(/Canary failed at step 2 \(50%\)/);
    expect(serving(c2.traffic.after)).toEqual([{ revision: good, percent: 100 }]);
    expect(serving(c2.traffic.after)).toEqual(serving(c2.traffic.before));
    // The failing step's result is the cycle's result for that check, and fails the gate.
    expect(c2.smoke.results.find((r) => r.name === 'burst')).toMatchObject({ status: 'fail' });
    expect(c2.gate.passed).toBe(false);
    // The service URL serves only the last good revision again; the candidate keeps its tag URL.
    const serviceUrl = target.serviceUrl() as string;
    for (let i = 0; i < 10; i++) expect(await revisionBehind(serviceUrl)).toBe(good);
    expect(await revisionBehind(c2.deploy.tagUrl as string)).toBe(c2.deploy.revision);
  });

  it('takes a good candidate through 10%, 50% and 100%, and the report says so', async () => {
    const dir = await scratchDir('canary-good');
    cleanups.push(() => removeDir(dir));
    await writeCanaryProject(dir, 'ok');
    const base = localCycleBase(dir, canaryConfig(dir), (t) => cleanups.push(() => t.close()));
    const { target } = base;
    const c1 = await runCycle({ ...base, cycle: 1 });
    const splits: string[] = [];
    const c2 = await runCycle({
      ...base,
      cycle: 2,
      onStep: async (step) => {
        if (step.startsWith('canary-')) splits.push(JSON.stringify(serving(await target.currentTraffic())));
      },
    });
    expect(c2.verdict).toBe('passed');
    expect(c2.traffic.action).toBe('promoted');
    expect(serving(c2.traffic.before)).toEqual([{ revision: c1.deploy.revision, percent: 100 }]);
    expect(c2.traffic.after).toEqual([{ revision: c2.deploy.revision, percent: 100 }]);
    expect(c2.traffic.canary?.steps.map((s) => [s.percent, s.passed])).toEqual([
      [10, true],
      [50, true],
      [100, true],
    ]);
    expect(c2.traffic.canary?.failedAtStep).toBeUndefined();
    expect(splits.map((s) => JSON.parse(s))).toEqual([
      [{ revision: c1.deploy.revision, percent: 90 }, { revision: c2.deploy.revision, percent: 10, tag: 'candidate' }],
      [{ revision: c1.deploy.revision, percent: 50 }, { revision: c2.deploy.revision, percent: 50, tag: 'candidate' }],
      [{ revision: c2.deploy.revision, percent: 100 }],
    ]);
    expect(await revisionBehind(target.serviceUrl() as string)).toBe(c2.deploy.revision);
    expect(renderCycleMarkdown(c2, [c1])).toContain('Canary steps: 10% passed → 50% passed → 100% passed.');
  });
});

describe('a failed canary step and the cycle gate', () => {
  /** Cycle 1 (nothing served: straight to 100%), then cycle 2 with the fault switched on at the 50% step. */
  async function failAtHalf(prefix: string, edit: (config: CanaryConfig) => ConfigInput) {
    const dir = await scratchDir(prefix);
    cleanups.push(() => removeDir(dir));
    await writeCanaryProject(dir, 'ok');
    const base = localCycleBase(dir, configYaml(edit(canaryConfigInput(dir))), (t) => cleanups.push(() => t.close()));
    expect((await runCycle({ ...base, cycle: 1 })).verdict).toBe('passed');
    await writeFile(join(dir, 'app', 'mode.txt'), 'flag');
    return runCycle({ ...base, cycle: 2, onStep: (step) => void (step === 'canary-50' && writeFileSync(failFlag(dir), '')) });
  }

  it('a cycle whose canary rolled back does not pass, even when the merged results meet the gate', async () => {
    // P0 at 50%: the tag URL's health pass plus the step's burst failure is 1 of 2, which alone would pass.
    const c2 = await failAtHalf('canary-merged', (c) => ({ ...c, gate: { P0: 50 } }));
    expect(c2.traffic.canary?.failedAtStep).toBe(1);
    expect(c2.gate.tallies.find((t) => t.priority === 'P0')).toMatchObject({ total: 2, passed: 1, ok: true });
    expect(c2.gate.passed).toBe(false);
    expect(c2.gate.reasons).toEqual(['canary step 2 (50%): P0 passed 0 of 1 (0%), needs 50%']);
    expect(c2.verdict).toBe('gate-failed');
    expect(c2.traffic.action).toBe('kept');
  });

  it('abortOnFail stops a canary step at its first failure; the step record and the report say so', async () => {
    const c2 = await failAtHalf('canary-abort', (c) => ({
      ...c,
      traffic: { ...c.traffic, smoke: ['burst', 'after-burst'] },
      // One at a time, in config order: burst fails, and the P1 check after it never starts.
      smoke: { ...c.smoke, concurrency: 1, checks: [...c.smoke.checks, { name: 'after-burst', kind: 'http', priority: 'P1', path: '/healthz' }] },
      gate: { thresholds: [{ expr: 'count(fail) == 0', abortOnFail: true }] },
    }));
    const step = c2.traffic.canary?.steps[1];
    expect(step).toMatchObject({ percent: 50, passed: false, results: { total: 2, passed: 0, failed: 1, failedChecks: ['burst'], skipped: 1 } });
    expect(step?.stoppedEarly).toMatchObject({ expr: 'count(fail) == 0', value: 1, afterResults: 1, skipped: 1 });
    expect(c2.verdict).toBe('gate-failed');
    expect(c2.gate.reasons).toContain(
      'canary step 2 (50%): abortOnFail threshold count(fail) == 0 (all checks) failed after 1 result, measured 1: the smoke run stopped and 1 check did not finish',
    );
    expect(renderCycleMarkdown(c2, [])).toContain(
      "The 50% step's smoke run stopped early: abortOnFail threshold count(fail) == 0 (all checks) failed after 1 result, measured 1: the smoke run stopped and 1 check did not finish.",
    );
  });
});
