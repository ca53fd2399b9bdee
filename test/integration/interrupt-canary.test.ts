/**
 * SIGINT to the real CLI while a canary step holds part of the traffic: the split from before the
 * cycle is put back, the cycle is recorded as interrupted, exit 130. Cloud Run (here the emulator)
 * keeps traffic between runs, so the test can also ask the service afterwards who serves.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { removeDir, runCli, scratchDir, startCli } from '../helpers/cli.js';
import { canaryConfigInput, writeCanaryProject } from './canary-fixtures.js';
import { configYaml, emulatedCloudRunTarget } from '../helpers/config-fixture.js';
import { getJson, startTinyServiceEmulator } from './emulator-fixtures.js';

let emu: Emulator;
const dirs: string[] = [];

beforeAll(async () => {
  emu = await startTinyServiceEmulator(20);
});

afterAll(async () => {
  await emu?.close();
  await Promise.all(dirs.splice(0).map(removeDir));
});

function cloudRunCanaryConfig(dir: string, holdMs: number): string {
  return configYaml({
    ...canaryConfigInput(dir, { holdMs }),
    target: emulatedCloudRunTarget(emu.port),
  });
}

const serving = (split: { revision: string; percent: number }[]) => split.filter((e) => e.percent > 0);

describe('SIGINT during a canary step', () => {
  it('restores the split from before the cycle, records the cycle as interrupted and exits 130', async () => {
    const dir = await scratchDir('interrupt-canary');
    dirs.push(dir);
    await writeCanaryProject(dir, 'ok');
    await writeFile(join(dir, 'loop.config.yaml'), cloudRunCanaryConfig(dir, 0));
    const first = await runCli(['cycle'], { cwd: dir });
    expect(first.stderr).not.toContain('internal error');
    expect(first.code).toBe(0);
    const rec1 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8'));
    const good = rec1.deploy.revision as string;

    // A long hold at each step: the signal arrives while 10% of traffic is on the candidate.
    await writeFile(join(dir, 'loop.config.yaml'), cloudRunCanaryConfig(dir, 60_000));
    const { child, done } = startCli(['cycle', '--log-format', 'json'], { cwd: dir });
    await new Promise<void>((res, rej) => {
      let buf = '';
      child.stderr?.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('canary step 1 of 3')) res();
      });
      child.on('close', () => rej(new Error(`exited before the canary: ${buf}`)));
    });
    // While the step holds, the service really serves both revisions.
    const answers = new Set<string>();
    for (let i = 0; i < 60 && answers.size < 2; i++) answers.add((await getJson(`${rec1.serviceUrl}/healthz`)).revision as string);
    expect(answers.size).toBe(2);

    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    const rec2 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-002.json'), 'utf8'));
    expect(rec2.verdict).toBe('interrupted');
    expect(serving(rec2.traffic.before)).toEqual([{ revision: good, percent: 100 }]);
    expect(serving(rec2.traffic.after)).toEqual([{ revision: good, percent: 100 }]);
    expect(rec2.traffic.note).toMatch(/Interrupted while promoting: traffic restored to the split before the cycle/);
    // After the process is gone, the service still answers only from the last good revision.
    for (let i = 0; i < 10; i++) expect((await getJson(`${rec1.serviceUrl}/healthz`)).revision).toBe(good);
  });
});
