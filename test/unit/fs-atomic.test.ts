/**
 * Atomic writes: a missing folder is made, an existing file is replaced whole, and a write that
 * fails leaves neither a temp file nor a changed target, for the durable writer and the rebuildable one.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeRebuildableSync } from '../../src/fs-atomic.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'fs-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const writers = {
  writeFileAtomic: (path: string, text: string) => writeFileAtomic(path, text),
  'writeFileAtomic, durable: false': (path: string, text: string) => writeFileAtomic(path, text, { durable: false }),
  writeRebuildableSync: async (path: string, text: string) => writeRebuildableSync(path, text),
};

describe.each(Object.entries(writers))('%s', (_name, write) => {
  it('makes a missing folder, replaces an existing file whole, and leaves no temp file', async () => {
    const file = join(dir, 'a', 'b', 'report.md');
    await write(file, 'first');
    expect(await readFile(file, 'utf8')).toBe('first');
    await write(file, 'second, longer');
    expect(await readFile(file, 'utf8')).toBe('second, longer');
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['report.md']);
  });

  it('a write that fails throws, leaves what was there and no temp file', async () => {
    // A folder where the file should go: the rename over it fails.
    const target = join(dir, 'taken');
    await mkdir(target);
    await writeFile(join(target, 'inside'), 'kept');
    await expect(write(target, 'new')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['taken']);
    expect(await readFile(join(target, 'inside'), 'utf8')).toBe('kept');
  });

  it('a folder that cannot be made (a file in its way) throws and changes nothing', async () => {
    await writeFile(join(dir, 'plain'), 'a file, not a folder');
    await expect(write(join(dir, 'plain', 'sub', 'x.md'), 'y')).rejects.toThrow();
    expect(await readFile(join(dir, 'plain'), 'utf8')).toBe('a file, not a folder');
  });
});
