/**
 * The one redaction module: every exit (records, reports, logs at every level, stdout, annotations,
 * the issues file, the fix command's output) goes through `redactText`, with one set of rules:
 *
 * - known values: every secret the config holds (collected each time a config is loaded, so a config
 *   reloaded by the loop adds its new values) plus the ones a caller passes, longest first;
 * - fragments of a known value left at a cut (`abcdef…`, a line tail starting mid-value), so a
 *   truncation that ran before redaction cannot leak a secret's prefix;
 * - by look: `Bearer`/`Basic`/`Token` credentials, JWTs, `Authorization:`/`Cookie:` pairs, secret-named
 *   `"key": "value"` and `KEY=value` pairs, credential query parameters (`?token=`, `?api_key=`, …)
 *   and URL user info (`postgres://app:pw@db`).
 *
 * Over-masking is preferred to a partial mask. Redact before cutting (`truncateRedacted`) wherever
 * the secrets are at hand; the fragment rule is the net under the places that cannot.
 */

export const REDACTED = '[redacted]';

/** Names (env keys, header names, JSON keys) whose values are credentials. */
const SECRET_NAME =
  /secret|token|passw(or)?d|passphrase|api[-_]?key|access[-_]?key|private[-_]?key|credential|auth(?!or)|session|cookie|signature|(^|[-_])(key|pw|pwd)$/i;
/** Header names that are credentials whatever the name pattern says. */
const SECRET_HEADER_NAMES = new Set(['authorization', 'proxy-authorization', 'x-serverless-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token']);
/** A header value that is a credential whatever the header is called. */
const SECRET_HEADER_VALUE = /^\s*(bearer|basic|token)\s+\S/i;

/** Known values shorter than this would redact ordinary words; a secret that short is not much of one. */
const MIN_SECRET = 4;
/** A cut-off piece of a known value at least this long is masked; shorter pieces say little. */
const MIN_FRAGMENT = 10;
/** Parts derived from a header (the token after "Bearer", a cookie value) shorter than this are not secrets of their own. */
const MIN_PART = 6;

// ---- rules by look ----------------------------------------------------------------------------

/** `Authorization: …`, `"cookie": "…"`, `set-cookie=…`: a quoted value, or the rest of the line. */
const HEADER_PAIR =
  /\b((?:proxy-|x-serverless-)?authorization|(?:set-)?cookie|x-api-key|x-auth-token)(\\{0,2}["']|)(\s*[:=]\s*)(?:(\\{0,2}["'])(.*?)\4|([^\r\n]*))/gi;
/** Any other secret-named JSON key with a quoted value: `"client_secret":"…"`, `\"api_key\": \"…\"`. */
const NAMED_QUOTED =
  /((\\{0,2})["'][A-Za-z0-9_.-]*(?:secret|token|passw(?:or)?d|passphrase|api[-_]?key|access[-_]?key|private[-_]?key|credential)[A-Za-z0-9_.-]*\2["']\s*[:=]\s*)(\2["'])(?:(?!\3).)*\3/gi;
/** `API_TOKEN=…`, `password=…`, `--api-key=…` (an env dump, a command line, a form body). */
const NAMED_ASSIGN =
  /(^|[\s,;&?{(])((?:--?)?[A-Za-z0-9_.-]*(?:secret|token|passw(?:or)?d|passphrase|api[-_]?key|access[-_]?key|private[-_]?key|credential)[A-Za-z0-9_.-]*=)(?!\[redacted\])[^\s&;,"'<>)}]+/gi;
/** Credential query parameters in a URL written out in text. */
const QUERY_PARAM =
  /([?&;](?:[A-Za-z0-9_.-]*(?:token|secret|passw(?:or)?d|api[-_]?key|apikey|signature|credential|session|auth(?!or))[A-Za-z0-9_.-]*|key|sig|code|pwd|pw)=)(?!\[redacted\])[^&#\s"'<>]+/gi;
/** User info in a URL: `scheme://user:password@host`, `https://TOKEN@host`. */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)(?!\[redacted\]@)[^\s/?#@"'<>]+@/gi;
/** A scheme credential; the lookahead (a digit or token punctuation) keeps prose ("Basic authentication") intact. */
const SCHEME_CREDENTIAL = /\b(bearer|basic|token|digest)(\s+)(?!\[redacted\])(?=[A-Za-z0-9._~+/=-]*[0-9._~+/=])[A-Za-z0-9._~+/=-]{6,}/gi;
/** JSON Web Tokens (ID tokens, session tokens): three base64url parts, the first a JSON header. */
const JWT = /\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

// ---- known values -----------------------------------------------------------------------------

/**
 * Every secret value seen in this process: each loaded config adds its own. Process-wide on
 * purpose: the log sink and renderers that are not handed a list still redact them, and a value
 * from an earlier version of a reloaded config stays a secret.
 */
const known = new Set<string>();

/**
 * Per list of secrets (the known ones and a caller's), the list and the texts already redacted
 * with it. Redaction is a pure function of the text and the list, and the same strings come back
 * every cycle (check names, paths, messages; each record is redacted when it is made, and again as
 * the current and as the previous cycle by the reports): each is worked out once. A new secret
 * makes a new list, so nothing redacted without it is reused.
 */
interface SecretRules {
  list: string[];
  memo: Map<string, string>;
  /** Characters held by the memo, keys and values. */
  chars: number;
}
/** By the known secrets' count and the caller's list, as passed. */
const rulesByKey = new Map<string, SecretRules>();
/** By the list's content: callers whose extra secrets are all known already share one memo. */
const rulesByList = new Map<string, SecretRules>();
/** Bounds: lists kept, characters a memo holds (about 16 MB; then it starts over), longest text memoized. */
const MAX_LISTS = 8;
const MAX_MEMO_CHARS = 8 * 1024 * 1024;
const MAX_MEMO_TEXT = 4096;

/** Adds values to the process's known secrets (short ones are ignored). */
export function rememberSecrets(values: Iterable<string>): void {
  for (const v of values) if (v.length >= MIN_SECRET) known.add(v);
}

/** The known secrets and the given ones (with their JSON- and URL-encoded forms, longest first), and their memo. */
function secretRules(extra: readonly string[]): SecretRules {
  const key = `${known.size}\u0000${extra.join('\u0000')}`;
  const hit = rulesByKey.get(key);
  if (hit) return hit;
  const out = new Set<string>();
  for (const s of [...known, ...extra]) {
    if (s.length < MIN_SECRET) continue;
    out.add(s);
    const json = JSON.stringify(s).slice(1, -1);
    if (json !== s) out.add(json);
    const url = encodeURIComponent(s);
    if (url !== s) out.add(url);
  }
  const list = [...out].sort((a, b) => b.length - a.length);
  const listKey = list.join('\u0000');
  let rules = rulesByList.get(listKey);
  if (!rules) {
    if (rulesByList.size >= MAX_LISTS) rulesByList.clear();
    rules = { list, memo: new Map(), chars: 0 };
    rulesByList.set(listKey, rules);
  }
  if (rulesByKey.size >= MAX_LISTS) rulesByKey.clear();
  rulesByKey.set(key, rules);
  return rules;
}

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** True when a header (by name or by the look of its value) carries a credential. */
export function isSecretHeader(name: string, value = ''): boolean {
  const lower = name.toLowerCase();
  return SECRET_HEADER_NAMES.has(lower) || SECRET_NAME.test(lower) || SECRET_HEADER_VALUE.test(value);
}

// ---- text -------------------------------------------------------------------------------------

/** Masks every rule above in `s`; `secrets` adds values to the known ones for this call. */
export function redactText(s: string, secrets: readonly string[] = []): string {
  if (s.length === 0) return s;
  const rules = secretRules(secrets);
  if (s.length > MAX_MEMO_TEXT) return redactWith(s, rules.list);
  const seen = rules.memo.get(s);
  if (seen !== undefined) return seen;
  const out = redactWith(s, rules.list);
  if (rules.chars > MAX_MEMO_CHARS) {
    rules.memo.clear();
    rules.chars = 0;
  }
  rules.memo.set(s, out);
  rules.chars += s.length + out.length;
  return out;
}

function redactWith(s: string, list: readonly string[]): string {
  let out = s;
  for (const secret of list) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  out = maskFragments(out, list);
  return out
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(HEADER_PAIR, (_m, name: string, keyQuote: string, sep: string, valueQuote: string | undefined) =>
      valueQuote === undefined ? `${name}${keyQuote}${sep}${REDACTED}` : `${name}${keyQuote}${sep}${valueQuote}${REDACTED}${valueQuote}`,
    )
    .replace(NAMED_QUOTED, (_m, head: string, _esc: string, quote: string) => `${head}${quote}${REDACTED}${quote}`)
    .replace(NAMED_ASSIGN, `$1$2${REDACTED}`)
    .replace(QUERY_PARAM, `$1${REDACTED}`)
    .replace(SCHEME_CREDENTIAL, `$1$2${REDACTED}`)
    .replace(JWT, REDACTED);
}

/** Cut points: the ends of the text and every ellipsis a truncation leaves. */
const CUT = /…|\.\.\./g;

/** The piece of a known value left at a cut: `<prefix>…` at the end, or `…<suffix>` at the start. */
function maskFragments(text: string, secrets: readonly string[]): string {
  const long = secrets.filter((x) => x.length > MIN_FRAGMENT);
  if (long.length === 0 || text.length < MIN_FRAGMENT) return text;
  const ends: number[] = [text.length];
  const starts: number[] = [0];
  for (const m of text.matchAll(CUT)) {
    ends.push(m.index);
    starts.push(m.index + m[0].length);
  }
  const spans: [number, number][] = [];
  for (const secret of long) {
    for (const end of ends) {
      for (let k = Math.min(secret.length - 1, end); k >= MIN_FRAGMENT; k--) {
        if (text.startsWith(secret.slice(0, k), end - k)) {
          spans.push([end - k, end]);
          break;
        }
      }
    }
    for (const start of starts) {
      for (let k = Math.min(secret.length - 1, text.length - start); k >= MIN_FRAGMENT; k--) {
        if (text.startsWith(secret.slice(-k), start)) {
          spans.push([start, start + k]);
          break;
        }
      }
    }
  }
  if (spans.length === 0) return text;
  spans.sort((a, b) => b[0] - a[0]);
  let out = text;
  let floor = Infinity;
  for (const [from, to] of spans) {
    if (to > floor) continue;
    out = `${out.slice(0, from)}${REDACTED}${out.slice(to)}`;
    floor = from;
  }
  return out;
}

/**
 * Redacts, then cuts to `max` characters: the order that cannot leave a secret's prefix behind.
 * `note` says what was cut (`… (N more characters)`).
 */
export function truncateRedacted(s: string, max: number, secrets: readonly string[] = [], opts: { note?: boolean } = {}): string {
  const r = redactText(s, secrets);
  if (r.length <= max) return r;
  return opts.note ? `${r.slice(0, max)}… (${r.length - max} more characters)` : `${r.slice(0, Math.max(0, max - 1))}…`;
}

/** A deep copy with every string redacted. Keys are kept: a check may well be named `authorization`. */
export function redactDeep<T>(value: T, secrets: readonly string[] = []): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactText(v, secrets);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) out[k] = walk(x);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}

// ---- URLs and headers -------------------------------------------------------------------------

/** A URL fit for a message: user info and credential-like query values removed. */
export function redactUrl(url: string | URL, secrets: readonly string[] = []): string {
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
    if (isSecretQueryName(name)) u.searchParams.set(name, REDACTED);
  }
  return redactText(u.toString().replaceAll(encodeURIComponent(REDACTED), REDACTED), secrets);
}

function isSecretQueryName(name: string): boolean {
  return SECRET_NAME.test(name) || /^(key|sig|code|apikey)$/i.test(name);
}

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

/** A copy of the headers with credential values replaced by `[redacted]`. Names keep their case. */
export function redactHeaders(h: HeaderSource | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of entries(h)) out[name] = isSecretHeader(name, value) ? REDACTED : redactText(value);
  return out;
}

/**
 * The strings to scrub for these headers: the whole value of every credential header plus the parts
 * a server might echo on their own (the token after the scheme, cookie values). With `all`, every
 * value counts as a secret (headers injected by the suite, e.g. an ID token).
 */
export function secretsFromHeaders(h: HeaderSource | undefined, opts: { all?: boolean } = {}): string[] {
  const out = new Set<string>();
  for (const [name, value] of entries(h)) {
    if (!opts.all && !isSecretHeader(name, value)) continue;
    const whole = value.trim();
    if (whole) out.add(whole);
    const scheme = /^\s*\S+\s+(\S+)\s*$/.exec(value);
    if (scheme?.[1] && scheme[1].length >= MIN_PART) out.add(scheme[1]);
    // Basic credentials are base64 of user:password; the password may be echoed decoded.
    if (/^\s*basic\s/i.test(value) && scheme?.[1]) {
      const decoded = Buffer.from(scheme[1], 'base64').toString('utf8');
      const pw = decoded.slice(decoded.indexOf(':') + 1);
      if (decoded.includes(':') && pw.length >= MIN_PART) out.add(pw);
    }
    const lower = name.toLowerCase();
    if (lower === 'cookie' || lower === 'set-cookie') {
      for (const pair of value.split(/[;,]/)) {
        const v = pair.slice(pair.indexOf('=') + 1).trim();
        if (pair.includes('=') && v.length >= MIN_PART) out.add(v);
      }
    }
  }
  return [...out];
}

/** Secrets inside a string that holds a URL or a credential-bearing connection string. */
function secretsInUrlText(s: string): string[] {
  const out: string[] = [];
  for (const m of s.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/([^\s/?#@"'<>]+)@/gi)) {
    const info = m[1] ?? '';
    out.push(info);
    const colon = info.indexOf(':');
    if (colon >= 0) out.push(info.slice(colon + 1), decodeQuietly(info.slice(colon + 1)));
  }
  for (const m of s.matchAll(/[?&;]([^=&#\s]+)=([^&#\s"'<>]+)/g)) if (isSecretQueryName(m[1] ?? '')) out.push(m[2] ?? '', decodeQuietly(m[2] ?? ''));
  return out;
}

function decodeQuietly(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Values of secret-named flags in an argument list: `--api-key VALUE`, `--token=VALUE`. */
export function secretsInArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  argv.forEach((arg, i) => {
    const eq = /^--?([A-Za-z0-9_.-]+)=(.+)$/.exec(arg);
    if (eq) {
      if (isSecretName(eq[1] ?? '')) out.push(eq[2] ?? '');
      return;
    }
    const flag = /^--?([A-Za-z0-9_.-]+)$/.exec(arg);
    const next = argv[i + 1];
    if (flag && next !== undefined && !next.startsWith('-') && isSecretName(flag[1] ?? '')) out.push(next);
  });
  return out;
}

// ---- the config's secrets ---------------------------------------------------------------------

interface SecretSource {
  target: unknown;
  build: unknown;
  loop: { fix?: { command: string[]; env?: Record<string, string> } };
  smoke: { checks: readonly { headers?: Record<string, string>; env?: Record<string, string>; command?: string[] }[] };
}

/**
 * Every secret value a config holds: secret-named env values (target, build, checks, fix) and
 * `target.secretEnv`, credential headers and their parts, the values of secret-named flags in
 * command lines, and passwords, user info and credential query values in any URL it holds.
 * The values are also remembered for the whole process (`rememberSecrets`). Call it for each
 * config loaded: the loop's reloaded configs bring their own.
 */
export function collectSecrets(config: SecretSource, extra: Iterable<string> = []): string[] {
  const out = new Set<string>(extra);
  const target = config.target as { env?: Record<string, string>; secretEnv?: string[]; command?: string[] };
  const secretEnv = new Set(target.secretEnv ?? []);
  const envMap = (m: Record<string, string> | undefined) => {
    for (const [k, v] of Object.entries(m ?? {})) if (isSecretName(k) || secretEnv.has(k)) out.add(v);
  };
  envMap(target.env);
  const build = config.build as { env?: Record<string, string>; buildArgs?: Record<string, string>; command?: string[] };
  envMap(build.env);
  envMap(build.buildArgs);
  envMap(config.loop.fix?.env);
  for (const argv of [target.command, build.command, config.loop.fix?.command]) for (const v of secretsInArgv(argv ?? [])) out.add(v);
  for (const check of config.smoke.checks) {
    for (const v of secretsFromHeaders(check.headers)) out.add(v);
    envMap(check.env);
    for (const v of secretsInArgv(check.command ?? [])) out.add(v);
  }
  walkStrings(config, (s) => {
    if (s.includes('@') || s.includes('=')) for (const v of secretsInUrlText(s)) out.add(v);
  });
  const list = [...out].filter((s) => s.length >= MIN_SECRET).sort((a, b) => b.length - a.length);
  rememberSecrets(list);
  return list;
}

function walkStrings(v: unknown, visit: (s: string) => void): void {
  if (typeof v === 'string') visit(v);
  else if (Array.isArray(v)) for (const x of v) walkStrings(x, visit);
  else if (v !== null && typeof v === 'object') for (const x of Object.values(v)) walkStrings(x, visit);
}
