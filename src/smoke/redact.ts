/**
 * Keeps secrets out of evidence. Reports are written to disk, pasted into CI summaries and handed to
 * fix commands, so anything a check sent as a credential (and anything that merely looks like one)
 * is replaced before it reaches a `Failure`.
 */

export const REDACTED = '[redacted]';

/** Header names whose values are credentials wherever they appear. */
const SECRET_HEADER_NAMES = new Set([
  'authorization',
  'proxy-authorization',
  'x-serverless-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'x-auth-token',
]);
/** Name fragments that mark a custom header as a credential (x-my-token, x-client-secret, …). */
const SECRET_NAME_PATTERN = /token|secret|passw(or)?d|api[-_]?key|credential|session/i;
/** Values that are credentials whatever the header is called. */
const SECRET_VALUE_PATTERN = /^\s*(bearer|basic|token)\s+\S/i;

/** `Bearer <token>` anywhere in free text (an echoed header, an error message). */
const BEARER_IN_TEXT = /\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*/gi;
/** JSON Web Tokens (ID tokens, session tokens): three base64url parts, the first a JSON header. */
const JWT_IN_TEXT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
/** Query parameters that carry credentials. */
const SECRET_QUERY_PARAM = /token|secret|passw(or)?d|key|sig(nature)?|auth|session|code/i;

/** Derived parts (a cookie value, the token after "Bearer") shorter than this are not treated as secrets on their own. */
const MIN_PART_LENGTH = 6;

export type HeaderSource = Record<string, string> | Headers | Iterable<[string, string]>;

function entries(h: HeaderSource | undefined): [string, string][] {
  if (!h) return [];
  if (typeof (h as Headers).forEach === 'function' && typeof (h as Headers).get === 'function') {
    const out: [string, string][] = [];
    (h as Headers).forEach((value, name) => out.push([name, value]));
    return out;
  }
  if (Symbol.iterator in (h as object)) return [...(h as Iterable<[string, string]>)];
  return Object.entries(h as Record<string, string>);
}

/** True when a header (by name or by the look of its value) carries a credential. */
export function isSecretHeader(name: string, value = ''): boolean {
  const lower = name.toLowerCase();
  return SECRET_HEADER_NAMES.has(lower) || SECRET_NAME_PATTERN.test(lower) || SECRET_VALUE_PATTERN.test(value);
}

/** A copy of the headers with credential values replaced by `[redacted]`. Names keep their case. */
export function redactHeaders(h: HeaderSource | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of entries(h)) out[name] = isSecretHeader(name, value) ? REDACTED : value;
  return out;
}

/**
 * The strings to scrub from evidence for these headers: the whole value of every credential header
 * plus its parts a server might echo on their own (the token after the scheme, cookie values).
 * With `all`, every value counts as a secret (headers injected by the suite, e.g. an ID token).
 */
export function secretsFromHeaders(h: HeaderSource | undefined, opts: { all?: boolean } = {}): string[] {
  const out = new Set<string>();
  for (const [name, value] of entries(h)) {
    if (!opts.all && !isSecretHeader(name, value)) continue;
    const whole = value.trim();
    if (whole) out.add(whole);
    const scheme = /^\s*\S+\s+(\S+)\s*$/.exec(value);
    if (scheme?.[1] && scheme[1].length >= MIN_PART_LENGTH) out.add(scheme[1]);
    const lower = name.toLowerCase();
    if (lower === 'cookie' || lower === 'set-cookie') {
      for (const pair of value.split(/[;,]/)) {
        const v = pair.slice(pair.indexOf('=') + 1).trim();
        if (pair.includes('=') && v.length >= MIN_PART_LENGTH) out.add(v);
      }
    }
  }
  return [...out];
}

/**
 * Replaces every occurrence of the given secrets, bearer tokens and JWTs in `s`. Longer secrets go
 * first so a secret that contains another is removed whole.
 */
export function redactText(s: string, secrets: string[]): string {
  let out = s;
  const ordered = [...new Set(secrets)].filter((x) => x.length > 0).sort((a, b) => b.length - a.length);
  for (const secret of ordered) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out.replace(BEARER_IN_TEXT, `$1 ${REDACTED}`).replace(JWT_IN_TEXT, REDACTED);
}

/** A URL fit for a message: user info and credential-like query values removed. */
export function redactUrl(url: string | URL, secrets: string[] = []): string {
  let u: URL;
  try {
    u = new URL(String(url));
  } catch {
    return redactText(String(url), secrets);
  }
  if (u.username || u.password) {
    u.username = REDACTED;
    u.password = '';
  }
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_QUERY_PARAM.test(name)) u.searchParams.set(name, REDACTED);
  }
  return redactText(u.toString().replaceAll(encodeURIComponent(REDACTED), REDACTED), secrets);
}
