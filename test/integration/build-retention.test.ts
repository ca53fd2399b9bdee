/**
 * 1,005 recorded cycles, then a new run that still builds and deploys. The builds folder is faked
 * (1,005 folders under the real names c001…c1005, made a second apart) rather than built by 1,005
 * real cycles; the retention code and the last cycle are the real ones.
 */
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BuildStore, buildFolderName, buildsToKeep, pinBuild, type BuildPin } from '../../src/build/store.js';
import { readHistory } from '../../src/loop/history.js';
import type { CycleRecord } from '../../src/model/record.js';
import { removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';

const dirs: string[] = [];
const pins: BuildPin[] = [];
afterEach(async () => {
  await Promise.all(pins.splice(0).map((p) => p.release()));
  await Promise.all(dirs.splice(0).map(removeDir));
});

const FAKES = 1005;
const fakeKey = (n: number) => `fa${n.toString(16).padStart(10, '0')}${'0'.repeat(52)}`;
const fakeName = (n: number) => buildFolderName(n, fakeKey(n));
const fakeRevision = (n: number) => `tiny-${String(n).padStart(5, '0')}-fak`;
const pad = (n: number) => String(n).padStart(3, '0');

describe('build retention after 1,005 recorded cycles', () => {
  it('removes the oldest builds in time order, keeps the current, pinned and recorded-serving ones, and the next cycle builds and deploys', async () => {
    const dir = await scratchDir('build-1005');
    dirs.push(dir);
    await writeTinyProject(dir, 'ok', tinyConfig({ maxCycles: 1 }));
    const first = await runCli(['cycle'], { cwd: dir });
    expect(first.code, first.stderr).toBe(0);
    const builds = join(dir, '.deploy-loop', 'builds', 'tiny');
    const [realFirst] = (await readdir(builds)).filter((n) => n.startsWith('c'));
    expect(realFirst).toMatch(/^c001-[0-9a-f]{12}$/);

    // The fake past: cycle N's build made N seconds after a start three hours ago, except c002,
    // reused (so touched) after all the others.
    const start = Date.now() - 3 * 3_600_000;
    for (let n = 1; n <= FAKES; n++) {
      const folder = join(builds, fakeName(n));
      await mkdir(folder);
      await writeFile(join(folder, 'server.mjs'), `// build of cycle ${n}\n`);
      const t = new Date(start + (n === 2 ? FAKES + 5 : n) * 1000);
      await utimes(folder, t, t);
    }
    // And its history: cycles 2…1005, each deploying its own build; the last leaves cycle 40's
    // revision serving (its canary was rolled back, say).
    const historyDir = join(dir, 'reports', 'history');
    const template = JSON.parse(await readFile(join(historyDir, 'cycle-001.json'), 'utf8')) as CycleRecord;
    for (let n = 2; n <= FAKES; n++) {
      const rec = structuredClone(template);
      rec.cycle = n;
      rec.runId = `fake-${n}`;
      rec.build.image = `dir:${join(builds, fakeName(n))}`;
      rec.build.digest = `sha256:${fakeKey(n)}`;
      rec.deploy.revision = fakeRevision(n);
      rec.deploy.image = rec.build.image;
      const serving = n >= 40 ? fakeRevision(40) : fakeRevision(n);
      rec.traffic.after = [{ revision: serving, percent: 100 }];
      rec.traffic.lastGoodRevision = serving;
      await writeFile(join(historyDir, `cycle-${pad(n)}.json`), JSON.stringify(rec));
    }
    // A revision still running from cycle 500's build holds a lease on it (this process stands in for it).
    pins.push(await pinBuild(join(builds, fakeName(500)), { revision: fakeRevision(500) }));

    // The retention the builder runs, with what the history says must stay.
    const history = await readHistory(join(dir, 'reports'), 'tiny');
    expect(history.records).toHaveLength(FAKES);
    const keep = buildsToKeep(history.records);
    expect(keep.dirs).toEqual([join(builds, fakeName(40))]);
    const res = await new BuildStore(builds).prune({ keep: 10, also: keep });
    // Kept by time: the real c001 (newest), c002 (touched last of the fakes), c998…c1005.
    const expectedRemoved = Array.from({ length: 997 }, (_, i) => i + 1)
      .filter((n) => n !== 2 && n !== 40 && n !== 500)
      .map(fakeName);
    expect(res.removed).toEqual(expectedRemoved);
    expect(res.protected).toEqual({ [fakeName(40)]: 'requested', [fakeName(500)]: 'pinned' });
    const left = (await readdir(builds)).filter((n) => n.startsWith('c')).sort();
    expect(left).toEqual(
      [realFirst!, ...[2, 40, 500, 998, 999, 1000, 1001, 1002, 1003, 1004, 1005].map(fakeName)].sort(),
    );

    // The next run: cycle 1006, a changed context, so a new build under a four-digit name.
    await writeFile(join(dir, 'app', 'extra.txt'), 'changed');
    const next = await runCli(['cycle'], { cwd: dir });
    expect(next.stderr).not.toContain('ENOENT');
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/cycle 1006: passed/);
    const rec = JSON.parse(await readFile(join(historyDir, 'cycle-1006.json'), 'utf8')) as CycleRecord;
    expect(rec.verdict).toBe('passed');
    const current = rec.build.image!.slice('dir:'.length);
    expect(current).toMatch(/\/c1006-[0-9a-f]{12}$/);
    expect((await stat(join(current, 'extra.txt'))).isFile()).toBe(true);
    const after = new Set(await readdir(builds));
    // Newest ten by time: c1006, the real c001, c002, c999…c1005; c998 is now the oldest unprotected.
    for (const name of [current.split('/').at(-1)!, realFirst!, fakeName(2), fakeName(999), fakeName(1005), fakeName(500)]) {
      expect(after.has(name), name).toBe(true);
    }
    expect(after.has(fakeName(998))).toBe(false);
  });
});
