/**
 * Whole cycles with `target.kind: cloudrun`: the loop (runLoop, the command builder, the smoke
 * suite, the gate, the report) drives the real @google-cloud/run client against the in-process
 * emulator, whose revisions are real processes. Then the real CLI, against an emulator the test
 * started: exit 1 on the fault, exit 0 after the fix.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import type { StageContext } from '../../src/context.js';
import { createTarget } from '../../src/deploy/index.js';
import type { Target, TrafficEntry } from '../../src/deploy/target.js';
import type { Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { runLoop } from '../../src/loop/run.js';
import type { CycleRecord } from '../../src/model/record.js';
import { removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { tinyConfigInput, writeTinyProject, type Mode, type TinyOptions } from '../helpers/tiny-service.js';
import { configYaml, type CloudRunTargetInput, type TinyConfig } from '../helpers/config-fixture.js';
import { getJson, runClients, startTinyServiceEmulator } from './emulator-fixtures.js';

let emu: Emulator;
const dirs: string[] = [];

beforeAll(async () => {
  emu = await startTinyServiceEmulator(50);
});

afterAll(async () => {
  await emu?.close();
  await Promise.all(dirs.splice(0).map(removeDir));
});

/** The tiny service's config with the local target swapped for Cloud Run through the emulator. */
function cloudRunConfig(
  service: string,
  opts: TinyOptions = {},
  endpoint: CloudRunTargetInput['endpoint'] = { host: '127.0.0.1', port: emu.port, insecure: true },
): TinyConfig {
  const target: CloudRunTargetInput = {
    kind: 'cloudrun',
    project: 'demo-project',
    region: 'europe-west4',
    env: { GREETING: 'hello' },
    // Private, as Cloud Run creates services: smoke requests carry a bearer token.
    auth: { idToken: true },
    endpoint,
    operationTimeoutMs: 20000,
  };
  return { ...tinyConfigInput(opts), service, target };
}

async function project(service: string, mode: Mode, opts: TinyOptions = {}): Promise<string> {
  const dir = await scratchDir('cloudrun-loop');
  dirs.push(dir);
  await writeTinyProject(dir, mode, configYaml(cloudRunConfig(service, opts)));
  return dir;
}

const setMode = (dir: string, mode: Mode) => writeFile(join(dir, 'app', 'mode.txt'), mode);
const ctx = (): StageContext => ({ signal: new AbortController().signal, log: silentLogger(), cycle: 0 });

/** One whole cycle through runLoop (no fix), with the target built from the config unless given. */
async function cycle(dir: string, target?: Target): Promise<{ rec: CycleRecord; markdown: string }> {
  const loaded = await loadConfig(join(dir, 'loop.config.yaml'));
  const out = await runLoop({ loaded, log: silentLogger(), signal: new AbortController().signal, maxCycles: 1, noFix: true, ...(target ? { target } : {}) });
  const rec = out.cycles[0] as CycleRecord;
  return { rec, markdown: await readFile((out.published[0] as { markdown: string }).markdown, 'utf8') };
}

/** Wraps the configured target and records, at the moment of promotion, what the API and the URLs said. */
async function spyOnPromotion(dir: string) {
  const loaded = await loadConfig(join(dir, 'loop.config.yaml'));
  const inner = createTarget(loaded.config.target, { service: loaded.config.service, log: silentLogger(), baseDir: loaded.baseDir });
  const seen: { split?: TrafficEntry[]; trafficBefore?: TrafficEntry[]; serviceAnswer?: string } = {};
  const target: Target = {
    kind: inner.kind,
    deployCandidate: (c, image, tag) => inner.deployCandidate(c, image, tag),
    currentTraffic: (c) => inner.currentTraffic(c),
    serviceUrl: () => inner.serviceUrl(),
    smokeHeaders: (url) => inner.smokeHeaders?.(url) ?? Promise.resolve({}),
    close: () => inner.close(),
    async setTraffic(c, split) {
      seen.split = split;
      seen.trafficBefore = await inner.currentTraffic(c);
      seen.serviceAnswer = (await getJson(`${inner.serviceUrl()}/healthz`)).revision;
      return inner.setTraffic(c, split);
    },
  };
  return { target, seen };
}

describe('the loop with target.kind: cloudrun against the emulator', () => {
  let dir: string;
  const revs: string[] = [];

  it('creates the service on the first deploy and promotes the first revision', async () => {
    dir = await project('shop', 'ok');
    const { rec } = await cycle(dir);
    expect(rec.verdict).toBe('passed');
    expect(rec.target).toBe('cloudrun');
    expect(rec.deploy.revision).toMatch(/^shop-c1-[0-9a-z]{8}$/);
    revs.push(rec.deploy.revision as string);
    expect(rec.traffic.before).toEqual([]);
    expect(rec.traffic.after).toEqual([{ revision: revs[0], percent: 100 }]);

    const api = runClients(emu);
    try {
      const [svc] = await api.services.getService({ name: 'projects/demo-project/locations/europe-west4/services/shop' }, { retry: null, timeout: 5000 });
      expect(svc.latestReadyRevision).toBe(`projects/demo-project/locations/europe-west4/services/shop/revisions/${revs[0]}`);
      // The record keeps paths relative to the config's folder; Cloud Run got the absolute one.
      expect(svc.template?.containers?.[0]?.image).toBe(`dir:${resolve(dir, (rec.build.image as string).replace(/^dir:/, ''))}`);
      expect(svc.template?.containers?.[0]?.env).toEqual([expect.objectContaining({ name: 'GREETING', value: 'hello' })]);
      expect(rec.serviceUrl).toBe(svc.uri);
    } finally {
      await api.close();
    }
    expect((await getJson(`${rec.serviceUrl}/healthz`)).revision).toBe(revs[0]);
  });

  it('a failing gate leaves the candidate tagged at 0% and the service URL on the previous revision', async () => {
    await setMode(dir, 'ws1011');
    const { rec, markdown } = await cycle(dir);
    expect(rec.verdict).toBe('gate-failed');
    expect(rec.deploy.revision).toMatch(/^shop-c2-/);
    const candidate = rec.deploy.revision as string;
    expect(rec.traffic.action).toBe('kept');
    expect(rec.traffic.after).toEqual([
      { revision: revs[0], percent: 100 },
      { revision: candidate, percent: 0, tag: 'candidate' },
    ]);
    // The smoke suite ran against the tag URL: only the candidate closes with 1011; the service URL
    // still answers from the first revision.
    expect(rec.deploy.tagUrl).not.toBe(rec.serviceUrl);
    expect((await getJson(`${rec.deploy.tagUrl}/healthz`)).revision).toBe(candidate);
    expect(rec.smoke.results.find((r) => r.name === 'agent')?.failure?.class).toBe('ws-1011-internal-error');
    for (let i = 0; i < 3; i++) expect((await getJson(`${rec.serviceUrl}/healthz`)).revision).toBe(revs[0]);
    expect(markdown).toContain('1011');
  });

  it('a passing candidate is smoked at 0% behind its tag, then promotion moves 100% to it', async () => {
    await setMode(dir, 'ok');
    const { target, seen } = await spyOnPromotion(dir);
    const { rec } = await cycle(dir, target);
    expect(rec.verdict).toBe('passed');
    const candidate = rec.deploy.revision as string;
    expect(candidate).toMatch(/^shop-c3-/);
    // At the moment of promotion: a new tagged revision at 0%, the old one still serving.
    expect(seen.trafficBefore).toEqual([
      { revision: revs[0], percent: 100 },
      { revision: candidate, percent: 0, tag: 'candidate' },
    ]);
    expect(seen.serviceAnswer).toBe(revs[0]);
    expect(seen.split).toEqual([{ revision: candidate, percent: 100 }]);
    expect(rec.traffic.action).toBe('promoted');
    expect(rec.traffic.after).toEqual([{ revision: candidate, percent: 100 }]);
    for (let i = 0; i < 3; i++) expect((await getJson(`${rec.serviceUrl}/healthz`)).revision).toBe(candidate);
    revs.push(candidate);
  });

  it('a revision that cannot start is a P0 deploy issue with its condition message, and traffic stays', async () => {
    await setMode(dir, 'crash');
    const { rec, markdown } = await cycle(dir);
    expect(rec.verdict).toBe('deploy-failed');
    expect(rec.deploy.status).toBe('failed');
    expect(rec.deploy.revision).toMatch(/^shop-c4-/);
    expect(rec.deploy.reason).toBe('HealthCheckContainerError');
    expect(rec.deploy.message).toContain('failed to start and listen on the port');
    // The output is not folded into Cloud Run's condition: it comes from Cloud Logging.
    expect(rec.deploy.message).toContain('Logs URL: https://console.cloud.google.com/logs/viewer?project=demo-project');
    expect(rec.deploy.logTail).toContain('boom: config file unreadable');
    expect(rec.smoke.results).toEqual([
      expect.objectContaining({ name: 'deploy', priority: 'P0', status: 'fail', failure: expect.objectContaining({ class: 'deploy-failure' }) }),
    ]);
    expect(rec.smoke.results[0]?.failure?.message).toContain('HealthCheckContainerError');
    expect(markdown).toContain('failed to start and listen on the port');
    expect(markdown).toContain('HealthCheckContainerError');
    const serving = rec.traffic.after.filter((e) => e.percent > 0);
    expect(serving).toEqual([{ revision: revs[1], percent: 100 }]);
    expect((await getJson(`${rec.serviceUrl}/healthz`)).revision).toBe(revs[1]);
  });

  it('retries UNAVAILABLE from the API and the cycle still passes', async () => {
    await setMode(dir, 'ok');
    emu.faults.failNextCalls(2);
    emu.faults.failNextCalls(1, { methods: ['UpdateService'] });
    const { rec } = await cycle(dir);
    expect(emu.faults.state().calls).toEqual([]);
    expect(rec.verdict).toBe('passed');
    expect(rec.deploy.revision).toMatch(/^shop-c5-/);
    expect(rec.traffic.after).toEqual([{ revision: rec.deploy.revision, percent: 100 }]);
    expect((await getJson(`${rec.serviceUrl}/healthz`)).revision).toBe(rec.deploy.revision);
    // The revision that could not start is still listed, as on Cloud Run, but never served.
    const api = runClients(emu);
    try {
      const [list] = await api.revisions.listRevisions({ parent: 'projects/demo-project/locations/europe-west4/services/shop' }, { retry: null, timeout: 5000 });
      expect(list.map((r) => (r.name ?? '').split('/').pop())).toHaveLength(5);
    } finally {
      await api.close();
    }
  });

  it('reads the traffic the loop left, from a fresh client', async () => {
    const loaded = await loadConfig(join(dir, 'loop.config.yaml'));
    const t = createTarget(loaded.config.target, { service: loaded.config.service, log: silentLogger(), baseDir: loaded.baseDir });
    try {
      const split = await t.currentTraffic(ctx());
      expect(split).toHaveLength(1);
      expect(split[0]).toMatchObject({ percent: 100, revision: expect.stringMatching(/^shop-c5-/) });
    } finally {
      await t.close();
    }
  });
});

describe('two reports folders deploying one service', () => {
  it('both work: each run names its revisions apart, though both start at cycle 1 with the same image', async () => {
    const a = await project('shared', 'ok');
    const b = await project('shared', 'ok');
    const first = await cycle(a);
    const second = await cycle(b);
    expect(first.rec.verdict).toBe('passed');
    expect(second.rec.verdict).toBe('passed');
    expect(first.rec.cycle).toBe(1);
    expect(second.rec.cycle).toBe(1);
    expect(second.rec.deploy.revision).not.toBe(first.rec.deploy.revision);
    expect(second.rec.traffic.before).toEqual([{ revision: first.rec.deploy.revision, percent: 100 }]);
    expect(second.rec.traffic.after).toEqual([{ revision: second.rec.deploy.revision, percent: 100 }]);
    expect((await getJson(`${second.rec.serviceUrl}/healthz`)).revision).toBe(second.rec.deploy.revision);
  });
});

describe('an embedded emulator (target.endpoint.emulator)', () => {
  it('is started by the loop, runs the cycle, and is stopped with every revision when the loop ends', async () => {
    const dir = await project('embedded', 'ok');
    const config = cloudRunConfig('embedded', {}, { insecure: true, emulator: { config: 'emulator.yaml' } });
    await writeFile(join(dir, 'loop.config.yaml'), configYaml(config));
    await writeFile(
      join(dir, 'emulator.yaml'),
      `operationDelayMs: 50\nadminPort: false\nreadiness: { path: /healthz, intervalMs: 50 }\nimages:\n  "dir:": { command: [${JSON.stringify(process.execPath)}, server.mjs] }\n`,
    );
    const { rec } = await cycle(dir);
    expect(rec.verdict).toBe('passed');
    expect(rec.deploy.revision).toMatch(/^embedded-c1-/);
    expect(rec.traffic.after).toEqual([{ revision: rec.deploy.revision, percent: 100 }]);
    // Not the test's emulator: that one never heard of this service.
    const api = runClients(emu);
    try {
      const [list] = await api.services.listServices({ parent: 'projects/demo-project/locations/europe-west4' }, { retry: null, timeout: 5000 });
      expect(list.map((x) => x.name?.split('/').pop())).not.toContain('embedded');
    } finally {
      await api.close();
    }
    // runLoop closed the target: the embedded emulator and the revision behind the URL are gone.
    await expect(getJson(`${rec.serviceUrl}/healthz`)).rejects.toThrow();
  });

  it('rejects an endpoint with neither a port nor an emulator', async () => {
    const dir = await project('noport', 'ok');
    await writeFile(join(dir, 'loop.config.yaml'), configYaml(cloudRunConfig('noport', {}, { insecure: true })));
    await expect(loadConfig(join(dir, 'loop.config.yaml'))).rejects.toThrow(/target\.endpoint\.port/);
  });
});

describe('deploy-loop CLI with target.kind: cloudrun', () => {
  it('exits 1 on the 1011 fault, then 0 once the fix ran, against an emulator it did not start', async () => {
    const dir = await project('chat', 'ws1011', { fix: true, maxCycles: 2 });
    const failed = await runCli(['cycle'], { cwd: dir });
    expect(failed.stderr).not.toContain('internal error');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/cycle 1: gate-failed/);

    // `run` starts at cycle 2 (still faulty), runs the fix, and cycle 3 passes.
    const fixed = await runCli(['run'], { cwd: dir });
    expect(fixed.code).toBe(0);
    expect(fixed.stdout).toMatch(/cycle 2: gate-failed/);
    expect(fixed.stdout).toMatch(/cycle 3: passed/);
    const rec3 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-003.json'), 'utf8')) as CycleRecord;
    expect(rec3.target).toBe('cloudrun');
    expect(rec3.traffic.action).toBe('promoted');
    expect(rec3.traffic.after).toEqual([{ revision: rec3.deploy.revision, percent: 100 }]);
    // The emulator outlives the CLI: the promoted revision answers on the service URL.
    expect((await getJson(`${rec3.serviceUrl}/healthz`)).revision).toBe(rec3.deploy.revision);
  });

  it('after a run died mid-cycle, records the cycle as interrupted and compares the live split with the one recorded before it', async () => {
    const dir = await project('crashed', 'ok');
    const first = await runCli(['cycle'], { cwd: dir });
    expect(first.code).toBe(0);
    const rec1 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8')) as CycleRecord;
    // A journal entry as a killed run leaves it, claiming a split that is not the live one.
    const entry = (cycle: number, trafficBefore: TrafficEntry[]) =>
      writeFile(
        join(dir, 'reports', 'history', `cycle-${String(cycle).padStart(3, '0')}.started.json`),
        JSON.stringify({ cycle, runId: 'dead-run', pid: 999_999, startedAt: '2026-11-24T00:00:00.000Z', service: 'crashed', target: 'cloudrun', trafficBefore }),
      );
    await entry(2, [{ revision: 'crashed-c9-gone', percent: 100 }]);
    const second = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
    expect(second.code).toBe(0);
    expect(second.stderr).toContain('traffic differs from the split recorded before unfinished cycle 2');
    const rec2 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-002.json'), 'utf8')) as CycleRecord;
    expect(rec2.verdict).toBe('interrupted');
    expect(second.stdout).toMatch(/cycle 3: passed/);

    const rec3 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-003.json'), 'utf8')) as CycleRecord;
    await entry(4, rec3.traffic.after);
    const third = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
    expect(third.code).toBe(0);
    expect(third.stderr).toContain('traffic matches the split recorded before unfinished cycle 4');
    expect(rec1.traffic.after).toEqual([{ revision: rec1.deploy.revision, percent: 100 }]);
  });
});

describe('traffic.afterPromote through the loop', () => {
  it('latest: a promoted cycle leaves Cloud Run serving LATEST at 100%, and the record says so', async () => {
    const dir = await scratchDir('cloudrun-loop');
    dirs.push(dir);
    const base = cloudRunConfig('follow');
    await writeTinyProject(dir, 'ok', configYaml({ ...base, traffic: { afterPromote: 'latest' } }));
    const { rec, markdown } = await cycle(dir);
    expect(rec.verdict).toBe('passed');
    expect(rec.traffic.action).toBe('promoted');
    expect(rec.traffic.note).toMatch(/Traffic follows the latest revision \(traffic\.afterPromote: latest\)/);
    expect(markdown).toMatch(/traffic\.afterPromote: latest/);
    const api = runClients(emu);
    try {
      const [svc] = await api.services.getService({ name: 'projects/demo-project/locations/europe-west4/services/follow' }, { retry: null, timeout: 5000 });
      expect(svc.traffic?.map((t) => [String(t.type), t.revision || '', t.percent])).toEqual([['TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', '', 100]]);
    } finally {
      await api.close();
    }
  });

  it('pinned (the default): the promoted revision is named in the split', async () => {
    const dir = await project('pinned', 'ok');
    const { rec } = await cycle(dir);
    expect(rec.verdict).toBe('passed');
    const api = runClients(emu);
    try {
      const [svc] = await api.services.getService({ name: 'projects/demo-project/locations/europe-west4/services/pinned' }, { retry: null, timeout: 5000 });
      expect(svc.traffic?.filter((t) => (t.percent ?? 0) > 0).map((t) => [String(t.type), t.revision, t.percent])).toEqual([['TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', rec.deploy.revision, 100]]);
    } finally {
      await api.close();
    }
  });
});

describe('validate on a Cloud Run config with WebSocket checks', () => {
  it('warns on stderr that the default 300 s request timeout cuts WebSocket streams, naming the field, and still exits 0', async () => {
    const dir = await scratchDir('cloudrun-loop');
    dirs.push(dir);
    const base = cloudRunConfig('sockets');
    const checks = [...(base.smoke?.checks ?? []), { name: 'ws', kind: 'websocket', path: '/ws', priority: 'P1' }];
    await writeTinyProject(dir, 'ok', configYaml({ ...base, smoke: { ...base.smoke, checks } } as TinyConfig));
    const out = await runCli(['validate'], { cwd: dir });
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/^warning: target\.timeoutSeconds is unset \(Cloud Run's default, 300 s\) and the config has WebSocket checks \(agent, ws\)/m);
    const raised = { ...base, target: { ...base.target, timeoutSeconds: 3600 }, smoke: { ...base.smoke, checks } } as TinyConfig;
    await writeFile(join(dir, 'loop.config.yaml'), configYaml(raised));
    const again = await runCli(['validate'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toMatch(/warning:/);
  });
});
