/**
 * The build context listing: what `.dockerignore` and build.exclude leave out (Docker's matcher),
 * what is always left out, and what the digest covers (paths, modes, contents, links; nothing else).
 */
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ContextChangedError, copyListing, listContext, type ListOptions } from '../../src/build/snapshot.js';

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'build-snapshot-'));
  dir = join(root, 'ctx');
  await mkdir(dir);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function files(spec: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(spec)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
}

const none: ListOptions = { exclude: [], alwaysExclude: [] };
const paths = async (opts = none) => (await listContext(dir, opts)).entries.map((e) => `${e.type === 'dir' ? 'd' : e.type === 'file' ? 'f' : 'l'} ${e.path}`);

describe('listContext', () => {
  it('honours .dockerignore as docker build reads it: root-anchored names, globs, ** and ! exceptions', async () => {
    await files({
      '.dockerignore': '# comment\nbig\n*.log\n**/cache\n!big/keep.txt\n',
      'server.js': 'x',
      'big/blob.bin': 'b'.repeat(1000),
      'big/keep.txt': 'k',
      'big/sub/deep.bin': 'd',
      'a.log': 'l',
      'lib/b.log': 'nested logs are not matched by *.log (Docker anchors it at the root)',
      'lib/cache/c': 'c',
      'cache/c': 'c',
    });
    expect(await paths()).toEqual([
      'f .dockerignore',
      'd big',
      'f big/keep.txt',
      'd lib',
      'f lib/b.log',
      'f server.js',
    ]);
  });

  it('adds build.exclude after .dockerignore, so an exclude pattern can re-include what .dockerignore left out', async () => {
    await files({ '.dockerignore': 'docs\n', 'docs/a.md': 'a', 'docs/b.md': 'b', 'tmp/x': 'x', 'app.js': 'y' });
    expect(await paths({ exclude: ['tmp', '!docs/b.md'], alwaysExclude: [] })).toEqual(['f .dockerignore', 'f app.js', 'd docs', 'f docs/b.md']);
  });

  it('skips a folder whole when nothing can re-include inside it, and never lists the always-excluded paths', async () => {
    await files({ 'server.js': 's', 'reports/history/cycle-001.json': '{}', 'loop.config.yaml': 'c', '.deploy-loop/builds/x/c001-abc/server.js': 's' });
    const listed = await paths({ exclude: [], alwaysExclude: [join(dir, 'reports'), join(dir, 'loop.config.yaml'), join(dir, '.deploy-loop')] });
    expect(listed).toEqual(['f server.js']);
  });

  it('lists symlinks as links (never followed), so a link to its own folder cannot loop', async () => {
    await files({ 'a.txt': 'a' });
    await symlink('.', join(dir, 'self'));
    await symlink('a.txt', join(dir, 'b.txt'));
    expect(await paths()).toEqual(['f a.txt', 'l b.txt', 'l self']);
  });

  it('digest: the same for the same paths, modes and contents, whatever the mtimes; different when any of them changes', async () => {
    await files({ 'server.js': 'one', 'lib/util.js': 'two' });
    const first = await listContext(dir, none);
    expect(first.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(first.files).toBe(2);
    expect(first.bytes).toBe(6);

    await utimes(join(dir, 'server.js'), new Date(2001, 1, 1), new Date(2001, 1, 1));
    expect((await listContext(dir, none)).digest).toBe(first.digest);

    await writeFile(join(dir, 'server.js'), 'onE');
    const content = (await listContext(dir, none)).digest;
    expect(content).not.toBe(first.digest);
    await writeFile(join(dir, 'server.js'), 'one');
    expect((await listContext(dir, none)).digest).toBe(first.digest);

    await chmod(join(dir, 'server.js'), 0o755);
    const mode = (await listContext(dir, none)).digest;
    expect(mode).not.toBe(first.digest);
    await chmod(join(dir, 'server.js'), 0o644);

    await rm(join(dir, 'lib/util.js'));
    await writeFile(join(dir, 'util.js'), 'two');
    const moved = (await listContext(dir, none)).digest;
    expect(moved).not.toBe(first.digest);

    // Only what is included counts: an excluded file's content does not move the digest.
    await rm(join(dir, 'util.js'));
    await files({ 'lib/util.js': 'two', 'node_modules/dep/index.js': 'v1' });
    const withDeps = (await listContext(dir, { exclude: ['node_modules'], alwaysExclude: [] })).digest;
    await writeFile(join(dir, 'node_modules/dep/index.js'), 'v2');
    expect((await listContext(dir, { exclude: ['node_modules'], alwaysExclude: [] })).digest).toBe(withDeps);
    expect(withDeps).toBe(first.digest);
  });
});

describe('copyListing', () => {
  it('copies exactly the listed entries with their modes, and links verbatim', async () => {
    await files({ 'server.js': 'srv', 'big/blob.bin': 'b', 'bin/run': '#!/bin/sh\n', '.dockerignore': 'big\n' });
    await chmod(join(dir, 'bin/run'), 0o750);
    await symlink('../server.js', join(dir, 'bin/link'));
    const listing = await listContext(dir, none);
    const dest = join(root, 'out');
    await copyListing(listing, dest);
    expect(await readFile(join(dest, 'server.js'), 'utf8')).toBe('srv');
    expect((await stat(join(dest, 'bin/run'))).mode & 0o777).toBe(0o750);
    expect(await readlink(join(dest, 'bin/link'))).toBe('../server.js');
    await expect(lstat(join(dest, 'big'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await listContext(dest, none)).digest).toBe(listing.digest);
  });

  it('refuses to finish a copy when a file changed after it was hashed', async () => {
    await files({ 'a.txt': 'a', 'b.txt': 'b' });
    const listing = await listContext(dir, none);
    await writeFile(join(dir, 'b.txt'), 'changed after listing');
    await expect(copyListing(listing, join(root, 'out'))).rejects.toBeInstanceOf(ContextChangedError);
  });
});
