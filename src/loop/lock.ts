/**
 * One loop per service and reports folder: REPORTS/.lock, created with O_EXCL so two processes can
 * never both create it. It names its holder (pid, host, start, run id) for the refusal message. A lock
 * whose process is gone (same host, pid not alive) is stale and taken over; a lock from another host
 * cannot be checked and is never taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { pidAlive } from '../pid.js';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  runId: string;
  service: string;
  command: string;
}

export interface HeldLock {
  file: string;
  holder: LockHolder;
  release(): void;
}

/** A lock file with no readable content that is older than this was left by a crash mid-write. */
const UNREADABLE_GRACE_MS = 5_000;

export function lockFile(reportsDir: string): string {
  return join(reportsDir, '.lock');
}

export async function acquireLock(reportsDir: string, who: { runId: string; service: string; command: string }, log?: Logger): Promise<HeldLock> {
  await mkdir(reportsDir, { recursive: true });
  const file = lockFile(reportsDir);
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), ...who };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, holder)) {
      const release = () => {
        process.off('exit', release);
        // Only our own lock: a lock that was taken over meanwhile belongs to someone else.
        const now = readHolder(file);
        if (typeof now === 'object' && now.runId === holder.runId) unlinkQuietly(file);
      };
      process.on('exit', release);
      return { file, holder, release };
    }
    const current = readHolder(file);
    if (current === 'gone') continue;
    if (current === undefined) {
      const age = await ageMs(file);
      if (age !== undefined && age < UNREADABLE_GRACE_MS) throw locked(file, 'another loop is creating the lock right now');
      log?.warn({ file }, 'taking over an unreadable lock file left by a crash');
      unlinkQuietly(file);
      continue;
    }
    if (current.host === holder.host && !pidAlive(current.pid)) {
      log?.warn({ file, stale: current }, `taking over a stale lock: process ${current.pid} is gone`);
      unlinkQuietly(file);
      continue;
    }
    throw locked(
      file,
      `another loop holds the lock on service ${current.service}: ${current.command} (pid ${current.pid} on ${current.host}, run ${current.runId}) since ${current.startedAt}`,
    );
  }
  throw locked(file, 'could not take the lock: it kept changing hands');
}

function locked(file: string, message: string): UsageError {
  return new UsageError(`${message} (${file})`, 'wait for that loop to end or stop it; a lock whose process has exited is taken over automatically');
}

function tryCreate(file: string, holder: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    writeSync(fd, `${JSON.stringify(holder)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** The holder, undefined when the file is unreadable, 'gone' when it vanished meanwhile. */
function readHolder(file: string): LockHolder | undefined | 'gone' {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    return undefined;
  }
  try {
    const h = JSON.parse(text) as Partial<LockHolder>;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string') return undefined;
    return { pid: h.pid, host: h.host, startedAt: String(h.startedAt), runId: String(h.runId), service: String(h.service), command: String(h.command ?? 'deploy-loop') };
  } catch {
    return undefined;
  }
}


async function ageMs(file: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone: nothing to do.
  }
}
