/** The change store on real files: manifests, diff budget and redaction, caps, and what revert refuses. */
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BLOB_FILE_CAP, ChangeStore, takeManifest } from '../../src/build/manifest.js';
import { changesSince, DIFF_BUDGET } from '../../src/loop/changes.js';
import { revertChanges } from '../../src/loop/changes-revert.js';
import type { SuiteIntegrity } from '../../src/model/record.js';
import { record } from './report-fixtures.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup(): Promise<{ ctx: string; reports: string; outside: string }> {
  const base = await mkdtemp(join(tmpdir(), 'changes-store-'));
  dirs.push(base);
  const ctx = join(base, 'ctx');
  const reports = join(base, 'reports');
  const outside = join(base, 'outside');
  await mkdir(ctx);
  await mkdir(outside);
  return { ctx, reports, outside };
}

const INTEGRITY = { fingerprint: { sha256: '', checks: {}, gate: { thresholds: {}, allowFlaky: false } }, changes: [], accepted: false, blocked: false } satisfies SuiteIntegrity;

async function list(reports: string, ctx: string, cycle: number) {
  const store = new ChangeStore(reports);
  const m = await takeManifest(store, cycle, { root: ctx, context: 'ctx', exclude: [], alwaysExclude: [reports] });
  await store.writeManifest(m);
  return m;
}

async function changes(reports: string, ctx: string, secrets: string[] = []) {
  const manifest = await list(reports, ctx, 2);
  const previous = record({ cycle: 1, startedAt: '2025-06-03T09:14:02.118Z' });
  const current = record({ cycle: 2, startedAt: '2025-06-03T09:15:02.118Z' });
  return changesSince({ reportsDir: reports, previous, current, manifest, integrity: INTEGRITY, root: ctx, secrets });
}

describe('changes between two listings of a context', () => {
  it('redacts the diff before cutting it to its budget, and marks binary, oversized and mode-only files', async () => {
    const { ctx, reports } = await setup();
    const secret = 'sk-live-0123456789abcdefSECRET';
    await writeFile(join(ctx, 'config.txt'), 'token = none\n');
    await writeFile(join(ctx, 'big.txt'), 'x\n');
    await writeFile(join(ctx, 'blob.bin'), Buffer.from([0, 1, 2, 3]));
    await writeFile(join(ctx, 'run.sh'), 'echo hi\n');
    await writeFile(join(ctx, 'long.txt'), '');
    await list(reports, ctx, 1);
    await writeFile(join(ctx, 'config.txt'), `token = ${secret}\n`);
    await writeFile(join(ctx, 'big.txt'), 'y\n'.repeat(BLOB_FILE_CAP));
    await writeFile(join(ctx, 'blob.bin'), Buffer.from([0, 9, 9, 9]));
    await chmod(join(ctx, 'run.sh'), 0o755);
    await writeFile(join(ctx, 'long.txt'), Array.from({ length: 3000 }, (_, i) => `line ${i} of a long file`).join('\n'));
    const c = await changes(reports, ctx, [secret]);
    expect(c?.files).toEqual([
      { path: 'big.txt', status: 'modified', added: 0, removed: 0, tooLarge: true },
      { path: 'blob.bin', status: 'modified', added: 0, removed: 0, binary: true },
      { path: 'config.txt', status: 'modified', added: 1, removed: 1 },
      { path: 'long.txt', status: 'modified', added: 3000, removed: 0 },
      { path: 'run.sh', status: 'mode', added: 0, removed: 0 },
    ]);
    expect(c?.diff).not.toContain(secret);
    expect(c?.diff).not.toContain(secret.slice(0, 12));
    expect(c?.diff).toContain('+token = [redacted]');
    expect(c?.diffTruncated).toBe(true);
    expect(c?.diff.length).toBeLessThanOrEqual(DIFF_BUDGET);
    // Cut at a line end, never mid-line.
    expect(c?.diff.endsWith('of a long file')).toBe(true);
  });

  it('records nothing changed when the context is the same', async () => {
    const { ctx, reports } = await setup();
    await writeFile(join(ctx, 'a.txt'), 'a\n');
    await list(reports, ctx, 1);
    expect(await changes(reports, ctx)).toMatchObject({ files: [], diff: '', diffTruncated: false, inputs: [], suite: [] });
  });
});

describe('revertChanges never touches anything outside the build context', () => {
  it('refuses a symlink of the previous cycle that points outside, and writes nothing', async () => {
    const { ctx, reports, outside } = await setup();
    await symlink(join(outside, 'target.txt'), join(ctx, 'link'));
    await writeFile(join(ctx, 'a.txt'), 'one\n');
    await list(reports, ctx, 1);
    await rm(join(ctx, 'link'));
    await writeFile(join(ctx, 'a.txt'), 'two\n');
    const manifest = await list(reports, ctx, 2);
    const regressed = { ...record({ cycle: 2, startedAt: '2025-06-03T09:15:02.118Z' }), changes: { sinceCycle: 1, contextDigestAfter: manifest.digest, files: [], diff: '', diffTruncated: false, inputs: [], suite: [] } };
    const v = await revertChanges(reports, ctx, regressed);
    expect(v.files).toEqual([]);
    expect(v.refused).toBe("link: cycle 1's symlink points outside the build context");
    expect(await readFile(join(ctx, 'a.txt'), 'utf8')).toBe('two\n');
  });

  it('refuses a path whose folder became a symlink that leaves the context', async () => {
    const { ctx, reports, outside } = await setup();
    await mkdir(join(ctx, 'sub'));
    await writeFile(join(ctx, 'sub', 'f.txt'), 'one\n');
    await list(reports, ctx, 1);
    await rm(join(ctx, 'sub'), { recursive: true });
    const manifest = await list(reports, ctx, 2);
    // After the regressed cycle was listed, `sub` is made a link out of the context.
    await symlink(outside, join(ctx, 'sub'));
    const regressed = { ...record({ cycle: 2, startedAt: '2025-06-03T09:15:02.118Z' }), changes: { sinceCycle: 1, contextDigestAfter: manifest.digest, files: [], diff: '', diffTruncated: false, inputs: [], suite: [] } };
    const v = await revertChanges(reports, ctx, regressed);
    expect(v.refused).toBe('sub/f.txt: a folder on its way is a symlink that leaves the build context');
    await expect(readFile(join(outside, 'f.txt'))).rejects.toThrow();
  });
});
