/**
 * The `http` check: one request with undici's own `request` API through a keep-alive Agent (one
 * connection pool per origin), the response measured against `expect`. Not global fetch: its WHATWG
 * streams and Headers cost about 1.6× undici.request per check, and a smoke suite is mostly that path.
 * Redirects are not followed (undici.request never follows them): a smoke check tests what the service
 * answers, so `expect.status: 302` works and a surprise redirect shows up as a status mismatch.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { Agent, request, type Dispatcher } from 'undici';
import type { HttpCheckConfig } from '../config/schema.js';
import {
  MAX_BODY_BYTES,
  elapsedMs,
  excerpt,
  failedOutcome,
  failure,
  failureFromError,
  type AttemptContext,
  type AttemptOutcome,
} from './attempt.js';
import { classifyStatus, cloudRunAuthHint, describeError } from './classify.js';
import { formatMismatches, matchJson } from './match.js';
import { REDACTED, isSecretHeader, redactUrl, secretsFromHeaders } from '../redact.js';
import type { FailureClass } from '../model/check-result.js';

interface BodyRead {
  text: string;
  bytes: number;
  /** More body was on the way when the limit was reached; reading stopped there. */
  truncated: boolean;
}

interface Problem {
  class: FailureClass;
  message: string;
  expected: string;
  actual: string;
}

/**
 * One Agent for every check: it keeps a keep-alive pool per origin (and drops a pool once its
 * sockets are gone), and undici unrefs idle sockets, so it never holds the process open.
 */
let agent: Dispatcher | undefined;
function httpAgent(): Dispatcher {
  agent ??= new Agent({ keepAliveTimeout: 4_000 });
  return agent;
}

/**
 * The body as text bytes: a response that says `content-encoding` is decompressed, as fetch did, so
 * a check that asks for gzip still reads text, and the decompressed stream goes through the same
 * body cap. Done here, not with undici's decompress interceptor, which wraps every response and
 * was ~9 % of the check path's CPU in a profile though almost no answer is compressed.
 */
function decodedBody(res: Dispatcher.ResponseData): Readable {
  const enc = res.headers['content-encoding'];
  if (enc === undefined) return res.body;
  const coding = String(enc).trim().toLowerCase();
  const z = coding === 'gzip' || coding === 'x-gzip' ? createGunzip() : coding === 'deflate' ? createInflate() : coding === 'br' ? createBrotliDecompress() : undefined;
  if (!z) return res.body; // identity, or a coding fetch would not read either: the bytes as sent
  // Destroying the decompressor at the cap destroys the response body too.
  pipeline(res.body, z, noop);
  return z;
}

/** The response as findProblems reads it: a status and case-insensitive header lookups. */
class ResponseView {
  constructor(
    readonly status: number,
    private readonly raw: IncomingHttpHeaders,
  ) {}

  readonly headers = {
    /** As WHATWG Headers.get: null when absent, repeated values joined with ", ". */
    get: (name: string): string | null => {
      const v = this.raw[name.toLowerCase()];
      if (v === undefined) return null;
      return Array.isArray(v) ? v.join(', ') : v;
    },
  };

  /** Name/value pairs, one per value of a repeated header (set-cookie). */
  entries(): [string, string][] {
    const out: [string, string][] = [];
    for (const [name, v] of Object.entries(this.raw)) {
      if (Array.isArray(v)) for (const x of v) out.push([name, x]);
      else if (v !== undefined) out.push([name, v]);
    }
    return out;
  }
}

const noop = (): void => undefined;

/** Origin + path prefix of each base URL seen, so a suite parses its base once, not once per check. */
const roots = new Map<string, string>();

/** joinUrl (attempt.ts), with the base's parse cached: same string join, same result. */
function checkUrl(baseUrl: string, path: string): URL {
  let root = roots.get(baseUrl);
  if (root === undefined) {
    const b = new URL(baseUrl);
    root = `${b.origin}${b.pathname.replace(/\/+$/, '')}`;
    if (roots.size >= 64) roots.clear(); // a long loop sees a new tag URL per cycle
    roots.set(baseUrl, root);
  }
  return new URL(`${root}${path.startsWith('/') ? path : `/${path}`}`);
}
const USER_AGENT = 'deploy-loop-smoke';

/**
 * Reads at most `limit` bytes, then destroys the body so the rest is never downloaded (undici closes
 * that connection rather than reuse it). Rejects with the stream's error (a timeout's abort reason).
 */
export function readBodyBounded(body: Readable, limit = MAX_BODY_BYTES): Promise<BodyRead> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const finish = (truncated: boolean): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      const buf = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, bytes);
      let text = buf.toString('utf8');
      // As TextDecoder (and so fetch's res.text()) does: a leading byte order mark is not text.
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      resolve({ text, bytes, truncated });
    };
    const onData = (chunk: Buffer): void => {
      const room = limit - bytes;
      if (chunk.length > room) {
        chunks.push(chunk.subarray(0, room));
        bytes = limit;
        // The destroyed body reports an abort later; nobody waits for it any more.
        body.on('error', noop);
        finish(true);
        body.destroy();
        return;
      }
      chunks.push(chunk);
      bytes += chunk.length;
    };
    const onEnd = (): void => finish(false);
    const onError = (err: Error): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      reject(err);
    };
    body.on('data', onData);
    body.once('end', onEnd);
    body.once('error', onError);
  });
}

function requestBody(check: HttpCheckConfig, headers: Record<string, string>): string | undefined {
  if (check.body === undefined) return undefined;
  if (typeof check.body === 'string') return check.body;
  headers['content-type'] ??= 'application/json';
  return JSON.stringify(check.body);
}

function compactJson(v: unknown, max = 500): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Every expectation the response misses, status first. A wrong status is reported alone: the rest is noise then. */
function findProblems(check: HttpCheckConfig, res: ResponseView, body: BodyRead, latencyMs: number): Problem[] {
  const expect = check.expect;
  const statuses = Array.isArray(expect.status) ? expect.status : [expect.status];
  if (!statuses.includes(res.status)) {
    const want = statuses.join(' or ');
    return [{ class: classifyStatus(res.status), message: `expected status ${want}, got ${res.status}`, expected: want, actual: String(res.status) }];
  }
  const problems: Problem[] = [];
  const assertion = (message: string, expected: string, actual: string): void => {
    problems.push({ class: 'assertion', message, expected, actual });
  };
  for (const [name, want] of Object.entries(expect.headers ?? {})) {
    const got = res.headers.get(name);
    // Header values are compared case-insensitively: media types, tokens and charsets are.
    if (got === null) assertion(`header ${name} missing`, `${name} containing "${want}"`, `no ${name} header`);
    else if (!got.toLowerCase().includes(want.toLowerCase())) {
      const shown = isSecretHeader(name, got) ? REDACTED : got;
      assertion(`header ${name} does not contain "${want}"`, `${name} containing "${want}"`, `${name}: ${shown}`);
    }
  }
  if (expect.bodyContains !== undefined && !body.text.includes(expect.bodyContains)) {
    assertion(`body does not contain "${expect.bodyContains}"`, `body containing "${expect.bodyContains}"`, 'see excerpt');
  }
  if (expect.bodyMatches !== undefined && !new RegExp(expect.bodyMatches).test(body.text)) {
    assertion(`body does not match /${expect.bodyMatches}/`, `body matching /${expect.bodyMatches}/`, 'see excerpt');
  }
  if (expect.json !== undefined) {
    let parsed: unknown;
    let parseError: string | undefined;
    try {
      parsed = JSON.parse(body.text);
    } catch (err) {
      parseError = describeError(err);
    }
    if (parseError !== undefined) {
      const cut = body.truncated ? ` (body truncated at ${MAX_BODY_BYTES} bytes)` : '';
      assertion(`body is not JSON${cut}: ${parseError}`, compactJson(expect.json), 'not JSON');
    } else {
      const m = matchJson(expect.json, parsed);
      const first = m.mismatches[0];
      if (first) {
        const more = m.mismatches.length > 1 ? ` (and ${m.mismatches.length - 1} more)` : '';
        assertion(`body JSON does not match: ${first.message}${more}`, compactJson(expect.json), formatMismatches(m.mismatches));
      }
    }
  }
  if (expect.maxLatencyMs !== undefined && latencyMs > expect.maxLatencyMs) {
    // Its own class: a slow answer is not a wrong one, and `retry.onlyOn: [latency]` can target it.
    const limit = expect.maxLatencyMs;
    problems.push({ class: 'latency', message: `latency ${latencyMs} ms over ${limit} ms (maxLatencyMs)`, expected: `<= ${limit} ms`, actual: `${latencyMs} ms` });
  }
  return problems;
}

export async function runHttpAttempt(check: HttpCheckConfig, baseUrl: string, ctx: AttemptContext): Promise<AttemptOutcome> {
  let url: URL;
  try {
    url = checkUrl(baseUrl, check.path);
  } catch (err) {
    return failedOutcome(failure('check-error', `invalid URL from base "${redactUrl(baseUrl)}" and path "${check.path}": ${describeError(err)}`));
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return failedOutcome(failure('check-error', `${redactUrl(url, ctx.secrets)}: an http check needs an http:// or https:// URL`));
  }
  const headers = { ...ctx.headers };
  // fetch named itself; undici.request sends no user-agent, which some front ends refuse.
  headers['user-agent'] ??= USER_AGENT;
  const body = requestBody(check, headers);
  if (body !== undefined && (check.method === 'GET' || check.method === 'HEAD')) {
    // As fetch refused it: most servers and proxies ignore or reject such a body, so the check is wrong.
    return failedOutcome(failure('check-error', `${check.method} ${redactUrl(url, ctx.secrets)}: a ${check.method} request cannot have a body`));
  }

  const started = performance.now();
  let res: Dispatcher.ResponseData;
  try {
    res = await request(url, { method: check.method, headers, body, signal: ctx.signal, dispatcher: httpAgent() });
  } catch (err) {
    return failedOutcome(failureFromError(err, label(check, url, ctx), {}, ctx.timeoutMs), { latencyMs: elapsedMs(started) });
  }
  let read: BodyRead;
  try {
    read = await readBodyBounded(decodedBody(res));
  } catch (err) {
    const f = failureFromError(err, `${label(check, url, ctx)}: reading the response body`, { status: res.statusCode }, ctx.timeoutMs);
    return failedOutcome(f, { latencyMs: elapsedMs(started) });
  }
  // Latency is time to the full (bounded) body: what a client waits for.
  const latencyMs = elapsedMs(started);
  const figures = { latencyMs };

  const view = new ResponseView(res.statusCode, res.headers);
  const problems = findProblems(check, view, read, latencyMs);
  // A first real Cloud Run deploy is private: say what to change instead of a bare 403.
  const hint = problems[0]?.class === 'http-4xx' ? cloudRunAuthHint(res.statusCode, url.href, read.text) : undefined;
  if (hint && problems[0]) problems[0] = { ...problems[0], message: `${problems[0].message}. ${hint}` };
  const first = problems[0];
  if (!first) return { status: 'pass', figures };
  // Cookies the server set are secrets too, should the body echo them.
  const secrets = [...ctx.secrets, ...secretsFromHeaders(view.entries())];
  const text = excerpt(read.text, secrets, read.truncated ? read.bytes : undefined);
  const message = `${label(check, url, ctx)}: ${problems.map((p) => p.message).join('; ')}`;
  return failedOutcome(
    failure(first.class, message, {
      status: res.statusCode,
      ...(text ? { excerpt: text } : {}),
      expected: first.expected,
      actual: first.actual,
    }),
    figures,
  );
}

/** "GET https://host/path" with credentials removed; built only when a message needs it (redaction is not free). */
function label(check: HttpCheckConfig, url: URL, ctx: AttemptContext): string {
  return `${check.method} ${redactUrl(url, ctx.secrets)}`;
}
