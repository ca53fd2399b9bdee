/**
 * The service lock and traffic under faults, on Cloud Run through the emulator: a lock whose
 * holder is provably dead (this host, pid gone) is taken over; `unlock` names the holder and
 * refuses a live one without --force; `status` shows the locks, the live split and the last
 * cycle; after a kill -9 mid-shift the split recorded before the cycle is put back.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { StageContext } from '../../src/context.js';
import { CloudRunTarget } from '../../src/deploy/cloudrun/index.js';
import { LOCK_ANNOTATION } from '../../src/deploy/cloudrun/lock.js';
import { UsageError } from '../../src/errors.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { restoreTrafficAfterCrash } from '../../src/traffic/after-crash.js';
import { status } from '../../src/traffic/status-command.js';
import { unlock } from '../../src/traffic/unlock-command.js';
import { removeDir as removeCliDir, scratchDir } from '../helpers/cli.js';
import { NO_RETRY, emulatorConfig, getJson, makeTmpDir, plain, removeDir, runClients, writeApp, emulatedTarget } from './emulator-fixtures.js';

const PARENT = 'projects/demo-project/locations/europe-west4';
let tmp: string;
let emu: Emulator;
let apps: { v1: string; v2: string };
let raw: ReturnType<typeof runClients>;
const targets: CloudRunTarget[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  tmp = await makeTmpDir('cloudrun-unlock');
  apps = { v1: await writeApp(tmp, 'v1'), v2: await writeApp(tmp, 'v2') };
  emu = await startEmulator({ config: emulatorConfig(apps.v1) });
  raw = runClients(emu);
});

afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
  await Promise.all(dirs.splice(0).map(removeCliDir));
});

afterAll(async () => {
  await raw?.close();
  await emu?.close();
  await removeDir(tmp);
});

function target(service: string): CloudRunTarget {
  const t = emulatedTarget(emu, service, { access: 'public' });
  targets.push(t);
  return t;
}

const ctx = (): StageContext => ({ signal: new AbortController().signal, log: silentLogger(), cycle: 1 });

async function deployOk(t: CloudRunTarget, cycle: number, dir: string): Promise<string> {
  const out = await t.deployCandidate({ ...ctx(), cycle }, { ref: `dir:${dir}`, dir, durationMs: 0, outputTail: [] }, 'candidate');
  if (!out.ok) throw new Error(`deploy failed: ${out.message}`);
  return out.revision.name;
}

/** A pid that certainly belonged to a process of this host and is gone now. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  return r.pid as number;
}

/** Writes a lock annotation as another run left it (with an update mask, as the target does). */
async function leaveLock(service: string, lock: { runId: string; host: string; pid: number; expiresInMs?: number }): Promise<void> {
  const [svc] = await raw.services.getService({ name: `${PARENT}/services/${service}` }, NO_RETRY);
  const value = JSON.stringify({ runId: lock.runId, host: lock.host, pid: lock.pid, startedAt: '2026-12-01T09:00:00.000Z', command: 'deploy-loop run', expiresAt: new Date(Date.now() + (lock.expiresInMs ?? 3_600_000)).toISOString() });
  const [op] = await raw.services.updateService({ service: { name: svc.name, annotations: { ...(plain(svc).annotations ?? {}), [LOCK_ANNOTATION]: value } }, updateMask: { paths: ['annotations'] } }, NO_RETRY);
  await op.promise();
}

async function lockOn(service: string): Promise<{ runId?: string } | undefined> {
  const [svc] = await raw.services.getService({ name: `${PARENT}/services/${service}` }, NO_RETRY);
  const v = plain(svc).annotations?.[LOCK_ANNOTATION];
  return v ? (JSON.parse(v) as { runId?: string }) : undefined;
}

async function refusal(p: Promise<unknown>): Promise<UsageError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof UsageError)) throw new Error(`expected a UsageError, got ${String(err)}`);
  return err;
}

/** A loop config for `service` against the test's emulator, in a scratch folder. */
async function configFor(service: string) {
  const dir = await scratchDir('cloudrun-unlock');
  dirs.push(dir);
  const file = join(dir, 'loop.config.yaml');
  await writeFile(
    file,
    `apiVersion: deploy-loop/v1
service: ${service}
build: { kind: command, command: [node, --version] }
target:
  kind: cloudrun
  project: demo-project
  region: europe-west4
  endpoint: { host: 127.0.0.1, port: ${emu.port}, insecure: true }
smoke:
  checks:
    - { name: home, kind: http, path: / }
`,
  );
  return { dir, loaded: await loadConfig(file) };
}

function capture(): { out: Writable; text: () => string } {
  let text = '';
  const out = new Writable({
    write(chunk: Buffer, _e, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { out, text: () => text };
}

const HOLDER = { runId: 'mine', host: hostname(), pid: process.pid, startedAt: 'now', command: 'deploy-loop run' };

describe('the Cloud Run service lock under faults', () => {
  it('is taken over when its holder is provably dead (this host, pid gone), and refused while it lives or cannot be checked', async () => {
    const t = target('lock-dead');
    await deployOk(t, 1, apps.v1);
    await leaveLock('lock-dead', { runId: 'killed-run', host: hostname(), pid: deadPid() });
    const lock = await t.acquireLock(ctx(), HOLDER, 60_000);
    expect((await lockOn('lock-dead'))?.runId).toBe('mine');
    await lock.release();

    await leaveLock('lock-dead', { runId: 'live-run', host: hostname(), pid: process.pid });
    expect((await refusal(t.acquireLock(ctx(), { ...HOLDER, runId: 'other' }, 60_000))).message).toContain('run live-run');
    await leaveLock('lock-dead', { runId: 'far-run', host: 'another-box', pid: deadPid() });
    const far = await refusal(t.acquireLock(ctx(), { ...HOLDER, runId: 'other' }, 60_000));
    expect(far.message).toContain('on host another-box');
    expect(far.hint).toContain('deploy-loop unlock --force');
  });
});

describe('deploy-loop unlock', () => {
  it('names the holder it removes, refuses a live holder without --force, and removes it with --force', async () => {
    await deployOk(target('lock-cmd'), 1, apps.v1);
    const { loaded } = await configFor('lock-cmd');

    await leaveLock('lock-cmd', { runId: 'live-run', host: hostname(), pid: process.pid });
    const refused = await refusal(unlock({ loaded, log: silentLogger(), signal: new AbortController().signal }));
    expect(refused.message).toContain('live run: live-run');
    expect(refused.hint).toContain('--force');
    expect((await lockOn('lock-cmd'))?.runId).toBe('live-run');

    const forced = capture();
    expect(await unlock({ loaded, log: silentLogger(), signal: new AbortController().signal, force: true, out: forced.out })).toBe(0);
    expect(forced.text()).toContain(`unlock: removed the lock on Cloud Run service lock-cmd: run live-run (deploy-loop run), pid ${process.pid} on ${hostname()} (alive)`);
    expect(await lockOn('lock-cmd')).toBeUndefined();

    const none = capture();
    await unlock({ loaded, log: silentLogger(), signal: new AbortController().signal, out: none.out });
    expect(none.text()).toBe('unlock: no lock is held on service lock-cmd\n');
  });

  it('removes a local lock file left by a killed run, naming it, without --force', async () => {
    await deployOk(target('lock-local'), 1, apps.v1);
    const { dir, loaded } = await configFor('lock-local');
    const pid = deadPid();
    await mkdir(join(dir, 'reports'), { recursive: true });
    await writeFile(join(dir, 'reports', '.lock'), JSON.stringify({ pid, host: hostname(), startedAt: '2026-12-01T09:00:00.000Z', runId: 'killed', service: 'lock-local', command: 'deploy-loop run' }));
    const o = capture();
    await unlock({ loaded, log: silentLogger(), signal: new AbortController().signal, out: o.out });
    expect(o.text()).toBe(`unlock: removed the local lock of service lock-local: run killed (deploy-loop run), pid ${pid} on ${hostname()} (gone), since 2026-12-01T09:00:00.000Z\n`);
  });
});

describe('deploy-loop status', () => {
  it('shows the locks, the live split read from Cloud Run and the last cycle', async () => {
    const t = target('status-svc');
    const r1 = await deployOk(t, 1, apps.v1);
    const r2 = await deployOk(t, 2, apps.v2);
    await leaveLock('status-svc', { runId: 'far-run', host: 'another-box', pid: 77 });
    const { loaded } = await configFor('status-svc');
    const o = capture();
    expect(await status({ loaded, log: silentLogger(), signal: new AbortController().signal, out: o.out })).toBe(0);
    const lines = o.text().split('\n');
    expect(lines[0]).toBe('service status-svc (target cloudrun)');
    expect(lines[1]).toBe('local lock: none');
    expect(lines[2]).toMatch(/^Cloud Run lock: run far-run \(deploy-loop run\), pid 77 on another-box \(on another host, cannot be checked\), since .*, expires /);
    expect(lines[3]).toBe(`traffic: ${r1} 100%, ${r2} 0% (tag candidate)`);
    expect(lines[4]).toBe('last cycle: none recorded');
  });
});

describe('traffic after a kill -9 mid-shift', () => {
  it('puts back the split recorded before the cycle, unless the live split is adopted on purpose', async () => {
    const t = target('half-moved');
    const good = await deployOk(t, 1, apps.v1);
    const candidate = await deployOk(t, 2, apps.v2);
    const before = await t.currentTraffic(ctx());
    // The canary step the killed run left: the unvetted candidate serves 45%.
    await t.setTraffic(ctx(), [{ revision: good, percent: 55 }, { revision: candidate, percent: 45, tag: 'candidate' }]);
    const unfinished = { cycle: 2, traffic: { before } };

    const adopted = await restoreTrafficAfterCrash(t, unfinished, ctx(), { adoptLive: true });
    expect(adopted?.action).toBe('adopted');
    expect((await t.currentTraffic(ctx())).find((e) => e.revision === candidate)?.percent).toBe(45);

    const restored = await restoreTrafficAfterCrash(t, unfinished, ctx());
    expect(restored).toMatchObject({ action: 'restored', recorded: before });
    expect(restored?.note).toContain('unfinished cycle 2');
    expect(await t.currentTraffic(ctx())).toEqual(before);
    for (let i = 0; i < 5; i++) expect((await getJson(t.serviceUrl() as string, {})).revision).toBe(good);

    expect((await restoreTrafficAfterCrash(t, unfinished, ctx()))?.action).toBe('matched');
    // A recorded split naming a revision that is gone cannot be put back: said so, live split kept.
    const gone = await restoreTrafficAfterCrash(t, { cycle: 3, traffic: { before: [{ revision: 'half-moved-c9-gone', percent: 100 }] } }, ctx());
    expect(gone?.action).toBe('not-restorable');
    expect(gone?.note).toContain("Revision 'half-moved-c9-gone' does not exist");
    expect(await t.currentTraffic(ctx())).toEqual(before);
  });
});
