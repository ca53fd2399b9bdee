/**
 * `deploy-loop rollback` through the real CLI: against the Cloud Run emulator it gives the newest
 * revision that passed a cycle (other than the one serving) or a named one 100% of traffic; on the
 * local target it refuses with a usage error.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from '../../src/emulator/index.js';
import { removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { tinyConfig, tinyConfigInput, writeTinyProject } from '../helpers/tiny-service.js';
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

async function project(config: string): Promise<string> {
  const dir = await scratchDir('rollback');
  dirs.push(dir);
  await writeTinyProject(dir, 'ok', config);
  return dir;
}

function cloudRunConfig(service = 'rollback-shop'): string {
  return configYaml({
    ...tinyConfigInput(),
    service,
    target: emulatedCloudRunTarget(emu.port),
  });
}

const record = async (dir: string, cycle: number) =>
  JSON.parse(await readFile(join(dir, 'reports', 'history', `cycle-${String(cycle).padStart(3, '0')}.json`), 'utf8'));

async function servedBy(url: string): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add((await getJson(`${url}/healthz`)).revision as string);
  return seen;
}

describe('deploy-loop rollback', () => {
  it('on Cloud Run, moves all traffic to the previous good revision, or to the one named', async () => {
    const dir = await project(cloudRunConfig());
    expect((await runCli(['cycle'], { cwd: dir })).code).toBe(0);
    expect((await runCli(['cycle'], { cwd: dir })).code).toBe(0);
    const [r1, r2] = [await record(dir, 1), await record(dir, 2)];
    expect(r1.deploy.revision).not.toBe(r2.deploy.revision);
    expect(await servedBy(r2.serviceUrl)).toEqual(new Set([r2.deploy.revision]));

    const back = await runCli(['rollback'], { cwd: dir });
    expect(back.stderr).not.toContain('internal error');
    expect(back.code).toBe(0);
    expect(back.stdout).toContain(`rollback: ${r1.deploy.revision} serves 100% of traffic`);
    expect(await servedBy(r2.serviceUrl)).toEqual(new Set([r1.deploy.revision]));

    // Now r1 serves: the newest good revision other than it is r2, and naming one overrides the choice.
    const named = await runCli(['rollback', '--revision', r2.deploy.revision], { cwd: dir });
    expect(named.code).toBe(0);
    expect(await servedBy(r2.serviceUrl)).toEqual(new Set([r2.deploy.revision]));
  });

  it('on Cloud Run, fails with the API message for a revision that does not exist and leaves traffic alone', async () => {
    const dir = await project(cloudRunConfig('rollback-other'));
    expect((await runCli(['cycle'], { cwd: dir })).code).toBe(0);
    const r1 = await record(dir, 1);
    const r = await runCli(['rollback', '--revision', 'rollback-other-nope'], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('rollback-other-nope');
    expect(await servedBy(r1.serviceUrl)).toEqual(new Set([r1.deploy.revision]));
  });

  it('on Cloud Run, refuses with exit 2 when no other recorded revision passed', async () => {
    const dir = await project(cloudRunConfig('rollback-single'));
    expect((await runCli(['cycle'], { cwd: dir })).code).toBe(0);
    const r = await runCli(['rollback'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/already serves 100% of traffic/);
  });

  it('on the local target, exits 2 and explains why there is nothing to roll back', async () => {
    const dir = await project(tinyConfig());
    const r = await runCli(['rollback'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/local target's revisions .* live only as long as the loop/);
  });
});
