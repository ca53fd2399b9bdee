import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCycle } from '../../src/loop/cycle.js';
import { removeDir, scratchDir } from '../helpers/cli.js';
import { localCycleBase } from './local-fixtures.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function revisionBehind(url: string): Promise<string | null> {
  const res = await fetch(new URL('/healthz', url));
  await res.arrayBuffer();
  return res.headers.get('x-deploy-loop-revision');
}

describe('traffic across cycles on the local target', () => {
  it('promotes a passing candidate, then keeps traffic on it when the next candidate fails the gate', async () => {
    const dir = await scratchDir('traffic');
    cleanups.push(() => removeDir(dir));
    await writeTinyProject(dir, 'ok', tinyConfig());
    const base = localCycleBase(dir, tinyConfig(), (t) => cleanups.push(() => t.close()));
    const { target } = base;

    const c1 = await runCycle({ ...base, cycle: 1 });
    expect(c1.verdict).toBe('passed');
    expect(c1.traffic.action).toBe('promoted');
    const good = c1.deploy.revision as string;
    const serviceUrl = target.serviceUrl() as string;
    expect(await revisionBehind(serviceUrl)).toBe(good);

    await writeFile(join(dir, 'app', 'mode.txt'), 'ws1011');
    const c2 = await runCycle({ ...base, cycle: 2 });
    expect(c2.verdict).toBe('gate-failed');
    expect(c2.traffic.action).toBe('kept');
    expect(c2.traffic.lastGoodRevision).toBe(good);
    expect(c2.traffic.before.filter((e) => e.percent > 0)).toEqual([{ revision: good, percent: 100 }]);
    expect(c2.traffic.after.filter((e) => e.percent > 0)).toEqual([{ revision: good, percent: 100 }]);
    // The service URL still answers from the last good revision; the failed candidate is reachable on its tag URL.
    expect(await revisionBehind(serviceUrl)).toBe(good);
    expect(await revisionBehind(c2.deploy.tagUrl as string)).toBe(c2.deploy.revision);
    expect(c2.deploy.revision).not.toBe(good);
  });
});
