/**
 * CloudRunTarget through the real @google-cloud/run client against the in-process emulator, with
 * revisions running as real processes: create, candidate at 0% behind its tag URL, promotion, a
 * revision that cannot start, transient errors retried, invalid requests surfaced at once.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../src/build/builder.js';
import type { CloudRunTargetInput } from '../../src/config/cloudrun-schema.js';
import type { StageContext } from '../../src/context.js';
import { CloudRunTarget } from '../../src/deploy/cloudrun/index.js';
import { StageError } from '../../src/errors.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { emulatorConfig, getJson, makeTmpDir, removeDir, runClients, writeApp, emulatedTarget } from './emulator-fixtures.js';

let tmp: string;
let emu: Emulator;
let apps: { v1: string; v2: string; v3: string; crash: string };
const targets: CloudRunTarget[] = [];

beforeAll(async () => {
  tmp = await makeTmpDir('cloudrun-target');
  apps = { v1: await writeApp(tmp, 'v1'), v2: await writeApp(tmp, 'v2'), v3: await writeApp(tmp, 'v3'), crash: path.join(tmp, 'app-crash') };
  await mkdir(apps.crash, { recursive: true });
  await writeFile(path.join(apps.crash, 'server.mjs'), "console.error('boom: missing DATABASE_URL'); process.exit(1);\n");
  emu = await startEmulator({ config: emulatorConfig(apps.v1) });
});

afterEach(async () => {
  emu?.faults.clear();
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await emu?.close();
  await removeDir(tmp);
});

function target(service: string, extra: Partial<CloudRunTargetInput> = {}, clients?: ReturnType<typeof runClients>): CloudRunTarget {
  const t = emulatedTarget(emu, service, extra, clients ? { clients } : {});
  targets.push(t);
  return t;
}

function ctx(cycle: number): StageContext {
  return { signal: new AbortController().signal, log: silentLogger(), cycle };
}

function image(dir: string): BuiltImage {
  return { ref: `dir:${dir}`, dir, durationMs: 0, outputTail: [] };
}

async function deployOk(t: CloudRunTarget, cycle: number, dir: string) {
  const out = await t.deployCandidate(ctx(cycle), image(dir), 'candidate');
  if (!out.ok) throw new Error(`deploy failed: ${out.reason}: ${out.message}`);
  return out.revision;
}

describe('CloudRunTarget against the emulator', () => {
  it('creates the service on the first deploy, then deploys a tagged candidate at 0% and promotes it', async () => {
    const t = target('shop');
    const first = await deployOk(t, 1, apps.v1);
    expect(first.name).toMatch(/^shop-c1-[0-9a-z]{8}$/);
    expect((await getJson(first.url)).revision).toBe(first.name);
    // A new service needs a split that adds up to 100: the first revision takes it.
    expect(await t.currentTraffic(ctx(1))).toEqual([{ revision: first.name, percent: 100, tag: 'candidate' }]);
    const serviceUrl = t.serviceUrl() as string;
    expect(serviceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

    const second = await deployOk(t, 2, apps.v2);
    expect(second.name).toMatch(/^shop-c2-[0-9a-z]{8}$/);
    expect(await t.currentTraffic(ctx(2))).toEqual([
      { revision: first.name, percent: 100 },
      { revision: second.name, percent: 0, tag: 'candidate' },
    ]);
    expect(await getJson(second.url)).toMatchObject({ version: 'v2', revision: second.name });
    for (let i = 0; i < 5; i++) expect((await getJson(serviceUrl)).version).toBe('v1');

    await t.setTraffic(ctx(2), [{ revision: second.name, percent: 100 }]);
    expect(await t.currentTraffic(ctx(2))).toEqual([{ revision: second.name, percent: 100 }]);
    for (let i = 0; i < 5; i++) expect((await getJson(serviceUrl)).version).toBe('v2');
  });

  it('deploys the same revision again when a cycle is retried, instead of a second one', async () => {
    const t = target('retry');
    const a = await deployOk(t, 1, apps.v1);
    const b = await deployOk(t, 1, apps.v1);
    expect(b.name).toBe(a.name);
    const api = runClients(emu);
    try {
      const [revs] = await api.revisions.listRevisions({ parent: t.serviceName }, { retry: null, timeout: 5000 });
      expect(revs).toHaveLength(1);
    } finally {
      await api.close();
    }
  });

  it('reports a revision that cannot start as ok: false with the condition reason and message, leaving traffic alone', async () => {
    const t = target('broken');
    const good = await deployOk(t, 1, apps.v1);
    const before = await t.currentTraffic(ctx(2));
    const out = await t.deployCandidate(ctx(2), image(apps.crash), 'candidate');
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.revisionName).toMatch(/^broken-c2-/);
    expect(out.reason).toBe('HealthCheckContainerError');
    expect(out.message).toContain('failed to start and listen on the port defined provided by the PORT=8080');
    // The condition has Cloud Run's wording and its Logs URL; the output comes from Cloud Logging.
    expect(out.message).toMatch(/\nLogs URL: https:\/\/console\.cloud\.google\.com\/logs\/viewer\?project=demo-project&resource=cloud_run_revision\/service_name\/broken\/revision_name\/broken-c2-/);
    expect(out.message).not.toContain('boom');
    expect(out.logTail).toEqual([
      'boom: missing DATABASE_URL',
      '[WARNING] Container called exit(1).',
      '[ERROR] Default STARTUP TCP probe failed 1 time consecutively for container "broken" on port 8080. The instance was not started.',
    ]);
    expect(await t.currentTraffic(ctx(2))).toEqual(before);
    expect((await getJson(t.serviceUrl() as string)).revision).toBe(good.name);

    // The next cycle with a working image recovers: the failed tag moves to the new candidate.
    const fixed = await deployOk(t, 3, apps.v3);
    expect((await getJson(fixed.url)).version).toBe('v3');
  });

  it('retries UNAVAILABLE and a conflicting update (ABORTED), then succeeds', async () => {
    const t = target('flaky');
    await deployOk(t, 1, apps.v1);
    emu.faults.failNextCalls(2);
    emu.faults.failNextCalls(1, { code: 10, methods: ['UpdateService'] });
    const rev = await deployOk(t, 2, apps.v2);
    expect((await getJson(rev.url)).version).toBe('v2');
    expect(emu.faults.state().calls).toEqual([]);
  });

  it('surfaces INVALID_ARGUMENT at once as a StageError carrying the API message', async () => {
    const api = runClients(emu);
    let updates = 0;
    const original = api.services.updateService.bind(api.services);
    api.services.updateService = ((...args: Parameters<typeof original>) => {
      updates++;
      return original(...args);
    }) as typeof api.services.updateService;
    const t = target('strict', {}, api);
    const rev = await deployOk(t, 1, apps.v1);
    const calls = updates;
    const err = await t.setTraffic(ctx(1), [{ revision: rev.name, percent: 90 }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StageError);
    expect((err as StageError).stage).toBe('traffic');
    expect((err as StageError).message).toContain('sum to 90, want 100');
    expect((err as StageError).message).toContain('INVALID_ARGUMENT');
    expect(updates - calls).toBe(1);
  });

  it('gives up on a slow operation at operationTimeoutMs with a StageError', async () => {
    const t = target('slow', { operationTimeoutMs: 300 });
    emu.faults.slowOperations(5000, 1);
    const err = await t.deployCandidate(ctx(1), image(apps.v1), 'candidate').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StageError);
    expect((err as StageError).message).toMatch(/still running after/);
  });
});

describe('CloudRunTarget with a service it did not create', () => {
  it('pins LATEST traffic to the serving revision so the candidate gets none of it', async () => {
    const api = runClients(emu);
    try {
      const t = target('legacy');
      // Created the way `gcloud run deploy` leaves a service: 100% to LATEST.
      const [op] = await api.services.createService(
        { parent: 'projects/demo-project/locations/europe-west4', serviceId: 'legacy', service: { template: { containers: [{ image: `dir:${apps.v1}` }] } } },
        { retry: null, timeout: 5000 },
      );
      const [created] = await op.promise();
      const serving = (created.latestReadyRevision ?? '').split('/').pop() as string;

      const rev = await deployOk(t, 1, apps.v2);
      expect(await t.currentTraffic(ctx(1))).toEqual([
        { revision: serving, percent: 100 },
        { revision: rev.name, percent: 0, tag: 'candidate' },
      ]);
      expect((await getJson(t.serviceUrl() as string)).version).toBe('v1');
      expect((await getJson(rev.url)).version).toBe('v2');
    } finally {
      await api.close();
    }
  });

  it('keeps tags other than its own on the revisions that carry them', async () => {
    const t = target('tags');
    const first = await deployOk(t, 1, apps.v1);
    await t.setTraffic(ctx(1), [{ revision: first.name, percent: 100, tag: 'stable' }]);
    const second = await deployOk(t, 2, apps.v2);
    expect(await t.currentTraffic(ctx(2))).toEqual([
      { revision: first.name, percent: 100, tag: 'stable' },
      { revision: second.name, percent: 0, tag: 'candidate' },
    ]);
  });
});
