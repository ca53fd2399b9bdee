/**
 * Reading and removing the two locks a loop takes: REPORTS/.lock on this machine and, on Cloud
 * Run, the lock annotation on the service. Shared by `deploy-loop unlock` and `deploy-loop status`.
 */
import { readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { CloudRunTarget } from '../deploy/cloudrun/target.js';
import { pidAlive, type LockState } from '../deploy/cloudrun/lock.js';
import { lockFile } from '../loop/lock.js';
import type { Logger } from '../log.js';

export interface LocalLock {
  file: string;
  holder: { pid: number; host: string; startedAt: string; runId: string; command: string };
  state: Exclude<LockState, 'expired'>;
}

/** REPORTS/.lock with what is known of its holder; undefined when there is none (or it is not a lock). */
export async function readLocalLock(reportsDir: string): Promise<LocalLock | undefined> {
  const file = lockFile(reportsDir);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const h = JSON.parse(text) as Partial<LocalLock['holder']>;
    if (typeof h.pid !== 'number' || typeof h.host !== 'string') return undefined;
    const holder = { pid: h.pid, host: h.host, startedAt: String(h.startedAt), runId: String(h.runId), command: String(h.command ?? 'deploy-loop') };
    const state = holder.host !== hostname() ? 'unknown' : pidAlive(holder.pid) ? 'live' : 'dead';
    return { file, holder, state };
  } catch {
    return undefined;
  }
}

export async function removeLocalLock(lock: LocalLock): Promise<void> {
  await unlink(lock.file).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}

/** A Cloud Run target for the config's service, when the config deploys to Cloud Run (not the embedded emulator, whose state lives only as long as its run). */
export function cloudRunTargetFor(loaded: LoadedConfig, log: Logger): CloudRunTarget | undefined {
  const t = loaded.config.target;
  if (t.kind !== 'cloudrun' || t.endpoint?.emulator) return undefined;
  return new CloudRunTarget(t, { service: loaded.config.service, log });
}

export function reportsDirOf(loaded: LoadedConfig): string {
  return resolve(loaded.baseDir, loaded.config.reports.dir);
}

export function describeHolder(h: { runId: string; command: string; pid: number; host: string; startedAt: string }, state: LockState): string {
  const what = { live: 'alive', dead: 'gone', unknown: 'on another host, cannot be checked', expired: 'expired' }[state];
  return `run ${h.runId} (${h.command}), pid ${h.pid} on ${h.host} (${what}), since ${h.startedAt}`;
}
