/**
 * What one attempt of a check receives and returns, shared by the http and websocket kinds, plus the
 * small helpers both need (URL joining, excerpts, failure construction).
 */
import { classifyError, describeError } from './classify.js';
import { redactText } from '../redact.js';
import type { CheckFigures, CheckStatus, Evidence, Failure, FailureClass } from '../model/check-result.js';

export interface AttemptContext {
  /** Aborts on the attempt's timeout or the suite's abort, whichever comes first. */
  signal: AbortSignal;
  /** The suite's abort alone: what may cut short the courtesy after a failure (a WebSocket close handshake). */
  suiteSignal?: AbortSignal | undefined;
  timeoutMs: number;
  /** Headers for every request: the suite's extra headers merged under the check's own. */
  headers: Record<string, string>;
  /** Strings that must never appear in evidence. */
  secrets: string[];
}

export interface AttemptOutcome {
  status: Exclude<CheckStatus, 'skipped'>;
  figures: CheckFigures;
  failure?: Failure;
}

/** Bodies and frames are read up to this size; beyond it a server cannot make us hold more. */
export const MAX_BODY_BYTES = 1024 * 1024;
const EXCERPT_CHARS = 500;

/**
 * `base` (which may carry a path prefix, e.g. a proxy mount) followed by `path`. Joined by string, not
 * by URL resolution, so `/api` + `/health` is `/api/health` and a `//host` path cannot change host.
 */
export function joinUrl(base: string, path: string): URL {
  let root = roots.get(base);
  if (root === undefined) {
    const b = new URL(base);
    root = `${b.origin}${b.pathname.replace(/\/+$/, '')}`;
    if (roots.size >= 64) roots.clear(); // a long loop sees a new tag URL per cycle
    roots.set(base, root);
  }
  return new URL(`${root}${path.startsWith('/') ? path : `/${path}`}`);
}

/** Origin + path prefix of each base URL seen, so a suite parses its base once, not once per check. */
const roots = new Map<string, string>();

/**
 * Merges header maps case-insensitively; later maps win. Names are lower-cased, which is what goes on
 * the wire for HTTP/2 anyway and makes lookups simple.
 */
export function mergeHeaders(...maps: (Record<string, string> | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of maps) for (const [k, v] of Object.entries(m ?? {})) out[k.toLowerCase()] = v;
  return out;
}

/** The first ~500 characters of `text`, secrets removed, noting what was cut. */
export function excerpt(text: string, secrets: string[], truncatedAtBytes?: number): string {
  // Redact before cutting so a secret straddling the cut cannot leave a readable half.
  const head = redactText(text.slice(0, EXCERPT_CHARS * 4), secrets);
  let out = head.length > EXCERPT_CHARS ? `${head.slice(0, EXCERPT_CHARS)}…` : head;
  if (text.length > EXCERPT_CHARS) out += ` [${text.length} chars]`;
  if (truncatedAtBytes !== undefined) out += ` [truncated: only the first ${truncatedAtBytes} bytes were read]`;
  return out;
}

export function failure(cls: FailureClass, message: string, evidence: Evidence = {}): Failure {
  return { class: cls, message, evidence };
}

/** A failed attempt; 'check-error' means the check itself could not run, which is an error, not a failure. */
export function failedOutcome(f: Failure, figures: CheckFigures = {}): AttemptOutcome {
  return { status: f.class === 'check-error' ? 'error' : 'fail', figures, failure: f };
}

/** A failure from a thrown error, with a message that says what was being done. */
export function failureFromError(err: unknown, doing: string, evidence: Evidence = {}, timeoutMs?: number): Failure {
  const cls = classifyError(err);
  const after = timeoutMs === undefined ? '' : ` after ${timeoutMs} ms`;
  const detail = cls === 'timeout' ? `timed out${after}` : describeError(err);
  return failure(cls, `${doing}: ${detail}`, evidence);
}

/** Removes secrets from every free-text field of a failure: the last line of defence. */
export function redactFailure(f: Failure, secrets: string[]): Failure {
  const r = (s: string | undefined): string | undefined => (s === undefined ? undefined : redactText(s, secrets));
  const e = f.evidence;
  const evidence: Evidence = { ...e };
  for (const key of ['closeReason', 'excerpt', 'expected', 'actual'] as const) {
    if (e[key] !== undefined) evidence[key] = r(e[key]);
  }
  if (e.logTail) evidence.logTail = e.logTail.map((l) => redactText(l, secrets));
  if (e.firstFrames) evidence.firstFrames = e.firstFrames.map((l) => redactText(l, secrets));
  return { class: f.class, message: redactText(f.message, secrets), evidence };
}

export function elapsedMs(since: number): number {
  return Math.round(performance.now() - since);
}
