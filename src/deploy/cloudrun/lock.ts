/**
 * The Cloud Run side of "one loop per service": a service-level annotation naming the run that
 * holds the service, with an expiry so a crashed run does not hold it forever. Service annotations
 * are not part of the revision template, so writing one creates no revision, and every
 * read-modify-write deploy carries it along unchanged.
 */
import { hostname } from 'node:os';
import { UsageError } from '../../errors.js';
import type { LockHolder } from '../target.js';
import type { IService } from './spec.js';
import { pidAlive } from '../../pid.js';

export const LOCK_ANNOTATION = 'deploy-loop.dev/lock';

export interface RemoteLock extends LockHolder {
  expiresAt: string;
}

/** The lock recorded on the service, or undefined when there is none or it cannot be read as one. */
export function readRemoteLock(svc: IService | undefined): RemoteLock | undefined {
  const raw = svc?.annotations?.[LOCK_ANNOTATION];
  if (!raw) return undefined;
  try {
    const v = JSON.parse(raw) as Partial<RemoteLock>;
    if (typeof v.runId !== 'string' || typeof v.expiresAt !== 'string') return undefined;
    return {
      runId: v.runId,
      host: String(v.host ?? '?'),
      pid: Number(v.pid ?? 0),
      startedAt: String(v.startedAt ?? '?'),
      expiresAt: v.expiresAt,
      command: String(v.command ?? '?'),
    };
  } catch {
    // Garbage in the annotation is no one's lock: it is overwritten.
    return undefined;
  }
}


export type LockState = 'expired' | 'dead' | 'live' | 'unknown';

/**
 * What is known of a lock's holder at `now`: expired; dead (its host is this machine and its pid
 * is gone: provably, so it may be taken over); live (same host, pid alive); unknown (another host,
 * unexpired: it cannot be checked from here).
 */
export function lockState(held: RemoteLock, now: number, host = hostname(), alive: (pid: number) => boolean = pidAlive): LockState {
  const expires = Date.parse(held.expiresAt);
  if (Number.isFinite(expires) && expires <= now) return 'expired';
  if (held.host !== host) return 'unknown';
  return alive(held.pid) ? 'live' : 'dead';
}

/** Throws when `svc` is locked by another run that may still be alive at `now`. */
export function checkRemoteLock(svc: IService | undefined, serviceName: string, runId: string, now: number, host = hostname(), alive: (pid: number) => boolean = pidAlive): void {
  const held = readRemoteLock(svc);
  if (!held || held.runId === runId) return;
  const state = lockState(held, now, host, alive);
  if (state === 'expired' || state === 'dead') return;
  throw new UsageError(
    `Cloud Run service ${serviceName} is locked by another loop: run ${held.runId} (${held.command}) on host ${held.host}, pid ${held.pid}, since ${held.startedAt}; the lock expires at ${held.expiresAt}`,
    state === 'live'
      ? 'wait for that run to end, or stop it'
      : 'wait for that run to end; if it is certainly gone, `deploy-loop unlock --force` removes the lock',
  );
}

/** The service's annotations with ours set (`lock`) or removed (undefined). */
export function withLock(svc: IService, lock: RemoteLock | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(svc.annotations ?? {}) };
  if (lock) out[LOCK_ANNOTATION] = JSON.stringify(lock);
  else delete out[LOCK_ANNOTATION];
  return out;
}

export { pidAlive };
