/**
 * The Cloud Run target against the emulator where a rehearsal used to pass and production fail
 * (issue 15): revision names that collide across runs, env deleted on adoption, whole-service
 * writes without an update mask, private-by-default services, the 46-character tag rule, and
 * evidence that only Cloud Logging holds. Real @google-cloud/run and @google-cloud/logging clients.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../src/build/builder.js';
import { cloudRunTargetSchema, type CloudRunTargetInput } from '../../src/config/cloudrun-schema.js';
import type { StageContext } from '../../src/context.js';
import { CloudRunTarget, type CloudRunTargetOptions } from '../../src/deploy/cloudrun/index.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { cloudRunAuthHint } from '../../src/smoke/classify.js';
import { removeDir as removeCliDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { emulatorConfig, getJson, makeTmpDir, plain, removeDir, runClients, writeApp, emulatedTarget } from './emulator-fixtures.js';

const PARENT = 'projects/demo-project/locations/europe-west4';
let tmp: string;
let emu: Emulator;
let apps: { v1: string; v2: string; crash: string };
const targets: CloudRunTarget[] = [];
let api: ReturnType<typeof runClients>;

beforeAll(async () => {
  tmp = await makeTmpDir('cloudrun-fidelity');
  apps = { v1: await writeApp(tmp, 'v1'), v2: await writeApp(tmp, 'v2'), crash: path.join(tmp, 'app-crash') };
  await mkdir(apps.crash, { recursive: true });
  // A second language: the crashing revision is a Python script whose real traceback is the evidence.
  await writeFile(path.join(apps.crash, 'crash.py'), "import os\nprint('starting', flush=True)\nos.environ['DATABASE_URL']\n");
  const base = emulatorConfig(apps.v1);
  emu = await startEmulator({ config: { ...base, images: { ...base.images, 'example.test/pycrash': { command: ['/usr/bin/python3', 'crash.py'], cwd: apps.crash } } } });
  api = runClients(emu);
});

afterEach(async () => {
  await Promise.all(targets.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await api?.close();
  await emu?.close();
  await removeDir(tmp);
});

function target(service: string, extra: Partial<CloudRunTargetInput> = {}, opts: Partial<CloudRunTargetOptions> = {}): CloudRunTarget {
  const t = emulatedTarget(emu, service, extra, opts);
  targets.push(t);
  return t;
}

const ctx = (cycle: number): StageContext => ({ signal: new AbortController().signal, log: silentLogger(), cycle });
const image = (dir: string): BuiltImage => ({ ref: `dir:${dir}`, dir, durationMs: 0, outputTail: [] });

async function deployOk(t: CloudRunTarget, cycle: number, dir: string, tag = 'candidate') {
  const out = await t.deployCandidate(ctx(cycle), image(dir), tag);
  if (!out.ok) throw new Error(`deploy failed: ${out.reason}: ${out.message}`);
  return out.revision;
}

async function revisionNames(service: string): Promise<string[]> {
  const [revs] = await api.revisions.listRevisions({ parent: `${PARENT}/services/${service}` }, { retry: null, timeout: 5000 });
  return revs.map((r) => (r.name ?? '').split('/').pop() as string);
}

async function envOf(service: string): Promise<Array<{ name?: string | null; value?: string | null }>> {
  const [svc] = await api.services.getService({ name: `${PARENT}/services/${service}` }, { retry: null, timeout: 5000 });
  return (plain(svc).template?.containers?.[0]?.env ?? []).map((e) => ({ name: e.name, value: e.value }));
}

describe('revision names', () => {
  it('differ between two runs that both start at cycle 1 with the same image, and both deploys work', async () => {
    const a = await deployOk(target('twice'), 1, apps.v1);
    // A fresh CI checkout (or a second reports folder): cycle 1 again, same image and config.
    const b = await deployOk(target('twice'), 1, apps.v1);
    expect(b.name).not.toBe(a.name);
    expect(a.name).toMatch(/^twice-c1-[0-9a-z]{8}$/);
    expect(b.name).toMatch(/^twice-c1-[0-9a-z]{8}$/);
    expect((await getJson(b.url)).revision).toBe(b.name);
    expect(await revisionNames('twice')).toEqual([b.name, a.name]);
  });

  it('stay within 63 characters for the longest service name a tag still fits', async () => {
    const id = `s${'x'.repeat(42)}9`; // 44 characters: with the 2-character tag, 46
    const rev = await deployOk(target(id, {}, { runId: 'run-a' }), 123456789, apps.v1, 'c1');
    expect(rev.name.length).toBeLessThanOrEqual(63);
    expect(rev.name.startsWith(`${id}-`)).toBe(true);
  });

  it('are adopted, not asked for again, when the same run deploys the same revision once more', async () => {
    const first = await deployOk(target('adopt', {}, { runId: 'run-1' }), 1, apps.v1);
    // The same run after a restart (say, its answer was lost): same name; Cloud Run would 409 a new template under it.
    await deployOk(target('adopt', {}, { runId: 'run-2' }), 2, apps.v2);
    const again = target('adopt', {}, { runId: 'run-1' });
    const rev = await deployOk(again, 1, apps.v1);
    expect(rev.name).toBe(first.name);
    expect(again.deployInfo(rev.name)?.adopted).toBe(true);
    expect(await revisionNames('adopt')).toHaveLength(2);
    expect((await getJson(rev.url)).version).toBe('v1');
  });
});

describe('environment of a service deployed by other means', () => {
  async function createWithDatabaseUrl(id: string): Promise<void> {
    const [op] = await api.services.createService(
      {
        parent: PARENT,
        serviceId: id,
        service: { template: { containers: [{ image: `dir:${apps.v1}`, env: [{ name: 'DATABASE_URL', value: 'postgres://db' }, { name: 'GREETING', value: 'old' }] }] } },
      },
      { retry: null, timeout: 5000 },
    );
    await op.promise();
  }

  it('is merged by default: variables set with gcloud stay, the config overrides its own, and the target says which came from where', async () => {
    await createWithDatabaseUrl('merge-env');
    const t = target('merge-env', { env: { GREETING: 'hello' } });
    const rev = await deployOk(t, 1, apps.v2);
    expect(await envOf('merge-env')).toEqual([
      { name: 'DATABASE_URL', value: 'postgres://db' },
      { name: 'GREETING', value: 'hello' },
    ]);
    expect(t.deployInfo(rev.name)?.envSources).toEqual({ DATABASE_URL: 'service', GREETING: 'config' });
  });

  it('is exactly the config with envStrategy: replace', async () => {
    await createWithDatabaseUrl('replace-env');
    const t = target('replace-env', { env: { GREETING: 'hello' }, envStrategy: 'replace' });
    const rev = await deployOk(t, 1, apps.v2);
    expect(await envOf('replace-env')).toEqual([{ name: 'GREETING', value: 'hello' }]);
    expect(t.deployInfo(rev.name)?.envSources).toEqual({ GREETING: 'config' });
  });
});

describe('whole-service writes', () => {
  it('send update_mask naming only what they change: traffic for a split, annotations for the lock, template and traffic for a deploy', async () => {
    const spy = runClients(emu);
    const sent: Array<{ paths: string[]; fields: string[] }> = [];
    const inner = spy.services.updateService.bind(spy.services);
    spy.services.updateService = ((req: Parameters<typeof inner>[0], o: Parameters<typeof inner>[1]) => {
      sent.push({ paths: [...(req?.updateMask?.paths ?? [])], fields: Object.keys(req?.service ?? {}).filter((k) => k !== 'name' && k !== 'etag').sort() });
      return inner(req, o);
    }) as typeof inner;
    try {
      const t = target('masks', {}, { clients: spy });
      const first = await deployOk(t, 1, apps.v1); // creates: no update
      const second = await deployOk(t, 2, apps.v2);
      await t.setTraffic(ctx(2), [{ revision: second.name, percent: 100 }, { revision: first.name, percent: 0, tag: 'prev' }]);
      const lock = await t.acquireLock(ctx(2), { runId: 'r', host: 'h', pid: 1, startedAt: 'now', command: 'run' }, 60_000);
      await lock.release();
      expect(sent).toEqual([
        { paths: ['template', 'traffic'], fields: ['template', 'traffic'] },
        { paths: ['traffic'], fields: ['traffic'] },
        { paths: ['annotations'], fields: ['annotations'] },
        { paths: ['annotations'], fields: ['annotations'] },
      ]);
      expect(await revisionNames('masks')).toEqual([second.name, first.name]);
    } finally {
      await spy.close();
    }
  });
});

describe('access', () => {
  it('leaves a new service private (403 to a caller without a token); auth.idToken makes smoke requests carry one', async () => {
    const t = target('private-svc', { auth: { idToken: true } });
    const rev = await deployOk(t, 1, apps.v1);
    const refused = await fetch(rev.url, { signal: AbortSignal.timeout(5000) });
    expect(refused.status).toBe(403);
    // What a smoke check would be told: the fields to set and the role needed.
    const hint = cloudRunAuthHint(refused.status, rev.url, await refused.text());
    expect(hint).toContain('target.access: public');
    expect(hint).toContain('target.auth.idToken: true');
    expect(hint).toContain('roles/run.invoker');
    expect(cloudRunAuthHint(403, 'https://shop-abc123-ew.a.run.app/api')).toBe(hint);
    expect(cloudRunAuthHint(404, 'https://shop-abc123-ew.a.run.app/api')).toBeUndefined();
    expect(cloudRunAuthHint(403, 'https://example.com/api', 'Forbidden')).toBeUndefined();
    const headers = await t.smokeHeaders(rev.url);
    expect(headers.authorization).toMatch(/^Bearer \S+/);
    expect((await getJson(rev.url, headers)).revision).toBe(rev.name);
  });

  it('makes the service public with access: public, through invokerIamDisabled by default', async () => {
    const t = target('public-flag', { access: 'public' });
    const rev = await deployOk(t, 1, apps.v1);
    expect((await getJson(rev.url, {})).revision).toBe(rev.name);
    const [svc] = await api.services.getService({ name: `${PARENT}/services/public-flag` }, { retry: null, timeout: 5000 });
    expect(svc.invokerIamDisabled).toBe(true);
  });

  it('binds allUsers to roles/run.invoker with publicVia: iam-policy, and access: private takes it away again', async () => {
    const rev = await deployOk(target('public-iam', { access: 'public', publicVia: 'iam-policy' }), 1, apps.v1);
    expect((await getJson(rev.url, {})).revision).toBe(rev.name);
    const [policy] = await api.services.getIamPolicy({ resource: `${PARENT}/services/public-iam` }, { retry: null, timeout: 5000 });
    expect(policy.bindings).toEqual([expect.objectContaining({ role: 'roles/run.invoker', members: ['allUsers'] })]);

    const next = await deployOk(target('public-iam', { access: 'private' }), 2, apps.v2);
    expect((await fetch(next.url, { signal: AbortSignal.timeout(5000) })).status).toBe(403);
    const [after] = await api.services.getIamPolicy({ resource: `${PARENT}/services/public-iam` }, { retry: null, timeout: 5000 });
    expect(after.bindings ?? []).toEqual([]);
  });
});

describe('evidence from Cloud Logging', () => {
  it('gives a revision that does not start its output and Cloud Run\'s own lines as the log tail, and the Logs URL in the message', async () => {
    const t = target('crashy', { access: 'public' });
    await deployOk(t, 1, apps.v1);
    const out = await t.deployCandidate(ctx(2), { ref: 'example.test/pycrash:1', durationMs: 0, outputTail: [] }, 'candidate');
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.message).toContain('Logs URL: https://console.cloud.google.com/logs/viewer?project=demo-project&resource=cloud_run_revision/service_name/crashy/revision_name/');
    expect(out.message).not.toContain('KeyError');
    expect(out.logTail[0]).toBe('starting');
    expect(out.logTail[1]).toBe('Traceback (most recent call last):');
    expect(out.logTail.slice(-3)).toEqual([
      "KeyError: 'DATABASE_URL'",
      '[WARNING] Container called exit(1).',
      '[ERROR] Default STARTUP TCP probe failed 1 time consecutively for container "crashy" on port 8080. The instance was not started.',
    ]);
    // logs() reads the same entries for a revision of this run, cut to the newest lines asked for.
    expect(await t.logs(out.revisionName as string, 2)).toEqual(out.logTail.slice(-2));
  });
});

describe('validate', () => {
  it('refuses the CPU / memory / concurrency combinations Cloud Run refuses, naming the field', () => {
    const parse = (extra: Partial<CloudRunTargetInput>) => cloudRunTargetSchema.safeParse({ kind: 'cloudrun', project: 'demo-project', region: 'europe-west4', ...extra });
    const issues = (extra: Partial<CloudRunTargetInput>) => {
      const r = parse(extra);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    expect(issues({ cpu: '6', memory: '2Gi' })).toEqual(['memory: memory 2Gi: with 6 CPUs Cloud Run needs 4 GiB to 24 GiB']);
    expect(issues({ cpu: '500m' })).toEqual(["concurrency: below 1 CPU, Cloud Run needs concurrency: 1 (it is 80, Cloud Run's default)"]);
    expect(issues({ cpu: '0.25', memory: '768Mi', concurrency: 1 })).toEqual(['memory: memory 768Mi (more than 512 MiB) needs at least 0.5 CPU (cpu is 0.25)']);
    expect(issues({ cpu: '1', memory: '8Gi' })).toEqual(['memory: memory 8Gi: with 1 CPU Cloud Run needs 128 MiB to 4 GiB']);
    expect(issues({ cpu: '2', memory: '8Gi' })).toEqual([]);
    expect(issues({ cpu: '0.5', memory: '1Gi', concurrency: 1 })).toEqual([]);
  });

  it('refuses a Cloud Run service name and traffic tag over 46 characters together, with the numbers, and a tag ending with a dash', async () => {
    const dir = await scratchDir('cloudrun-validate');
    try {
      const config = (service: string, tag: string) => `apiVersion: deploy-loop/v1
service: ${service}
build: { kind: command, command: [node, --version] }
target: { kind: cloudrun, project: demo-project, region: europe-west4 }
traffic: { tag: ${tag} }
smoke:
  checks:
    - { name: home, kind: http, path: / }
`;
      const service = 'a-service-name-of-thirty-nine-characters'; // 40
      await writeFiles(dir, { 'long.yaml': config(service, 'candidate'), 'dash.yaml': config('shop', 'cand-'), 'ok.yaml': config(service, 'cand') });
      const long = await runCli(['validate', '-c', 'long.yaml'], { cwd: dir });
      expect(long.code).toBe(2);
      expect(long.stderr).toContain('traffic.tag');
      expect(long.stderr).toContain(`traffic tag "candidate" (9 characters) and service name "${service}" (40) together are 49 characters; Cloud Run allows at most 46`);
      const dash = await runCli(['validate', '-c', 'dash.yaml'], { cwd: dir });
      expect(dash.code).toBe(2);
      expect(dash.stderr).toContain('ending with a letter or digit');
      const ok = await runCli(['validate', '-c', 'ok.yaml'], { cwd: dir });
      expect(ok.code, ok.stderr).toBe(0);
    } finally {
      await removeCliDir(dir);
    }
  });
});
