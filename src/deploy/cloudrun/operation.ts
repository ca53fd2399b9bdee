/**
 * Waiting for a Cloud Run long-running operation: polls with growing pauses, logs progress as the
 * service's conditions change, survives transient polling failures, and gives up at a deadline.
 * (gax's own `promise()` has no total timeout by default and ends the wait at the first failed poll.)
 */
import type { LROperation } from 'google-gax';
import type { StageContext } from '../../context.js';
import { InterruptedError, StageError, type Stage } from '../../errors.js';
import { apiFailure, backoffDelay, errorInfo, isTransient, sleep, type ApiErrorInfo, type RetryPolicy } from './retry.js';
import { shortName, type IService } from './spec.js';

export interface OperationOutcome<T> {
  /** The operation's result when it succeeded. */
  result?: T;
  /** The operation's own error when it finished with one (e.g. a revision that is not ready). */
  error?: ApiErrorInfo;
}

export interface WaitOptions {
  stage: Stage;
  /** What the operation does, for logs and errors: `updating Cloud Run service svc`. */
  doing: string;
  timeoutMs: number;
  policy: RetryPolicy;
  /** How often a "still waiting" line is logged. */
  heartbeatMs?: number;
}

const FIRST_POLL_MS = 250;
const MAX_POLL_MS = 5000;

export async function waitForOperation<T>(ctx: StageContext, op: LROperation<T, IService>, opts: WaitOptions): Promise<OperationOutcome<T>> {
  const started = performance.now();
  const deadline = started + opts.timeoutMs;
  const heartbeat = opts.heartbeatMs ?? 10_000;
  let nextHeartbeat = started + heartbeat;
  let pause = FIRST_POLL_MS;
  let failures = 0;
  let lastProgress = '';
  const log = ctx.log.child({ operation: shortName(op.name) });
  for (;;) {
    if (ctx.signal.aborted) throw new InterruptedError(`interrupted while ${opts.doing}`);
    try {
      // One GetOperation (or none once done); resolves with the result or rejects with the operation's error.
      await op.getOperation();
      failures = 0;
    } catch (err) {
      if (op.latestResponse?.done) return { error: errorInfo(err) };
      if (!isTransient(err) || ++failures >= opts.policy.attempts || performance.now() >= deadline) {
        throw apiFailure(opts.stage, `${opts.doing}: polling operation ${op.name}`, err);
      }
      const info = errorInfo(err);
      log.warn({ attempt: failures, message: info.message }, 'polling the operation failed; retrying');
      await sleep(Math.min(backoffDelay(failures, opts.policy), deadline - performance.now()), ctx.signal);
      continue;
    }
    if (op.latestResponse?.done) return { result: op.result as T };
    const progress = describeProgress(op.metadata as IService | null);
    if (progress && progress !== lastProgress) {
      log.info({ progress }, `${opts.doing}: in progress`);
      lastProgress = progress;
    }
    const now = performance.now();
    if (now >= deadline) {
      throw new StageError(
        opts.stage,
        `${opts.doing}: operation ${op.name} still running after ${Math.round(opts.timeoutMs / 1000)} s`,
        'raise target.operationTimeoutMs, or look at the service in the Cloud Run console; the operation may still finish',
      );
    }
    if (now >= nextHeartbeat) {
      log.info({ waitedMs: Math.round(now - started) }, `${opts.doing}: still waiting`);
      nextHeartbeat = now + heartbeat;
    }
    await sleep(Math.min(pause, deadline - now), ctx.signal);
    pause = Math.min(pause * 1.5, MAX_POLL_MS);
  }
}

/** One line from the operation's metadata (a Service snapshot): which revision, which condition. */
function describeProgress(meta: IService | null): string {
  if (!meta) return '';
  const plainMeta = JSON.parse(JSON.stringify(meta)) as IService;
  const parts: string[] = [];
  const rev = shortName(plainMeta.latestCreatedRevision);
  if (rev) parts.push(`revision ${rev}`);
  for (const c of [plainMeta.terminalCondition, ...(plainMeta.conditions ?? [])]) {
    if (c?.type && c.state) parts.push(`${c.type}=${String(c.state).replace(/^CONDITION_/, '')}`);
  }
  return parts.join(', ');
}
