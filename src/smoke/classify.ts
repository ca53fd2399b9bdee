/**
 * Failure classification. Reports group issues by class, so the mapping is deliberately precise:
 * a refused connection is not a timeout, a 1011 close is not a 1008 close.
 */
import type { FailureClass } from './result.js';

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_FAIL',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'EPROTO',
  'HPE_INVALID_CONSTANT',
]);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  syscall?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The error, its causes and (for AggregateError, e.g. happy-eyeballs connects) its members. */
function chainOf(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < 16) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || out.includes(e as ErrorLike)) continue;
    const el = e as ErrorLike;
    out.push(el);
    if (el.cause !== undefined) queue.push(el.cause);
    if (Array.isArray(el.errors)) queue.push(...(el.errors as unknown[]));
  }
  return out;
}

function codeOf(e: ErrorLike): string | undefined {
  return typeof e.code === 'string' ? e.code : undefined;
}

/**
 * What kind of failure a thrown error means. Network errors give 'connection-refused', 'timeout' or
 * 'network'; anything else (a bug, an invalid URL) is 'check-error'. An abort from the suite's own
 * signal is not classified here: the runner turns it into a skipped check.
 */
export function classifyError(err: unknown): FailureClass {
  const chain = chainOf(err);
  if (chain.some((e) => e.name === 'TimeoutError' || TIMEOUT_CODES.has(codeOf(e) ?? ''))) return 'timeout';
  if (chain.some((e) => codeOf(e) === 'ECONNREFUSED')) return 'connection-refused';
  const network = chain.some((e) => {
    const code = codeOf(e);
    if (code && (NETWORK_CODES.has(code) || code.startsWith('UND_ERR') || code.startsWith('ERR_SOCKET'))) return true;
    if (typeof e.syscall === 'string') return true;
    // undici wraps every transport failure in `TypeError: fetch failed`; the cause may be anything.
    return e.name === 'TypeError' && e.message === 'fetch failed';
  });
  return network ? 'network' : 'check-error';
}

/** The most telling message in the chain: the one carrying an error code, else the top one. */
export function describeError(err: unknown): string {
  const chain = chainOf(err);
  const coded = chain.find((e) => codeOf(e) !== undefined && typeof e.message === 'string' && e.message !== '');
  if (coded) return String(coded.message);
  const first = chain.find((e) => typeof e.message === 'string' && e.message !== '');
  return first ? String(first.message) : String(err);
}

/** Class of a response whose status was not the expected one. */
export function classifyStatus(status: number): FailureClass {
  if (status >= 500) return 'http-5xx';
  if (status >= 400) return 'http-4xx';
  return 'assertion';
}

/** Class of a WebSocket close the script did not expect. */
export function classifyCloseCode(code: number): FailureClass {
  if (code === 1011) return 'ws-1011-internal-error';
  if (code === 1008) return 'ws-1008-policy-violation';
  return 'ws-unexpected-close';
}
