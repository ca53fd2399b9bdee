/**
 * The Cloud Run side of "one loop per service": a service-level annotation naming the run that
 * holds the service, with an expiry so a crashed run does not hold it forever. Service annotations
 * are not part of the revision template, so writing one creates no revision, and every
 * read-modify-write deploy carries it along unchanged.
 */
import { UsageError } from '../../errors.js';
import type { LockHolder } from '../target.js';
import type { IService } from './spec.js';

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

/** Throws when `svc` is locked by another run whose lock has not expired at `now`. */
export function checkRemoteLock(svc: IService | undefined, serviceName: string, runId: string, now: number): void {
  const held = readRemoteLock(svc);
  if (!held || held.runId === runId) return;
  const expires = Date.parse(held.expiresAt);
  if (Number.isFinite(expires) && expires <= now) return;
  throw new UsageError(
    `Cloud Run service ${serviceName} is locked by another loop: run ${held.runId} (${held.command}) on host ${held.host}, pid ${held.pid}, since ${held.startedAt}; the lock expires at ${held.expiresAt}`,
    `wait for that run to end, or remove the service annotation ${LOCK_ANNOTATION} if it is certainly gone`,
  );
}

/** The service's annotations with ours set (`lock`) or removed (undefined). */
export function withLock(svc: IService, lock: RemoteLock | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(svc.annotations ?? {}) };
  if (lock) out[LOCK_ANNOTATION] = JSON.stringify(lock);
  else delete out[LOCK_ANNOTATION];
  return out;
}
