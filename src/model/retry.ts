/**
 * Retry policies: how long to wait before each retry (fixed or exponential, capped) and which
 * failures are worth retrying at all. An assertion failure rarely heals by itself; a refused
 * connection during a rollout often does.
 */
import { FAILURE_CLASSES, type FailureClass } from './check-result.js';

/** Names that stand for several failure classes in `retry.onlyOn`. */
export const RETRY_GROUPS = {
  network: ['network', 'connection-refused'],
  websocket: ['ws-handshake-rejected', 'ws-1011-internal-error', 'ws-1008-policy-violation', 'ws-unexpected-close'],
  http: ['http-5xx', 'http-4xx'],
  slow: ['latency', 'connect-time'],
} as const satisfies Record<string, readonly FailureClass[]>;

/** What `retry.onlyOn` accepts: every failure class, plus the group names above. */
export const RETRY_ON = [...new Set<string>([...FAILURE_CLASSES, ...Object.keys(RETRY_GROUPS)])] as [string, ...string[]];

export interface RetryPolicy {
  policy?: 'fixed' | 'exponential';
  /** First delay (exponential) or every delay (fixed); defaults to smoke.defaults.retryDelayMs. */
  delayMs?: number;
  /** Cap on any one delay. */
  maxDelayMs?: number;
  /** Retry only failures of these classes or groups; any failure when unset. */
  onlyOn?: string[];
}

export const DEFAULT_MAX_DELAY_MS = 30_000;

/** The check's policy over the suite's: field by field, the check's own settings win. */
export function mergeRetry(defaults: RetryPolicy | undefined, own: RetryPolicy | undefined): RetryPolicy {
  return { ...defaults, ...own };
}

/** Wait before retry number `retry` (1 for the first retry). */
export function retryDelayMs(policy: RetryPolicy, retry: number, fallbackDelayMs: number): number {
  const base = policy.delayMs ?? fallbackDelayMs;
  const cap = policy.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  const delay = policy.policy === 'exponential' ? base * 2 ** (retry - 1) : base;
  return Math.min(delay, cap);
}

/** Whether a failure of this class may be retried under the policy. */
export function shouldRetry(policy: RetryPolicy, cls: FailureClass | undefined): boolean {
  if (!policy.onlyOn || policy.onlyOn.length === 0) return true;
  if (cls === undefined) return false;
  return policy.onlyOn.some((name) => name === cls || (RETRY_GROUPS[name as keyof typeof RETRY_GROUPS] as readonly string[] | undefined)?.includes(cls) === true);
}
