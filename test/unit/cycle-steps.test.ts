/**
 * runCycle's steps, table-tested with a fake Builder and Target: every step's failure, error and
 * interruption ends in a record that says which step and why, never in an exception. The only real
 * thing is one HTTP server standing in for the candidate revision, so the smoke step runs for real.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Builder, BuildOutcome } from '../../src/build/builder.js';
import { configSchema, type Config } from '../../src/config/schema.js';
import type { DeployOutcome, Target, TrafficEntry } from '../../src/deploy/target.js';
import { StageError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { runCycle } from '../../src/loop/cycle.js';
import type { CycleRecord } from '../../src/model/record.js';
import type { ConfigInput } from '../helpers/config-fixture.js';

let server: http.Server;
let url = '';
beforeAll(async () => {
  server = http.createServer((_req, res) => res.end('{"ok":true}'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const input: ConfigInput = {
  apiVersion: 'deploy-loop/v1',
  service: 'fake',
  build: { kind: 'command', context: '.' },
  target: { kind: 'local', command: ['true'] },
  smoke: { checks: [{ name: 'health', kind: 'http', priority: 'P0', path: '/' }] },
};
const config: Config = configSchema.parse(input);

type Fault = 'throw' | 'fail' | 'abort' | undefined;
interface Faults {
  readTraffic?: Fault;
  build?: Fault;
  deploy?: Fault;
  setTraffic?: Fault;
  readAfter?: Fault;
}

function fakes(f: Faults, controller: AbortController): { builder: Builder; target: Target; sets: TrafficEntry[][] } {
  let reads = 0;
  const sets: TrafficEntry[][] = [];
  let split: TrafficEntry[] = [{ revision: 'fake-00001-old', percent: 100 }];
  const hit = (fault: Fault, what: string): void => {
    if (fault === 'throw') throw new StageError('deploy', `${what} exploded`, 'try the fake hint');
    if (fault === 'abort') controller.abort();
  };
  const builder: Builder = {
    kind: 'fake',
    async build(): Promise<BuildOutcome> {
      hit(f.build, 'the builder');
      if (f.build === 'fail') return { ok: false, message: 'compile error', durationMs: 5, outputTail: ['error: x'], exitCode: 2 };
      return { ok: true, image: { ref: 'dir:/tmp/fake', digest: 'sha256:abc', durationMs: 5, outputTail: [] } };
    },
  };
  const target: Target = {
    kind: 'fake',
    async deployCandidate(): Promise<DeployOutcome> {
      hit(f.deploy, 'the deploy');
      if (f.deploy === 'fail') return { ok: false, message: 'exited with code 1 before listening', exitCode: 1, logTail: ['boom'], durationMs: 7, revisionName: 'fake-00002-new' };
      split = [...split, { revision: 'fake-00002-new', percent: 0, tag: 'candidate' }];
      return { ok: true, revision: { name: 'fake-00002-new', url, image: 'dir:/tmp/fake', startMs: 3 } };
    },
    async setTraffic(_ctx, next) {
      hit(f.setTraffic, 'setting traffic');
      sets.push(next);
      split = next;
    },
    async currentTraffic() {
      reads++;
      if (reads === 1) hit(f.readTraffic, 'reading traffic');
      // The second read is the deploy step's (the split with the candidate tagged); the third is after promoting.
      else if (reads >= 3) hit(f.readAfter, 'reading traffic after');
      return split.map((e) => ({ ...e }));
    },
    serviceUrl: () => url,
    close: async () => undefined,
  };
  return { builder, target, sets };
}

async function cycleWith(f: Faults): Promise<{ rec: CycleRecord; journal: string[]; sets: TrafficEntry[][] }> {
  const controller = new AbortController();
  const { builder, target, sets } = fakes(f, controller);
  const journal: string[] = [];
  const rec = await runCycle({
    config, builder, target, log: silentLogger(), signal: controller.signal, cycle: 2, runId: 'r', checkLocations: {},
    onStep: (step, partial) => {
      journal.push(`${step}:${partial.steps?.at(-1)?.status ?? '-'}`);
    },
  });
  return { rec, journal, sets };
}

const steps = (rec: CycleRecord) => (rec.steps ?? []).map((s) => `${s.name}:${s.status}`);

describe('runCycle: each step ends in a record', () => {
  const cases: { name: string; faults: Faults; verdict: CycleRecord['verdict']; steps: string[]; result?: { name: string; kind: string; status: string } }[] = [
    { name: 'all steps pass: promoted', faults: {}, verdict: 'passed', steps: ['read-traffic:done', 'build:done', 'deploy:done', 'smoke:done', 'promote:done'] },
    { name: 'reading traffic throws', faults: { readTraffic: 'throw' }, verdict: 'error', steps: ['read-traffic:error'], result: { name: 'read-traffic', kind: 'deploy', status: 'error' } },
    { name: 'the builder throws', faults: { build: 'throw' }, verdict: 'error', steps: ['read-traffic:done', 'build:error'], result: { name: 'build', kind: 'build', status: 'error' } },
    { name: 'the build fails', faults: { build: 'fail' }, verdict: 'build-failed', steps: ['read-traffic:done', 'build:failed'], result: { name: 'build', kind: 'build', status: 'fail' } },
    { name: 'the deploy throws', faults: { deploy: 'throw' }, verdict: 'error', steps: ['read-traffic:done', 'build:done', 'deploy:error'], result: { name: 'deploy', kind: 'deploy', status: 'error' } },
    { name: 'the candidate fails to start', faults: { deploy: 'fail' }, verdict: 'deploy-failed', steps: ['read-traffic:done', 'build:done', 'deploy:failed'], result: { name: 'deploy', kind: 'deploy', status: 'fail' } },
    { name: 'moving traffic throws', faults: { setTraffic: 'throw' }, verdict: 'error', steps: ['read-traffic:done', 'build:done', 'deploy:done', 'smoke:done', 'promote:error'], result: { name: 'promote', kind: 'traffic', status: 'error' } },
    { name: 'interrupted during the build', faults: { build: 'abort' }, verdict: 'interrupted', steps: ['read-traffic:done', 'build:interrupted'] },
    { name: 'interrupted during the deploy', faults: { deploy: 'abort' }, verdict: 'interrupted', steps: ['read-traffic:done', 'build:done', 'deploy:interrupted'] },
    { name: 'interrupted while moving traffic', faults: { setTraffic: 'abort' }, verdict: 'interrupted', steps: ['read-traffic:done', 'build:done', 'deploy:done', 'smoke:done', 'promote:interrupted'] },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const { rec, journal } = await cycleWith(c.faults);
      expect(rec.verdict).toBe(c.verdict);
      expect(steps(rec)).toEqual(c.steps);
      // The journal heard of every step, as it ended.
      expect(journal).toEqual(c.steps);
      if (c.result) {
        const r = rec.smoke.results.find((x) => x.name === c.result?.name);
        expect(r).toMatchObject({ ...c.result, priority: 'P0' });
        if (c.result.status === 'error') {
          expect(r?.failure?.message).toMatch(/exploded \(try the fake hint\)$/);
          expect(rec.gate.reasons[0]).toMatch(new RegExp(`^the ${c.result.name} step failed with an error: `));
        }
      }
      // An interrupted cycle's gate is what its finished checks showed; the verdict says it did not finish.
      if (c.verdict !== 'interrupted') expect(rec.gate.passed).toBe(c.verdict === 'passed');
      expect(rec.finishedAt).not.toBe('');
    });
  }

  it('traffic.afterPromote: latest that the target fails to apply keeps the promotion, pinned, and says why', async () => {
    const controller = new AbortController();
    const { builder, target } = fakes({}, controller);
    const followed: string[] = [];
    target.followLatest = async (_ctx, revision) => {
      followed.push(revision);
      throw new StageError('traffic', 'UpdateService: PERMISSION_DENIED');
    };
    const latest = configSchema.parse({ ...input, traffic: { afterPromote: 'latest' } });
    const rec = await runCycle({ config: latest, builder, target, log: silentLogger(), signal: controller.signal, cycle: 2, runId: 'r', checkLocations: {} });
    expect(followed).toEqual(['fake-00002-new']);
    expect(rec.verdict).toBe('passed');
    expect(rec.traffic.action).toBe('promoted');
    expect(rec.traffic.note).toMatch(/Traffic stays pinned to the candidate: handing it to the latest revision \(traffic\.afterPromote: latest\) failed: .*PERMISSION_DENIED/);
  });

  it('an error while moving traffic records where the split is now', async () => {
    const { rec } = await cycleWith({ setTraffic: 'throw' });
    expect(rec.traffic.after.map((e) => e.revision)).toEqual(['fake-00001-old', 'fake-00002-new']);
    expect(rec.traffic.note).toMatch(/^The promotion stopped on an error/);
  });

  it('a failed read of the split after the cycle keeps the verdict and says the split is not known', async () => {
    const { rec, sets } = await cycleWith({ readAfter: 'throw' });
    expect(rec.verdict).toBe('passed');
    expect(sets.at(-1)?.filter((e) => e.percent > 0)).toEqual([expect.objectContaining({ revision: 'fake-00002-new', percent: 100 })]);
    expect(rec.traffic.note).toMatch(/The split after the cycle could not be read: deploy: reading traffic after exploded\./);
  });

  it('a journal that cannot write does not end the cycle', async () => {
    const controller = new AbortController();
    const { builder, target } = fakes({}, controller);
    const rec = await runCycle({
      config, builder, target, log: silentLogger(), signal: controller.signal, cycle: 1, runId: 'r', checkLocations: {},
      onStep: () => {
        throw new Error('ENOSPC: no space left on device');
      },
    });
    expect(rec.verdict).toBe('passed');
  });
});
