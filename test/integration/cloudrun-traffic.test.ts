/**
 * Traffic reads while a service reconciles, and what the split names after a promotion: the real
 * @google-cloud/run client through CloudRunTarget against the emulator, whose revisions are real
 * processes. The emulator's `unsettledTraffic` fault serves a service mid-reconcile (reconciling,
 * the serving revisions' statuses missing) for N GetService reads.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../src/build/builder.js';
import { loadConfig } from '../../src/config/load.js';
import type { StageContext } from '../../src/context.js';
import type { CloudRunTarget } from '../../src/deploy/cloudrun/index.js';
import { StageError } from '../../src/errors.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { runLoop } from '../../src/loop/run.js';
import type { CycleRecord } from '../../src/model/record.js';
import { removeDir as removeScratch, scratchDir } from '../helpers/cli.js';
import { configYaml } from '../helpers/config-fixture.js';
import { tinyConfigInput, writeTinyProject } from '../helpers/tiny-service.js';
import { emulatedTarget, emulatorConfig, getJson, makeTmpDir, removeDir, runClients, writeApp, NO_RETRY } from './emulator-fixtures.js';

let tmp: string;
let emu: Emulator;
let apps: { v1: string; v2: string; v3: string };
const targets: CloudRunTarget[] = [];
const scratch: string[] = [];

beforeAll(async () => {
  tmp = await makeTmpDir('cloudrun-traffic');
  apps = { v1: await writeApp(tmp, 'v1'), v2: await writeApp(tmp, 'v2'), v3: await writeApp(tmp, 'v3') };
  emu = await startEmulator({ config: emulatorConfig(apps.v1) });
});

afterEach(async () => {
  emu?.faults.clear();
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await emu?.close();
  await removeDir(tmp);
  await Promise.all(scratch.splice(0).map(removeScratch));
});

/** Short settle pauses: the reads are what is tested, not the waiting. */
function target(service: string, reads = 6): CloudRunTarget {
  // Private, as Cloud Run creates services: smoke requests carry a bearer token.
  const t = emulatedTarget(emu, service, { auth: { idToken: true } }, { settle: { reads, baseDelayMs: 20, maxDelayMs: 100 } });
  targets.push(t);
  return t;
}

const ctx = (cycle = 1): StageContext => ({ signal: new AbortController().signal, log: silentLogger(), cycle });
const image = (dir: string): BuiltImage => ({ ref: `dir:${dir}`, dir, durationMs: 0, outputTail: [] });
const serviceName = (s: string) => `projects/demo-project/locations/europe-west4/services/${s}`;

async function deployOk(t: CloudRunTarget, cycle: number, dir: string) {
  const out = await t.deployCandidate(ctx(cycle), image(dir), 'candidate');
  if (!out.ok) throw new Error(`deploy failed: ${out.reason}: ${out.message}`);
  return out.revision;
}

/** A service serving v1 at 100%, as a promotion leaves it. */
async function servingV1(t: CloudRunTarget) {
  const first = await deployOk(t, 1, apps.v1);
  await t.setTraffic(ctx(), [{ revision: first.name, percent: 100 }]);
  return first;
}

/** What a plain `gcloud run deploy --image` does: a new template, the traffic left as it is. */
async function plainDeploy(service: string, dir: string): Promise<void> {
  const api = runClients(emu);
  try {
    const [svc] = await api.services.getService({ name: serviceName(service) }, NO_RETRY);
    const container = { ...(svc.template?.containers?.[0] ?? {}), image: `dir:${dir}` };
    const [op] = await api.services.updateService(
      { service: { name: serviceName(service), template: { ...svc.template, revision: '', containers: [container] } }, updateMask: { paths: ['template'] } },
      NO_RETRY,
    );
    await op.promise();
  } finally {
    await api.close();
  }
}

describe('a traffic read that does not add up to 100 (the service is reconciling)', () => {
  it('is read again until it settles, and the candidate still gets 0% behind its tag', async () => {
    const t = target('settle');
    const first = await servingV1(t);
    emu.faults.unsettledTraffic(3);
    const second = await deployOk(t, 2, apps.v2);
    expect(emu.faults.state().unsettledTraffic).toBe(0);
    // Read as "nothing serves", the candidate would have taken 100% before it was smoked.
    expect(await t.currentTraffic(ctx())).toEqual([
      { revision: first.name, percent: 100 },
      { revision: second.name, percent: 0, tag: 'candidate' },
    ]);
    for (let i = 0; i < 3; i++) expect((await getJson(t.serviceUrl() as string)).version).toBe('v1');
  });

  it('is the same for currentTraffic: a settled split, never the transient one', async () => {
    const t = target('settle-read');
    const first = await servingV1(t);
    emu.faults.unsettledTraffic(2);
    expect(await t.currentTraffic(ctx())).toEqual([{ revision: first.name, percent: 100 }]);
  });

  it('that never settles is a StageError naming what was read, and nothing is deployed', async () => {
    const t = target('never-settles', 4);
    const first = await servingV1(t);
    emu.faults.unsettledTraffic(1000);
    const err = await t.deployCandidate(ctx(2), image(apps.v2), 'candidate').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StageError);
    expect((err as StageError).message).toMatch(/^deploy: the traffic of Cloud Run service never-settles did not settle: its traffic statuses add up to 0% while the service is reconciling, in each of 4 reads over \d+\.\d s$/);
    expect((err as StageError).hint).toContain('traffic was not touched');
    expect(1000 - emu.faults.state().unsettledTraffic).toBe(4);
    emu.faults.clear();
    expect(await t.currentTraffic(ctx())).toEqual([{ revision: first.name, percent: 100 }]);
    const api = runClients(emu);
    try {
      const [revs] = await api.revisions.listRevisions({ parent: serviceName('never-settles') }, NO_RETRY);
      expect(revs).toHaveLength(1);
    } finally {
      await api.close();
    }
  });

  it('becomes the cycle\'s record (verdict error, the message in it), with traffic untouched', async () => {
    const dir = await scratchDir('cloudrun-traffic');
    scratch.push(dir);
    const base = tinyConfigInput({ maxCycles: 1 });
    const config = {
      ...base,
      service: 'reconciling',
      target: {
        kind: 'cloudrun' as const,
        project: 'demo-project',
        region: 'europe-west4',
        auth: { idToken: true },
        endpoint: { host: '127.0.0.1', port: emu.port, insecure: true as const },
        operationTimeoutMs: 20_000,
      },
      smoke: { ...base.smoke, checks: base.smoke.checks.filter((c) => c.kind === 'http') },
    };
    await writeTinyProject(dir, 'ok', configYaml(config));
    const loaded = await loadConfig(join(dir, 'loop.config.yaml'));
    const run = () => runLoop({ loaded, log: silentLogger(), signal: new AbortController().signal, maxCycles: 1, noFix: true, target: target('reconciling', 3) });
    const first = (await run()).cycles[0] as CycleRecord;
    expect(first.verdict, JSON.stringify(first.smoke.results)).toBe('passed');
    emu.faults.unsettledTraffic(1000);
    const out = await run();
    const rec = out.cycles[0] as CycleRecord;
    expect(rec.verdict).toBe('error');
    expect(JSON.stringify(rec.smoke.results)).toContain('did not settle: its traffic statuses add up to 0% while the service is reconciling');
    emu.faults.clear();
    expect(await target('reconciling').currentTraffic(ctx())).toEqual([{ revision: first.deploy.revision, percent: 100 }]);
    expect(out.published).toHaveLength(1);
  });
});

describe('after a promotion', () => {
  it('pinned (the default): a later plain gcloud run deploy makes a revision that gets 0%', async () => {
    const t = target('pinned');
    const first = await servingV1(t);
    await plainDeploy('pinned', apps.v3);
    const split = await t.currentTraffic(ctx());
    expect(split).toEqual([{ revision: first.name, percent: 100 }]);
    expect((await getJson(t.serviceUrl() as string)).version).toBe('v1');
  });

  it('latest: the split becomes LATEST 100%, so a later plain deploy gets the traffic; deploy-loop\'s own candidates still get 0%', async () => {
    const t = target('latest');
    const first = await servingV1(t);
    expect(await t.followLatest(ctx(), first.name)).toBe(true);
    const api = runClients(emu);
    try {
      const [svc] = await api.services.getService({ name: serviceName('latest') }, NO_RETRY);
      expect(svc.traffic).toEqual([expect.objectContaining({ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 100 })]);
    } finally {
      await api.close();
    }
    await plainDeploy('latest', apps.v3);
    const after = await t.currentTraffic(ctx());
    expect(after).toHaveLength(1);
    expect(after[0]).toMatchObject({ percent: 100 });
    expect(after[0]?.revision).not.toBe(first.name);
    expect((await getJson(t.serviceUrl() as string)).version).toBe('v3');

    // deploy-loop's next candidate pins what serves, LATEST included, and takes 0% behind its tag.
    const cand = await deployOk(t, 3, apps.v2);
    expect(await t.currentTraffic(ctx())).toEqual([
      { revision: after[0]?.revision, percent: 100 },
      { revision: cand.name, percent: 0, tag: 'candidate' },
    ]);
  });

  it('latest: stays pinned when the promoted revision is no longer the latest ready one', async () => {
    const t = target('latest-moved');
    const first = await servingV1(t);
    await plainDeploy('latest-moved', apps.v3);
    expect(await t.followLatest(ctx(), first.name)).toBe(false);
    expect(await t.currentTraffic(ctx())).toEqual([{ revision: first.name, percent: 100 }]);
    expect((await getJson(t.serviceUrl() as string)).version).toBe('v1');
  });
});
