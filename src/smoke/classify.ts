/**
 * Failure classification. Reports group issues by class, so the mapping is deliberately precise:
 * a refused connection is not a timeout, a 1011 close is not a 1008 close.
 */
import type { FailureClass } from '../model/check-result.js';

const TIMEOUT_CODES = new Set([
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_TLS_HANDSHAKE_TIMEOUT',
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

/**
 * Certificate checks that failed, by node's code: what each says about the certificate. A TLS
 * failure happens before any HTTP response, so it is a network failure, never a rejected upgrade.
 */
const TLS_CERT_CODES: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain ends in a self-signed certificate that is not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate cannot be verified: its issuer is not in the chain sent or the trusted CAs',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate issuer is not known',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate issuer is not a trusted CA',
  CERT_HAS_EXPIRED: 'certificate has expired',
  CERT_NOT_YET_VALID: 'certificate is not valid yet',
  CERT_REVOKED: 'certificate is revoked',
  CERT_UNTRUSTED: 'certificate is not trusted',
  CERT_REJECTED: 'certificate is rejected',
  CERT_SIGNATURE_FAILURE: 'certificate signature is invalid',
  CERT_CHAIN_TOO_LONG: 'certificate chain is too long',
  INVALID_CA: 'certificate chain has an invalid CA certificate',
  PATH_LENGTH_EXCEEDED: 'certificate chain is longer than its CA allows',
  INVALID_PURPOSE: 'certificate is not for use by a server',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'certificate has an invalid start date',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'certificate has an invalid expiry date',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'certificate signature cannot be read',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'certificate issuer public key cannot be read',
  HOSTNAME_MISMATCH: 'certificate is not for this host name',
  ERR_TLS_CERT_ALTNAME_INVALID: 'certificate is not for this host name',
};

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  syscall?: unknown;
  /** OpenSSL's reason, on errors node raises for TLS ("wrong version number"). */
  reason?: unknown;
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

/** OpenSSL's reason in a message like "...:error:0A00010B:SSL routines:func:wrong version number:...". */
function opensslReason(message: string): string | undefined {
  return /:error:[0-9A-Fa-f]+:[^:]*:[^:]*:([^:\n]+)/.exec(message)?.[1]?.trim();
}

/** "TLS: …" when the error is a failed certificate check or TLS handshake, else undefined. */
function tlsProblem(e: ErrorLike): string | undefined {
  const code = codeOf(e);
  if (!code) return undefined;
  const cert = TLS_CERT_CODES[code];
  if (cert) return `TLS: ${cert} (${code})`;
  const message = typeof e.message === 'string' ? e.message : '';
  const reason = typeof e.reason === 'string' ? e.reason : opensslReason(message);
  // fetch reports OpenSSL's errors as ERR_SSL_<REASON>; the ws client (a plain tls socket) as EPROTO.
  if (code.startsWith('ERR_SSL_') || (code === 'EPROTO' && reason !== undefined)) {
    return `TLS: ${reason ?? 'handshake failed'} (${code})`;
  }
  // node's own TLS errors (ERR_TLS_DH_PARAM_SIZE, ERR_TLS_INVALID_PROTOCOL_VERSION, …) carry their cause in the message.
  if (code.startsWith('ERR_TLS_')) return `TLS: ${message || 'handshake failed'} (${code})`;
  return undefined;
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
  if (chain.some((e) => tlsProblem(e) !== undefined)) return 'network';
  const network = chain.some((e) => {
    const code = codeOf(e);
    if (code && (NETWORK_CODES.has(code) || code.startsWith('UND_ERR') || code.startsWith('ERR_SOCKET'))) return true;
    if (typeof e.syscall === 'string') return true;
    // undici wraps every transport failure in `TypeError: fetch failed`; the cause may be anything.
    return e.name === 'TypeError' && e.message === 'fetch failed';
  });
  return network ? 'network' : 'check-error';
}

/**
 * The most telling message in the chain: a TLS failure in words with its code, else the message
 * carrying an error code, else the top one.
 */
export function describeError(err: unknown): string {
  const chain = chainOf(err);
  for (const e of chain) {
    const tls = tlsProblem(e);
    if (tls) return tls;
  }
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

/**
 * A hint for a 401 or 403 from Cloud Run's front end (a run.app URL, or its "Your client does not
 * have permission" page): new services are private, so a first real run meets this on every check.
 */
export function cloudRunAuthHint(status: number, url: string, body = ''): string | undefined {
  if (status !== 401 && status !== 403) return undefined;
  let host = '';
  try {
    host = new URL(url).hostname;
  } catch {
    return undefined;
  }
  if (!host.endsWith('.run.app') && !body.includes('Your client does not have permission')) return undefined;
  return `Cloud Run refused the call (${status}): the service is private. Set target.access: public, or target.auth.idToken: true with an identity that has roles/run.invoker on the service`;
}
