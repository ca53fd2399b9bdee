/**
 * How the Cloud Run target treats API errors: transient ones (UNAVAILABLE, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED) are retried with bounded exponential backoff and full jitter; everything else
 * becomes a StageError at once, carrying the API's own message and what to do about it.
 */
import type { StageContext } from '../../context.js';
import { GRPC_CODE } from '../../grpc-codes.js';
import { DeployLoopError, InterruptedError, StageError, type Stage } from '../../errors.js';

export const GRPC = GRPC_CODE;

const CODE_NAMES: Record<number, string> = {
  1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 10: 'ABORTED', 11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};

const TRANSIENT = new Set<number>([GRPC.UNAVAILABLE, GRPC.DEADLINE_EXCEEDED, GRPC.RESOURCE_EXHAUSTED]);

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Source of randomness in [0, 1) for the jitter. */
  random: () => number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8000, random: Math.random };

export interface ApiErrorInfo {
  code: number | undefined;
  /** The API's message without the client's "14 UNAVAILABLE: " prefix. */
  message: string;
}

export function errorInfo(err: unknown): ApiErrorInfo {
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  const code = typeof e?.code === 'number' ? e.code : undefined;
  const details = typeof e?.details === 'string' && e.details ? e.details : undefined;
  const message = details ?? (typeof e?.message === 'string' ? e.message.replace(/^\d+ [A-Z_]+: /, '') : String(err));
  return { code, message };
}

export function isTransient(err: unknown): boolean {
  const { code } = errorInfo(err);
  return code !== undefined && TRANSIENT.has(code);
}

export function hasCode(err: unknown, code: number): boolean {
  return errorInfo(err).code === code;
}

/** Full jitter: a random wait up to the exponential bound, so many clients do not retry in step. */
export function backoffDelay(attempt: number, policy: RetryPolicy): number {
  const bound = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(policy.random() * bound);
}

/** Runs `fn`, retrying transient API failures; other failures are rethrown as they are. */
export async function withRetry<T>(ctx: StageContext, doing: string, policy: RetryPolicy, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (ctx.signal.aborted) throw new InterruptedError(`interrupted while ${doing}`);
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || attempt >= policy.attempts) throw err;
      const delay = backoffDelay(attempt, policy);
      const info = errorInfo(err);
      ctx.log.warn({ code: codeName(info.code), attempt, retryInMs: delay }, `${doing}: ${info.message}; retrying`);
      await sleep(delay, ctx.signal);
    }
  }
}

export function codeName(code: number | undefined): string {
  return code === undefined ? 'UNKNOWN' : (CODE_NAMES[code] ?? String(code));
}

/** The StageError for an API failure, with the next step for the common causes. */
export function apiFailure(stage: Stage, doing: string, err: unknown): DeployLoopError {
  if (err instanceof DeployLoopError) return err;
  const { code, message } = errorInfo(err);
  const suffix = code === undefined ? '' : ` (${codeName(code)})`;
  return new StageError(stage, `${doing}: ${message}${suffix}`, hintFor(code, message), { cause: err });
}

function hintFor(code: number | undefined, message: string): string | undefined {
  if (code === GRPC.PERMISSION_DENIED) {
    return 'the deploying identity needs roles/run.developer (or roles/run.admin) on the service and roles/iam.serviceAccountUser on its runtime service account';
  }
  if (code === GRPC.UNAUTHENTICATED || /default credentials|could not load the default/i.test(message)) {
    return 'no usable Google credentials: run `gcloud auth application-default login`, or set up workload identity federation in CI';
  }
  if (code === GRPC.INVALID_ARGUMENT) return 'the Cloud Run API rejected the request: fix the target settings the message names';
  if (code === GRPC.NOT_FOUND) return 'check target.project, target.region and target.service';
  if (code !== undefined && TRANSIENT.has(code)) return 'the Cloud Run API kept failing; try again later';
  return undefined;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
