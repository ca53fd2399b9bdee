/**
 * The Cloud Run service lock through the real @google-cloud/run client against the emulator: an
 * annotation on the service, refused to a second run while unexpired, taken over once expired,
 * removed on release, and carried along by deploys without creating revisions of its own.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../src/build/builder.js';
import type { StageContext } from '../../src/context.js';
import { CloudRunTarget } from '../../src/deploy/cloudrun/index.js';
import { LOCK_ANNOTATION } from '../../src/deploy/cloudrun/lock.js';
import type { LockHolder } from '../../src/deploy/target.js';
import { UsageError } from '../../src/errors.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { NO_RETRY, emulatorConfig, makeTmpDir, plain, removeDir, runClients, writeApp, emulatedTarget } from './emulator-fixtures.js';

let tmp: string;
let emu: Emulator;
let apps: { v1: string; v2: string };
let raw: ReturnType<typeof runClients>;
const targets: CloudRunTarget[] = [];
const PARENT = 'projects/demo-project/locations/europe-west4';

beforeAll(async () => {
  tmp = await makeTmpDir('cloudrun-lock');
  apps = { v1: await writeApp(tmp, 'v1'), v2: await writeApp(tmp, 'v2') };
  emu = await startEmulator({ config: emulatorConfig(apps.v1) });
  raw = runClients(emu);
});

afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await raw?.close();
  await emu?.close();
  await removeDir(tmp);
});

function target(service: string): CloudRunTarget {
  const t = emulatedTarget(emu, service);
  targets.push(t);
  return t;
}

function ctx(cycle = 1): StageContext {
  return { signal: new AbortController().signal, log: silentLogger(), cycle };
}

function image(dir: string): BuiltImage {
  return { ref: `dir:${dir}`, dir, durationMs: 0, outputTail: [] };
}

function holder(runId: string, extra: Partial<LockHolder> = {}): LockHolder {
  return { runId, host: 'build-box-7', pid: 4242, startedAt: '2026-01-02T03:04:05.000Z', command: 'deploy-loop run', ...extra };
}

async function deployOk(t: CloudRunTarget, cycle: number, dir: string): Promise<string> {
  const out = await t.deployCandidate(ctx(cycle), image(dir), 'candidate');
  if (!out.ok) throw new Error(`deploy failed: ${out.reason}: ${out.message}`);
  return out.revision.name;
}

async function annotation(service: string): Promise<Record<string, unknown> | undefined> {
  const [svc] = await raw.services.getService({ name: `${PARENT}/services/${service}` }, NO_RETRY);
  const value = plain(svc).annotations?.[LOCK_ANNOTATION];
  return value ? (JSON.parse(value) as Record<string, unknown>) : undefined;
}

async function revisionCount(service: string): Promise<number> {
  const [revs] = await raw.revisions.listRevisions({ parent: `${PARENT}/services/${service}` }, NO_RETRY);
  return revs.length;
}

async function refusal(p: Promise<unknown>): Promise<UsageError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof UsageError)) throw new Error(`expected a UsageError, got ${String(err)}`);
  return err;
}

describe('Cloud Run service lock', () => {
  it('is a no-op before the service exists', async () => {
    const t = target('lock-none');
    const lock = await t.acquireLock(ctx(), holder('run-a'), 60_000);
    await lock.release();
    await deployOk(t, 1, apps.v1);
    expect(await annotation('lock-none')).toBeUndefined();
  });

  it('records the holder on the service, refuses a second run naming it, and release removes it', async () => {
    const a = target('lock-shop');
    await deployOk(a, 1, apps.v1);
    const before = await revisionCount('lock-shop');
    const lock = await a.acquireLock(ctx(), holder('run-a'), 60_000);
    const held = await annotation('lock-shop');
    expect(held).toMatchObject({ runId: 'run-a', host: 'build-box-7', pid: 4242, startedAt: '2026-01-02T03:04:05.000Z', command: 'deploy-loop run' });
    expect(Date.parse(String(held?.expiresAt))).toBeGreaterThan(Date.now());
    // An annotation is not part of the template: locking made no revision.
    expect(await revisionCount('lock-shop')).toBe(before);

    const b = target('lock-shop');
    const err = await refusal(b.acquireLock(ctx(), holder('run-b', { host: 'laptop', pid: 99 }), 60_000));
    expect(err.exitCode).toBe(2);
    expect(err.message).toContain('run-a');
    expect(err.message).toContain('build-box-7');
    expect(err.message).toContain('pid 4242');
    expect(err.message).toContain('since 2026-01-02T03:04:05.000Z');
    expect(err.message).toContain(String(held?.expiresAt));
    // The refused run left the lock as it was.
    expect(await annotation('lock-shop')).toEqual(held);

    await lock.release();
    expect(await annotation('lock-shop')).toBeUndefined();
    const again = await b.acquireLock(ctx(), holder('run-b'), 60_000);
    expect(await annotation('lock-shop')).toMatchObject({ runId: 'run-b' });
    await again.release();
    expect(await annotation('lock-shop')).toBeUndefined();
  });

  it('lets exactly one of two runs locking at once win; the other is refused naming the winner', async () => {
    await deployOk(target('lock-race'), 1, apps.v1);
    const [x, y] = [target('lock-race'), target('lock-race')];
    const results = await Promise.allSettled([x.acquireLock(ctx(), holder('run-x'), 60_000), y.acquireLock(ctx(), holder('run-y'), 60_000)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const winner = String((await annotation('lock-race'))?.runId);
    expect(['run-x', 'run-y']).toContain(winner);
    expect(lost[0]?.reason).toBeInstanceOf(UsageError);
    expect(String((lost[0]?.reason as Error).message)).toContain(winner);
    await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
    expect(await annotation('lock-race')).toBeUndefined();
  });

  it('takes over an expired lock, and release does not remove a lock that changed hands', async () => {
    const a = target('lock-expired');
    await deployOk(a, 1, apps.v1);
    const first = await a.acquireLock(ctx(), holder('run-old'), 1);
    await new Promise((r) => setTimeout(r, 20));
    const b = target('lock-expired');
    const second = await b.acquireLock(ctx(), holder('run-new', { host: 'laptop' }), 60_000);
    expect(await annotation('lock-expired')).toMatchObject({ runId: 'run-new', host: 'laptop' });
    // The old run ending late must not unlock the new holder.
    await first.release();
    expect(await annotation('lock-expired')).toMatchObject({ runId: 'run-new' });
    await second.release();
    expect(await annotation('lock-expired')).toBeUndefined();
  });

  it('survives a deploy and a traffic change by its holder, which make only the candidate revision', async () => {
    const t = target('lock-deploy');
    const first = await deployOk(t, 1, apps.v1);
    const lock = await t.acquireLock(ctx(), holder('run-a'), 60_000);
    const held = await annotation('lock-deploy');
    const before = await revisionCount('lock-deploy');
    const second = await deployOk(t, 2, apps.v2);
    expect(await revisionCount('lock-deploy')).toBe(before + 1);
    expect(await annotation('lock-deploy')).toEqual(held);
    await t.setTraffic(ctx(2), [{ revision: first, percent: 50 }, { revision: second, percent: 50, tag: 'candidate' }]);
    expect(await annotation('lock-deploy')).toEqual(held);
    expect(await revisionCount('lock-deploy')).toBe(before + 1);
    await lock.release();
    expect(await annotation('lock-deploy')).toBeUndefined();
    expect(await revisionCount('lock-deploy')).toBe(before + 1);
  });
});
