/** Writes that never leave a half-written file behind: write a temp file, fsync, rename over. */
import { randomBytes } from 'node:crypto';
import { closeSync, fsync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { dirname, basename, join } from 'node:path';
import { StageError } from './errors.js';

/** What a full, read-only or forbidden disk says, in words, with what to do. */
const STORAGE_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  EFBIG: 'the file is too large for the file system',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'an input/output error on the device',
};

export const STORAGE_HINT = 'free some space or fix the permissions, or set reports.dir to a writable folder; nothing was half-written';

/**
 * A storage failure as a clear error (exit 3, the report stage), naming the file and the cause;
 * anything else is returned as it was.
 */
export function storageError(err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why = code ? STORAGE_ERRORS[code] : undefined;
  if (!why) return err;
  return new StageError('report', `cannot write ${what}: ${why} (${code})`, STORAGE_HINT, { cause: err });
}

const fsyncFd = promisify(fsync);

/**
 * `durable: false` skips the fsync: the rename still means readers see the old file or the new one,
 * never a torn one, but a power cut may lose the new content. Use it for files that can be rebuilt
 * (rendered reports); history records stay durable. A failed write (a full disk fails the write or
 * the fsync, not the rename) removes the temp file before the error is thrown.
 *
 * Only the fsync waits on the thread pool: opening, writing to the page cache, closing and renaming
 * a file take microseconds each, and as separate awaits (six per file) each cost a trip through the
 * thread pool and the event loop, most of a cycle's publishing time on a loaded machine. The folder
 * is made only when the open says it is missing.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, opts: { durable?: boolean } = {}): Promise<void> {
  if (opts.durable === false) return writeRebuildableSync(path, data);
  const tmp = tempName(path);
  try {
    const fd = openWritten(tmp, data);
    try {
      await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    failed(tmp, path, err);
  }
}

/**
 * writeFileAtomic without the fsync, all at once: for small files the records rebuild (rendered
 * reports, the history index), written together after a cycle. Nothing is left running after an error.
 */
export function writeRebuildableSync(path: string, data: string | Uint8Array): void {
  const tmp = tempName(path);
  try {
    closeSync(openWritten(tmp, data));
    renameSync(tmp, path);
  } catch (err) {
    failed(tmp, path, err);
  }
}

/** A new temporary file holding `data`, open; closed again when the write fails. */
function openWritten(tmp: string, data: string | Uint8Array): number {
  const fd = openMaking(tmp);
  try {
    writeFileSync(fd, data);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

/** A failed atomic write leaves no temporary file and says which file it was. */
function failed(tmp: string, path: string, err: unknown): never {
  rmSync(tmp, { force: true });
  throw storageError(err, path);
}

function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Opens `file` for writing, making its folder first when it is missing (with makeDirSync's causes). */
function openMaking(file: string): number {
  try {
    return openSync(file, 'w');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    makeDirSync(dirname(file));
    return openSync(file, 'w');
  }
}

/** makeDir, synchronous: the real cause (EROFS, EACCES) rather than node's ENOENT. */
function makeDirSync(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const missing: string[] = [];
    let at = dir;
    while (!exists(at) && dirname(at) !== at) {
      missing.unshift(at);
      at = dirname(at);
    }
    for (const level of missing) mkdirSync(level);
    throw err;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * `mkdir -p` that reports the real cause: node's recursive mkdir says ENOENT on a read-only file
 * system, so the missing levels are made one by one to get EROFS (or EACCES) instead.
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const missing: string[] = [];
    let at = dir;
    while (!(await stat(at).then(() => true, () => false)) && dirname(at) !== at) {
      missing.unshift(at);
      at = dirname(at);
    }
    for (const level of missing) await mkdir(level);
    throw err;
  }
}

/** Room a cycle needs in the reports folder: a record, its rendered reports and the journal, with margin. */
export const DEFAULT_PROBE_BYTES = 1024 * 1024;

/**
 * Preflight for a cycle: the reports folder exists (or can be made), is writable, and has room for
 * `bytes` (a record's size: write and fsync a probe that large, then remove it). Throws the same
 * clear error a later write would (exit 3), so a cycle that could not record its outcome never
 * touches traffic.
 */
export async function assertReportsWritable(dir: string, bytes: number = DEFAULT_PROBE_BYTES): Promise<void> {
  const probe = join(dir, `.write-probe.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await makeDir(dir);
    const fh = await open(probe, 'wx');
    try {
      const chunk = Buffer.alloc(Math.min(bytes, 64 * 1024), 0x20);
      for (let written = 0; written < bytes; written += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bytes - written));
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await rm(probe, { force: true }).catch(() => undefined);
    const e = storageError(err, `the reports folder ${dir}`);
    if (e instanceof StageError) throw new StageError('report', `${e.message.replace(/^report: /, '')}; the cycle was not started and traffic was not touched`, STORAGE_HINT, { cause: err });
    throw e;
  }
  await rm(probe, { force: true });
}
