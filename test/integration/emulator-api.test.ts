/**
 * The Cloud Run Admin API emulator driven by the real @google-cloud/run client over gRPC, with
 * revisions running as real processes behind the emulator's traffic proxy.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { protos } from '@google-cloud/run';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import {
  NO_RETRY,
  codeOf,
  emulatorConfig,
  getJson,
  makeTmpDir,
  plain,
  removeDir,
  revisionLogs,
  runClients,
  writeApp,
  wsEcho,
} from './emulator-fixtures.js';

type IService = protos.google.cloud.run.v2.IService;

const PARENT = 'projects/demo/locations/us-central1';
const IMAGE = 'example.test/app:latest';

let tmp: string;
let emu: Emulator;
let api: ReturnType<typeof runClients>;

beforeAll(async () => {
  tmp = await makeTmpDir('emulator-api');
  const appDir = await writeApp(tmp, 'v1');
  emu = await startEmulator({ config: emulatorConfig(appDir) });
  api = runClients(emu);
});

afterAll(async () => {
  await api?.close();
  await emu?.close();
  await removeDir(tmp);
});

afterEach(() => emu?.faults.clear());

function template(version: string, extra: protos.google.cloud.run.v2.IRevisionTemplate = {}) {
  return { containers: [{ image: IMAGE, env: [{ name: 'APP_VERSION', value: version }] }], ...extra };
}

async function create(id: string, service: IService = { template: template('v1') }): Promise<IService> {
  const [op] = await api.services.createService({ parent: PARENT, serviceId: id, service }, NO_RETRY);
  const [result] = await op.promise();
  return plain(result);
}

async function update(service: IService): Promise<IService> {
  const [op] = await api.services.updateService({ service }, NO_RETRY);
  const [result] = await op.promise();
  return plain(result);
}

async function get(id: string): Promise<IService> {
  const [svc] = await api.services.getService({ name: `${PARENT}/services/${id}` }, NO_RETRY);
  return plain(svc);
}

const short = (name: string | null | undefined) => (name ?? '').split('/').pop() ?? '';

describe('services', () => {
  it('creates a service through an operation, runs its first revision and serves it at the service URI', async () => {
    const [op] = await api.services.createService({ parent: PARENT, serviceId: 'alpha', service: { template: template('v1') } }, NO_RETRY);
    expect(op.name).toMatch(/^projects\/demo\/locations\/us-central1\/operations\//);
    const [svc] = await op.promise();
    const s = plain(svc) as IService;
    expect(s.name).toBe(`${PARENT}/services/alpha`);
    expect(short(s.latestCreatedRevision)).toMatch(/^alpha-00001-[a-z0-9]{3}$/);
    expect(s.latestReadyRevision).toBe(s.latestCreatedRevision);
    expect(s.terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
    expect(s.conditions?.map((c) => [c.type, c.state])).toEqual([
      ['RoutesReady', 'CONDITION_SUCCEEDED'],
      ['ConfigurationsReady', 'CONDITION_SUCCEEDED'],
    ]);
    expect(s.trafficStatuses).toEqual([
      { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', revision: short(s.latestReadyRevision), percent: 100 },
    ]);
    const answer = await getJson(s.uri as string);
    expect(answer).toMatchObject({ version: 'v1', revision: short(s.latestReadyRevision), service: 'alpha' });
    expect(await wsEcho(s.uri as string, 'hi')).toBe('v1:hi');

    const [list] = await api.services.listServices({ parent: PARENT }, NO_RETRY);
    expect(list.map((x) => x.name)).toContain(`${PARENT}/services/alpha`);
    expect((await codeOf(create('alpha'))).code).toBe(6); // ALREADY_EXISTS
  });

  it('creates a revision per template change, named SERVICE-NNNNN-xyz or SERVICE-SUFFIX, and none for an unchanged template', async () => {
    const first = await create('bravo');
    const second = await update({ ...first, template: template('v2') });
    expect(short(second.latestCreatedRevision)).toMatch(/^bravo-00002-[a-z0-9]{3}$/);
    expect((await getJson(second.uri as string)).version).toBe('v2');

    const named = await update({ ...second, template: template('v3', { revision: 'bravo-c3-abc' }) });
    expect(short(named.latestCreatedRevision)).toBe('bravo-c3-abc');
    expect(Number(named.generation)).toBe(3);

    // The same template again (a retried deploy) is not a change: no new revision.
    const again = await update({ ...named, template: template('v3', { revision: 'bravo-c3-abc' }) });
    expect(short(again.latestCreatedRevision)).toBe('bravo-c3-abc');
    const [revs] = await api.revisions.listRevisions({ parent: `${PARENT}/services/bravo` }, NO_RETRY);
    expect(revs.map((r) => short(r.name))).toEqual(['bravo-c3-abc', short(second.latestCreatedRevision), short(first.latestCreatedRevision)]);

    // A new template under a name already taken is refused.
    const taken = await codeOf(update({ ...again, template: template('v4', { revision: 'bravo-c3-abc' }) }));
    expect(taken.code).toBe(6);
    expect(taken.message).toContain("Revision named 'bravo-c3-abc'");
    const badPrefix = await codeOf(update({ ...again, template: template('v4', { revision: 'other-v4' }) }));
    expect(badPrefix.code).toBe(3);
  });

  it('routes a tagged 0% revision at its tag URI while the service URI keeps serving the previous one', async () => {
    const first = await create('charlie');
    const old = short(first.latestReadyRevision);
    const next = await update({
      ...first,
      template: template('v2', { revision: 'charlie-v2' }),
      traffic: [
        { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: old, percent: 100 },
        { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'charlie-v2', percent: 0, tag: 'candidate' },
      ],
    });
    const tagStatus = next.trafficStatuses?.find((t) => t.tag === 'candidate');
    expect(tagStatus).toMatchObject({ revision: 'charlie-v2', tag: 'candidate' });
    expect(tagStatus?.uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await getJson(tagStatus?.uri as string)).revision).toBe('charlie-v2');
    expect(await wsEcho(tagStatus?.uri as string, 'x')).toBe('v2:x');
    for (let i = 0; i < 5; i++) expect((await getJson(next.uri as string)).revision).toBe(old);

    const promoted = await update({ ...next, traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'charlie-v2', percent: 100 }] });
    expect(promoted.trafficStatuses).toEqual([{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'charlie-v2', percent: 100 }]);
    expect((await getJson(promoted.uri as string)).revision).toBe('charlie-v2');
  });

  it('rejects traffic Cloud Run would reject with INVALID_ARGUMENT and a message saying why', async () => {
    const svc = await create('delta');
    const rev = short(svc.latestReadyRevision);
    const REV = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' as const;
    const cases: Array<[string, protos.google.cloud.run.v2.ITrafficTarget[], RegExp]> = [
      ['percents that do not sum to 100', [{ type: REV, revision: rev, percent: 90 }], /sum to 90, want 100/],
      [
        'a tag used twice',
        [
          { type: REV, revision: rev, percent: 100, tag: 'blue' },
          { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST', percent: 0, tag: 'blue' },
        ],
        /Multiple definitions for tag "blue"/,
      ],
    ];
    for (const [what, traffic, message] of cases) {
      const err = await codeOf(update({ ...svc, traffic }));
      expect(err.code, what).toBe(3);
      expect(err.message, what).toMatch(message);
    }
    // Nothing changed.
    expect((await get('delta')).generation).toBe(svc.generation);
  });

  it('accepts traffic to a revision that does not exist, then fails the operation (code 13) and leaves the service not ready, still serving its old split', async () => {
    const svc = await create('delta-missing');
    const rev = short(svc.latestReadyRevision);
    const traffic = [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' as const, revision: 'delta-missing-nope', percent: 100 }];
    // Accepted: the call returns an operation, as on Cloud Run.
    const [op] = await api.services.updateService({ service: { name: svc.name, traffic }, updateMask: { paths: ['traffic'] } }, NO_RETRY);
    expect(op.name).toMatch(/\/operations\//);
    const err = await codeOf(op.promise());
    expect(err.code).toBe(13);
    expect(err.message).toContain("Revision 'delta-missing-nope' does not exist or is deleted. Update all traffic to route to currently available revisions.");
    const after = await get('delta-missing');
    expect(after.reconciling).toBe(false);
    expect(after.terminalCondition).toMatchObject({ type: 'Ready', state: 'CONDITION_FAILED' });
    expect(after.terminalCondition?.message).toContain("Revision 'delta-missing-nope' does not exist");
    expect(after.conditions?.find((c) => c.type === 'RoutesReady')?.state).toBe('CONDITION_FAILED');
    // The spec keeps what was asked; what serves (traffic_statuses, observed_generation) stays as it was.
    expect(after.traffic?.map((t) => t.revision)).toEqual(['delta-missing-nope']);
    expect(after.trafficStatuses?.map((t) => [t.revision, t.percent])).toEqual([[rev, 100]]);
    expect(Number(after.generation)).toBe(Number(svc.generation) + 1);
    expect(after.observedGeneration).toBe(svc.observedGeneration);
    expect(short(after.latestReadyRevision)).toBe(rev);
    expect((await getJson(after.uri as string)).revision).toBe(rev);
    // A create naming a missing revision is accepted too, and its operation fails the same way.
    const [createOp] = await api.services.createService({ parent: PARENT, serviceId: 'delta-missing-new', service: { template: template('v1'), traffic } }, NO_RETRY);
    expect((await codeOf(createOp.promise())).code).toBe(13);
    expect((await get('delta-missing-new')).terminalCondition?.state).toBe('CONDITION_FAILED');
  });

  it('refuses an update carrying a stale etag with ABORTED', async () => {
    const svc = await create('echo');
    const fresh = await update({ ...svc, labels: { team: 'a' } });
    expect(fresh.etag).not.toBe(svc.etag);
    const err = await codeOf(update({ ...svc, labels: { team: 'b' } }));
    expect(err.code).toBe(10);
    expect((await get('echo')).labels).toEqual({ team: 'a' });
  });

  it('reports a revision that never listens as failed, keeps serving the last ready one, and fails the operation', async () => {
    const svc = await create('foxtrot');
    const good = short(svc.latestReadyRevision);
    const bad = { revision: 'foxtrot-crash', containers: [{ image: IMAGE, env: [{ name: 'APP_VERSION', value: 'v2' }, { name: 'CRASH', value: '1' }] }] };
    const err = await codeOf(update({ ...svc, template: bad, traffic: [{ type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: good, percent: 100 }, { type: 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION', revision: 'foxtrot-crash', percent: 0, tag: 'candidate' }] }));
    expect(err.code).toBe(9);
    expect(err.message).toContain("Revision 'foxtrot-crash' is not ready and cannot serve traffic");
    expect(err.message).toContain('failed to start and listen on the port defined provided by the PORT=8080');
    // As on Cloud Run, the condition carries a Logs URL, not the output: that is in Cloud Logging.
    expect(err.message).toMatch(/\nLogs URL: https:\/\/console\.cloud\.google\.com\/logs\/viewer\?project=demo&resource=cloud_run_revision\/service_name\/foxtrot\/revision_name\/foxtrot-crash&/);
    expect(err.message).not.toContain('boom');
    const logs = await revisionLogs(emu, 'demo', 'foxtrot', 'foxtrot-crash');
    expect(logs).toEqual([
      { text: 'boom: crashing on purpose before listening', severity: 'DEFAULT', logName: 'projects/demo/logs/run.googleapis.com%2Fstdout' },
      { text: 'Container called exit(3).', severity: 'WARNING', logName: 'projects/demo/logs/run.googleapis.com%2Fvarlog%2Fsystem' },
      {
        text: 'Default STARTUP TCP probe failed 1 time consecutively for container "foxtrot" on port 8080. The instance was not started.',
        severity: 'ERROR',
        logName: 'projects/demo/logs/run.googleapis.com%2Fvarlog%2Fsystem',
      },
    ]);

    const after = await get('foxtrot');
    expect(short(after.latestCreatedRevision)).toBe('foxtrot-crash');
    expect(short(after.latestReadyRevision)).toBe(good);
    expect(after.terminalCondition?.state).toBe('CONDITION_FAILED');
    expect(after.conditions?.find((c) => c.type === 'ConfigurationsReady')?.state).toBe('CONDITION_FAILED');
    const [rev] = await api.revisions.getRevision({ name: `${PARENT}/services/foxtrot/revisions/foxtrot-crash` }, NO_RETRY);
    const ready = plain(rev).conditions?.find((c) => c.type === 'Ready');
    expect(ready).toMatchObject({ state: 'CONDITION_FAILED', revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR' });
    expect(plain(rev).logUri).toBe(err.message.match(/Logs URL: (\S+)/)?.[1]);
    expect((await getJson(after.uri as string)).revision).toBe(good);
  });

  it('maps an image it has no command for to a CONTAINER_MISSING failure', async () => {
    const err = await codeOf(create('golf', { template: { containers: [{ image: 'nowhere.test/unknown:1' }] } }));
    expect(err.code).toBe(9);
    expect(err.message).toContain("Image 'nowhere.test/unknown:1' not found");
    const [rev] = await api.revisions.listRevisions({ parent: `${PARENT}/services/golf` }, NO_RETRY);
    expect(plain(rev[0])?.conditions?.[0]).toMatchObject({ state: 'CONDITION_FAILED', reason: 'CONTAINER_MISSING' });
  });

  it('passes Secret Manager references from the emulator config into the revision environment', async () => {
    const svc = await create('hotel', {
      template: { containers: [{ image: IMAGE, env: [{ name: 'API_KEY', valueSource: { secretKeyRef: { secret: 'api-key', version: 'latest' } } }] }] },
    });
    expect((await getJson(svc.uri as string)).secret).toBe('top-secret-value');
  });

  it('deletes revisions that serve nothing, refuses those that serve, and deletes services', async () => {
    const first = await create('india');
    const oldRev = short(first.latestReadyRevision);
    await update({ ...first, template: template('v2') });
    const refused = await codeOf(
      api.revisions.deleteRevision({ name: (await get('india')).latestReadyRevision as string }, NO_RETRY),
    );
    expect(refused.code).toBe(9);
    const [delOp] = await api.revisions.deleteRevision({ name: `${PARENT}/services/india/revisions/${oldRev}` }, NO_RETRY);
    await delOp.promise();
    expect((await codeOf(api.revisions.getRevision({ name: `${PARENT}/services/india/revisions/${oldRev}` }, NO_RETRY))).code).toBe(5);

    const uri = first.uri as string;
    const [op] = await api.services.deleteService({ name: `${PARENT}/services/india` }, NO_RETRY);
    await op.promise();
    expect((await codeOf(get('india'))).code).toBe(5);
    await expect(fetch(uri, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  });
});

describe('operations and faults', () => {
  it('keeps a slowed operation pending until its delay has passed', async () => {
    emu.faults.slowOperations(600, 1);
    const [op] = await api.services.createService({ parent: PARENT, serviceId: 'juliet', service: { template: template('v1') } }, NO_RETRY);
    await op.getOperation();
    expect(op.latestResponse.done).toBeFalsy();
    const [done] = await op.promise();
    expect(plain(done).terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
    const again = await api.services.checkCreateServiceProgress(op.name as string);
    expect(again.done).toBe(true);
  });

  it('lists operations of a location and deletes them', async () => {
    const [op] = await api.services.createService({ parent: PARENT, serviceId: 'mike', service: { template: template('v1') } }, NO_RETRY);
    await op.promise();
    const names: string[] = [];
    for await (const o of api.services.listOperationsAsync({ name: PARENT, filter: '', pageSize: 2, pageToken: '' } as protos.google.longrunning.ListOperationsRequest)) {
      names.push(o.name ?? '');
    }
    expect(names).toContain(op.name);
    await api.services.deleteOperation({ name: op.name } as protos.google.longrunning.DeleteOperationRequest);
    expect((await codeOf(api.services.checkCreateServiceProgress(op.name as string))).code).toBe(5);
  });

  it('fails the next N calls with UNAVAILABLE, in process and through the admin endpoint', async () => {
    await create('kilo');
    emu.faults.failNextCalls(2, { methods: ['GetService'] });
    expect((await codeOf(get('kilo'))).code).toBe(14);
    expect((await codeOf(get('kilo'))).code).toBe(14);
    expect((await get('kilo')).name).toBe(`${PARENT}/services/kilo`);

    const res = await fetch(`${emu.adminUrl}/faults/calls`, { method: 'POST', body: JSON.stringify({ count: 1 }) });
    expect(res.status).toBe(200);
    expect((await codeOf(api.revisions.listRevisions({ parent: `${PARENT}/services/kilo` }, NO_RETRY))).code).toBe(14);
    expect((await get('kilo')).name).toBe(`${PARENT}/services/kilo`);
  });

  it('makes the next revision fail to start on demand', async () => {
    const svc = await create('lima');
    const res = await fetch(`${emu.adminUrl}/faults/revisions`, { method: 'POST', body: JSON.stringify({ count: 1, message: 'panic: injected' }) });
    expect(res.status).toBe(200);
    const err = await codeOf(update({ ...svc, template: template('v2') }));
    expect(err.code).toBe(9);
    const failed = short((await get('lima')).latestCreatedRevision);
    expect((await revisionLogs(emu, 'demo', 'lima', failed)).map((e) => e.text)).toContain('panic: injected');
    expect((await getJson(svc.uri as string)).version).toBe('v1');
  });
});

describe('what Cloud Run refuses or restricts', () => {
  const REV = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' as const;

  it('refuses a tag that, with the service name, is over 46 characters, in Cloud Run\'s words, and a tag ending with a dash', async () => {
    const id = 'a-rather-long-service-name-for-tags'; // 35 characters
    const svc = await create(id);
    const rev = short(svc.latestReadyRevision);
    const tooLong = await codeOf(update({ ...svc, traffic: [{ type: REV, revision: rev, percent: 100, tag: 'candidate-12' }] })); // 35 + 12 = 47
    expect(tooLong.code).toBe(3);
    expect(tooLong.message).toContain(`traffic tag 'candidate-12' and service name '${id}' together are too long. Combined traffic tag and service name cannot exceed 46 characters.`);
    const fits = await update({ ...svc, traffic: [{ type: REV, revision: rev, percent: 100, tag: 'candidate-1' }] }); // 46
    expect(fits.trafficStatuses?.[0]?.tag).toBe('candidate-1');
    const dash = await codeOf(update({ ...fits, traffic: [{ type: REV, revision: rev, percent: 100, tag: 'cand-' }] }));
    expect(dash.code).toBe(3);
    expect(dash.message).toContain('end with a letter or digit');
  });

  it('refuses CPU, memory and concurrency combinations Cloud Run refuses for services, and accepts the edges of its table', async () => {
    const withLimits = (cpu: string, memory: string, concurrency?: number) => ({
      template: { containers: [{ image: IMAGE, resources: { limits: { cpu, memory } } }], ...(concurrency ? { maxInstanceRequestConcurrency: concurrency } : {}) },
    });
    const refused: Array<[string, ReturnType<typeof withLimits>, RegExp]> = [
      ['4 CPUs with 1 GiB', withLimits('4', '1Gi'), /with 4 CPUs Cloud Run needs 2 GiB to 16 GiB/],
      ['3 CPUs', withLimits('3', '4Gi'), /1, 2, 4, 6 or 8 CPUs/],
      ['0.5 CPU at the default concurrency', withLimits('0.5', '512Mi'), /needs concurrency: 1/],
      ['0.4 CPU with 1 GiB', withLimits('0.4', '1Gi', 1), /needs at least 0.5 CPU/],
      ['0.9 CPU with 2 GiB', withLimits('0.9', '2Gi', 1), /needs at least 1 CPU/],
    ];
    for (const [what, service, message] of refused) {
      const err = await codeOf(create(`res-${refused.findIndex((r) => r[0] === what)}`, service));
      expect(err.code, what).toBe(3);
      expect(err.message, what).toMatch(message);
    }
    expect((await create('res-ok-8', withLimits('8', '32Gi'))).terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
    expect((await create('res-ok-small', withLimits('0.08', '512Mi', 1))).terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
  });

  it('serves a new service only to callers with a bearer token (403 without, 401 for another scheme), HTTP and WebSocket alike', async () => {
    const svc = await create('private-one');
    const uri = svc.uri as string;
    const anon = await fetch(uri, { signal: AbortSignal.timeout(5000) });
    expect(anon.status).toBe(403);
    expect(await anon.text()).toContain('Your client does not have permission');
    const basic = await fetch(uri, { headers: { authorization: 'Basic dTpw' }, signal: AbortSignal.timeout(5000) });
    expect(basic.status).toBe(401);
    await expect(wsEcho(uri, 'x', {})).rejects.toThrow(/403/);
    expect((await getJson(uri, { authorization: 'Bearer any-token' })).version).toBe('v1');
    expect(await wsEcho(uri, 'x', { authorization: 'Bearer any-token' })).toBe('v1:x');
  });

  it('serves everyone once invokerIamDisabled is set, and private again once it is cleared', async () => {
    const svc = await create('open-flag', { template: template('v1'), invokerIamDisabled: true });
    expect((await getJson(svc.uri as string, {})).version).toBe('v1');
    const [op] = await api.services.updateService({ service: { name: svc.name, invokerIamDisabled: false }, updateMask: { paths: ['invoker_iam_disabled'] } }, NO_RETRY);
    await op.promise();
    expect((await fetch(svc.uri as string, { signal: AbortSignal.timeout(5000) })).status).toBe(403);
  });

  it('implements GetIamPolicy, SetIamPolicy (allUsers as invoker makes the URL public; a stale etag is ABORTED) and TestIamPermissions', async () => {
    const svc = await create('open-iam');
    const resource = svc.name as string;
    const [empty] = await api.services.getIamPolicy({ resource }, NO_RETRY);
    expect(empty.bindings ?? []).toEqual([]);
    const [set] = await api.services.setIamPolicy({ resource, policy: { bindings: [{ role: 'roles/run.invoker', members: ['allUsers'] }], etag: empty.etag } }, NO_RETRY);
    expect(set.bindings).toEqual([expect.objectContaining({ role: 'roles/run.invoker', members: ['allUsers'] })]);
    expect((await getJson(svc.uri as string, {})).version).toBe('v1');
    const stale = await codeOf(api.services.setIamPolicy({ resource, policy: { bindings: [], etag: empty.etag } }, NO_RETRY));
    expect(stale.code).toBe(10);
    const badMember = await codeOf(api.services.setIamPolicy({ resource, policy: { bindings: [{ role: 'roles/run.invoker', members: ['everyone'] }] } }, NO_RETRY));
    expect(badMember.code).toBe(3);
    const [perms] = await api.services.testIamPermissions({ resource, permissions: ['run.routes.invoke', 'storage.buckets.get'] }, NO_RETRY);
    expect(perms.permissions).toEqual(['run.routes.invoke']);
    expect((await codeOf(api.services.getIamPolicy({ resource: `${PARENT}/services/nope` }, NO_RETRY))).code).toBe(5);
  });

  it('applies only the fields an update_mask names: a traffic-only update ignores the template it carries', async () => {
    const svc = await create('masked');
    const rev = short(svc.latestReadyRevision);
    const [op] = await api.services.updateService(
      { service: { name: svc.name, template: template('v9', { revision: 'masked-v9' }), traffic: [{ type: REV, revision: rev, percent: 100, tag: 'cur' }] }, updateMask: { paths: ['traffic'] } },
      NO_RETRY,
    );
    const [res] = await op.promise();
    const after = plain(res);
    expect(short(after.latestCreatedRevision)).toBe(rev);
    expect(after.trafficStatuses?.[0]).toMatchObject({ revision: rev, tag: 'cur' });
    expect(after.template?.containers?.[0]?.env).toEqual([{ name: 'APP_VERSION', value: 'v1' }]);
  });

  it('serves Cloud Logging ListLogEntries on the same port: the revision\'s real output, filtered by revision and time', async () => {
    const svc = await create('loggy');
    const rev = short(svc.latestReadyRevision);
    const before = new Date(Date.now() - 60_000).toISOString();
    const later = new Date(Date.now() + 60_000).toISOString();
    const crash = await codeOf(update({ ...svc, template: { revision: 'loggy-crash', containers: [{ image: IMAGE, env: [{ name: 'CRASH', value: '1' }] }] } }));
    expect(crash.code).toBe(9);
    expect((await revisionLogs(emu, 'demo', 'loggy', 'loggy-crash', `timestamp>="${before}"`)).map((e) => e.text)[0]).toBe('boom: crashing on purpose before listening');
    expect(await revisionLogs(emu, 'demo', 'loggy', 'loggy-crash', `timestamp>="${later}"`)).toEqual([]);
    // The serving revision printed nothing: no entries of the crashed one leak into it.
    expect((await revisionLogs(emu, 'demo', 'loggy', rev)).map((e) => e.text)).not.toContain('boom: crashing on purpose before listening');
    const bad = await codeOf(revisionLogs(emu, 'demo', 'loggy', rev, 'severity>=ERROR OR textPayload:"x"'));
    expect(bad.code).toBe(3);
  });
});
