/**
 * Build retention: by time, never by name; the current build, pinned builds (a revision runs from
 * them) and builds the history records as serving always stay.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildStore, buildFolderName, buildsToKeep, pinBuild } from '../../src/build/store.js';
import type { CycleRecord } from '../../src/model/record.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'build-retention-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A pid no process can have: above the kernel's pid_max. */
const DEAD_PID = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim()) + 1;

const key = (n: number) => n.toString(16).padStart(12, '0') + 'f'.repeat(52);

/** Build folders for the given cycles, cycle N made N minutes after a fixed start. */
async function makeBuilds(cycles: number[], at: (cycle: number) => number = (c) => Date.UTC(2026, 0, 1) + c * 60_000): Promise<string[]> {
  const names: string[] = [];
  for (const c of cycles) {
    const name = buildFolderName(c, key(c));
    await mkdir(join(dir, name));
    await writeFile(join(dir, name, 'server.js'), `// ${c}`);
    const t = new Date(at(c));
    await utimes(join(dir, name), t, t);
    names.push(name);
  }
  return names;
}

describe('BuildStore.prune', () => {
  it('orders by time, not by name: c1000 is newer than c990', async () => {
    const names = await makeBuilds([985, 986, 987, 988, 989, 990, 995, 999, 1000, 1001]);
    const store = new BuildStore(dir);
    const res = await store.prune({ keep: 3, current: names.at(-1) });
    expect(res.removed).toEqual(names.slice(0, 7));
    expect((await readdir(dir)).filter((n) => n.startsWith('c')).sort()).toEqual(['c1000-0000000003e8', 'c1001-0000000003e9', 'c999-0000000003e7']);
  });

  it('keeps the current build even when it is the oldest (a reused build of an early cycle)', async () => {
    const names = await makeBuilds([1, 2, 3, 4, 5]);
    const res = await new BuildStore(dir).prune({ keep: 2, current: names[0] });
    expect(res.protected).toEqual({ [names[0]!]: 'current' });
    expect(res.removed).toEqual([names[1], names[2]]);
  });

  it('keeps builds pinned by a live process and drops pins whose holders are gone', async () => {
    const names = await makeBuilds([1, 2, 3, 4, 5, 6]);
    const live = await pinBuild(join(dir, names[1]!), { revision: 'svc-00002-abc' });
    // A pin held only by a process that has exited: it protects nothing.
    await mkdir(join(dir, '.pins'), { recursive: true });
    await writeFile(join(dir, '.pins', 'dead.json'), JSON.stringify({ build: names[2], revision: 'svc-00003-def', pids: [DEAD_PID], pinnedAt: new Date().toISOString() }));

    const res = await new BuildStore(dir).prune({ keep: 2, current: names[5] });
    expect(res.protected).toEqual({ [names[1]!]: 'pinned' });
    expect(res.removed).toEqual([names[0], names[2], names[3]]);
    expect(await readdir(join(dir, '.pins'))).toEqual([live.file!.split('/').at(-1)]);

    await live.release();
    const after = await new BuildStore(dir).prune({ keep: 2, current: names[5] });
    expect(after.removed).toEqual([names[1]]);
  });

  it('keeps the builds the caller asks for, by folder or by build digest', async () => {
    const names = await makeBuilds([1, 2, 3, 4, 5]);
    const store = new BuildStore(dir);
    await store.add(names[1]!, { key: key(2), digest: 'sha256:ctx2', cycle: 2, scope: '', builtAt: new Date().toISOString() });
    const res = await store.prune({ keep: 1, current: names[4], also: { dirs: [join(dir, names[0]!)], digests: [`sha256:${key(2)}`] } });
    expect(res.protected).toEqual({ [names[0]!]: 'requested', [names[1]!]: 'requested' });
    expect(res.removed).toEqual([names[2], names[3]]);
  });

  it('drops removed builds from the index and clears staging folders of dead processes', async () => {
    const names = await makeBuilds([1, 2, 3]);
    const store = new BuildStore(dir);
    for (const [i, name] of names.entries()) await store.add(name, { key: key(i + 1), digest: 'sha256:x', cycle: i + 1, scope: '', builtAt: new Date().toISOString() });
    await mkdir(join(dir, `${names[0]}.tmp-${DEAD_PID}`));
    await mkdir(join(dir, `${names[1]}.tmp-${process.pid}`));
    await store.prune({ keep: 1, current: names[2] });
    const index = JSON.parse(await readFile(store.indexFile, 'utf8')) as { builds: Record<string, unknown> };
    expect(Object.keys(index.builds)).toEqual([names[2]]);
    expect((await readdir(dir)).sort()).toEqual([names[1] + `.tmp-${process.pid}`, names[2], 'index.json'].sort());
    expect(await store.find(key(1))).toBeUndefined();
    expect((await store.find(key(3)))?.name).toBe(names[2]);
  });
});

describe('BuildStore.noteContext', () => {
  it('says since when a context has not changed, only across consecutive cycles of one scope', async () => {
    const store = new BuildStore(dir);
    expect(await store.noteContext('reports', 'sha256:a', 1)).toBeUndefined();
    expect(await store.noteContext('reports', 'sha256:a', 2)).toBe(1);
    expect(await store.noteContext('other', 'sha256:a', 7)).toBeUndefined();
    expect(await store.noteContext('reports', 'sha256:a', 3)).toBe(1);
    expect(await store.noteContext('reports', 'sha256:b', 4)).toBeUndefined();
    expect(await store.noteContext('reports', 'sha256:b', 5)).toBe(4);
    // A gap (a new history, say) makes no claim.
    expect(await store.noteContext('reports', 'sha256:b', 1)).toBeUndefined();
  });
});

describe('pinBuild', () => {
  it('does nothing for a folder that is not a build folder', async () => {
    const pin = await pinBuild(join(dir, 'my-app'), { revision: 'r' });
    expect(pin.file).toBeUndefined();
    expect(await readdir(dir)).toEqual([]);
  });

  it('keeps a build while the revision process lives, after the pinning process let go of it', async () => {
    const [name] = await makeBuilds([1, 2]);
    // The parent process (vitest) stands in for a revision that is still running.
    const revisionPid = process.ppid;
    const pin = await pinBuild(join(dir, name!), { revision: 'svc-00001-abc' });
    await pin.addPid(revisionPid);
    const content = JSON.parse(await readFile(pin.file!, 'utf8')) as { pids: number[] };
    expect(content.pids).toEqual([process.pid, revisionPid]);
    // As a later loop sees it when this one died: only the revision's pid is alive.
    await writeFile(pin.file!, JSON.stringify({ ...content, pids: [DEAD_PID, revisionPid] }));
    expect((await new BuildStore(dir).livePins()).has(name!)).toBe(true);
    // Once the revision is gone too, the lease protects nothing and is cleared.
    await writeFile(pin.file!, JSON.stringify({ ...content, pids: [DEAD_PID] }));
    expect((await new BuildStore(dir).livePins()).has(name!)).toBe(false);
    expect(await readdir(join(dir, '.pins'))).toEqual([]);
  });
});

describe('buildsToKeep', () => {
  const rec = (cycle: number, revision: string, after: CycleRecord['traffic']['after'], lastGood?: string): CycleRecord =>
    ({
      cycle,
      build: { status: 'ok', kind: 'command', durationMs: 1, image: `dir:/p/.deploy-loop/builds/svc/${buildFolderName(cycle, key(cycle))}`, digest: `sha256:${key(cycle)}`, outputTail: [] },
      deploy: { status: 'ok', revision, image: `dir:/p/.deploy-loop/builds/svc/${buildFolderName(cycle, key(cycle))}`, durationMs: 1 },
      traffic: { before: [], after, action: 'kept', ...(lastGood ? { lastGoodRevision: lastGood } : {}) },
    }) as unknown as CycleRecord;

  it('names the builds of every revision with traffic in the last record, and of its last good revision', () => {
    const records = [
      rec(1, 'svc-00001-aaa', [{ revision: 'svc-00001-aaa', percent: 100 }]),
      rec(2, 'svc-00002-bbb', [{ revision: 'svc-00001-aaa', percent: 90 }, { revision: 'svc-00002-bbb', percent: 10 }]),
      rec(3, 'svc-00003-ccc', [{ revision: 'svc-00002-bbb', percent: 100 }, { revision: 'svc-00003-ccc', percent: 0, tag: 'candidate' }], 'svc-00001-aaa'),
    ];
    const keep = buildsToKeep(records);
    expect(keep.dirs?.map((d) => d.split('/').at(-1))).toEqual([buildFolderName(2, key(2)), buildFolderName(1, key(1))]);
    expect(keep.digests).toEqual([`sha256:${key(2)}`, `sha256:${key(1)}`]);
    expect(buildsToKeep([])).toEqual({});
  });
});
