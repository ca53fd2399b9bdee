/**
 * The `http` check: one request through undici's dispatcher (a keep-alive Agent, one connection pool
 * per origin), the response measured against `expect`. Not global fetch (its WHATWG streams and
 * Headers cost about 1.6× undici.request per check), and not `undici.request` either: a dispatch
 * handler of our own collects the body up to the cap straight from the parser, with no Readable per
 * response, and bounds the attempt with one timer instead of an AbortSignal per attempt. Redirects
 * are not followed: a smoke check tests what the service answers, so `expect.status: 302` works and a
 * surprise redirect shows up as a status mismatch.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createBrotliDecompress, createGunzip, createInflate, type Gunzip } from 'node:zlib';
import { Agent, type Dispatcher } from 'undici';
import type { HttpCheckConfig } from '../config/schema.js';
import {
  MAX_BODY_BYTES,
  elapsedMs,
  excerpt,
  failedOutcome,
  failure,
  failureFromError,
  joinUrl,
  type AttemptContext,
  type AttemptOutcome,
} from './attempt.js';
import { onAbort } from './abort-fanout.js';
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

const USER_AGENT = 'deploy-loop-smoke';

/** What went wrong getting the answer: before the response head (no status) or while reading its body. */
class ExchangeError extends Error {
  constructor(
    readonly error: Error,
    readonly status: number | undefined,
  ) {
    super(error.message, { cause: error });
  }
}

interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  body: BodyRead;
}

function timeoutError(): Error {
  // As AbortSignal.timeout's reason: classifyError reads the name.
  return new DOMException('The operation was aborted due to timeout', 'TimeoutError');
}

/**
 * One request and its body, bounded: at most `limit` body bytes are kept (after decompression when the
 * answer says `content-encoding`), then the connection is cut so the rest is never downloaded (undici
 * closes it rather than reuse it); the whole exchange is cut at `timeoutMs`, or when the suite aborts.
 * A handler, not `undici.request`: no body stream, no signal, one object per request.
 */
class BoundedExchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private status: number | undefined;
  private headers: IncomingHttpHeaders = {};
  private inflater: Gunzip | undefined;
  private settled = false;
  /** Set when the exchange ended on our side (timeout, abort, cap) before undici's end. */
  private cut: Error | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly stopWatching: (() => void) | undefined;
  private resolve!: (e: Exchange) => void;
  private reject!: (e: ExchangeError) => void;
  readonly done: Promise<Exchange>;

  constructor(
    timeoutMs: number,
    suiteSignal: AbortSignal | undefined,
    private readonly limit: number,
  ) {
    this.done = new Promise<Exchange>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.timer = setTimeout(onExchangeTimeout, timeoutMs, this);
    this.stopWatching = suiteSignal ? onAbort(suiteSignal, () => this.fail((suiteSignal.reason as Error | undefined) ?? new Error('aborted'))) : undefined;
  }

  timedOut(): void {
    this.fail(timeoutError());
  }

  /** Ends the exchange on our side with `err`, cutting the request wherever it is. */
  fail(err: Error): void {
    if (this.settled) return;
    this.cut = err;
    this.settle();
    this.reject(new ExchangeError(err, this.status));
    this.inflater?.destroy();
    this.controller?.abort(err);
  }

  private settle(): void {
    this.settled = true;
    clearTimeout(this.timer);
    this.stopWatching?.();
  }

  private finish(truncated: boolean): void {
    if (this.settled) return;
    this.settle();
    const buf = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks, this.bytes);
    let text = buf.toString('utf8');
    // As TextDecoder (and so fetch's res.text()) does: a leading byte order mark is not text.
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    this.resolve({ status: this.status ?? 0, headers: this.headers, body: { text, bytes: this.bytes, truncated } });
  }

  /** Keeps body bytes up to the cap; at the cap the rest of the answer is cut. */
  private take(chunk: Buffer): void {
    if (this.settled) return;
    const room = this.limit - this.bytes;
    if (chunk.length <= room) {
      this.chunks.push(chunk);
      this.bytes += chunk.length;
      return;
    }
    if (room > 0) this.chunks.push(chunk.subarray(0, room));
    this.bytes = this.limit;
    this.cut = new Error('body cap reached');
    this.finish(true);
    this.inflater?.destroy();
    this.controller?.abort(this.cut);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Cut before undici handed the request to a connection (a timeout while queued in the pool).
    if (this.cut) controller.abort(this.cut);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
    const z = decompressorFor(headers['content-encoding']);
    if (!z) return;
    // Decompressed in the check, so a check that asks for gzip still reads text, through the same cap.
    this.inflater = z;
    z.on('data', (out: Buffer) => this.take(out));
    z.on('end', () => this.finish(false));
    z.on('error', (err) => this.bodyFailed(err));
    z.on('drain', () => controller.resume());
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.inflater) {
      if (!this.inflater.write(chunk)) controller.pause();
    } else this.take(chunk);
  }

  onResponseEnd(): void {
    if (this.inflater) this.inflater.end();
    else this.finish(false);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    // After our own cut, the abort undici reports is ours: the exchange has already settled.
    if (this.cut) return;
    this.bodyFailed(err);
  }

  private bodyFailed(err: Error): void {
    if (this.settled) return;
    this.settle();
    this.inflater?.destroy();
    this.reject(new ExchangeError(err, this.status));
  }
}

function onExchangeTimeout(x: BoundedExchange): void {
  x.timedOut();
}

/** A decompressor for the codings fetch read; none for identity or a coding it would not read either (the bytes as sent). */
function decompressorFor(enc: string | string[] | undefined): Gunzip | undefined {
  if (enc === undefined) return undefined;
  const coding = String(enc).trim().toLowerCase();
  if (coding === 'gzip' || coding === 'x-gzip') return createGunzip();
  if (coding === 'deflate') return createInflate();
  if (coding === 'br') return createBrotliDecompress() as unknown as Gunzip;
  return undefined;
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
    url = joinUrl(baseUrl, check.path);
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
  let res: Exchange;
  try {
    const exchange = new BoundedExchange(ctx.timeoutMs, ctx.suiteSignal, MAX_BODY_BYTES);
    try {
      const path = url.search ? `${url.pathname}${url.search}` : url.pathname;
      httpAgent().dispatch({ origin: url.origin, path, method: check.method, headers, body: body ?? null }, exchange);
    } catch (err) {
      exchange.fail(err as Error);
    }
    res = await exchange.done;
  } catch (err) {
    const e = err instanceof ExchangeError ? err : new ExchangeError(err as Error, undefined);
    const f =
      e.status === undefined
        ? failureFromError(e.error, label(check, url, ctx), {}, ctx.timeoutMs)
        : failureFromError(e.error, `${label(check, url, ctx)}: reading the response body`, { status: e.status }, ctx.timeoutMs);
    return failedOutcome(f, { latencyMs: elapsedMs(started) });
  }
  const read = res.body;
  // Latency is time to the full (bounded) body: what a client waits for.
  const latencyMs = elapsedMs(started);
  const figures = { latencyMs };

  const view = new ResponseView(res.status, res.headers);
  const problems = findProblems(check, view, read, latencyMs);
  // A first real Cloud Run deploy is private: say what to change instead of a bare 403.
  const hint = problems[0]?.class === 'http-4xx' ? cloudRunAuthHint(res.status, url.href, read.text) : undefined;
  if (hint && problems[0]) problems[0] = { ...problems[0], message: `${problems[0].message}. ${hint}` };
  const first = problems[0];
  if (!first) return { status: 'pass', figures };
  // Cookies the server set are secrets too, should the body echo them.
  const secrets = [...ctx.secrets, ...secretsFromHeaders(view.entries())];
  const text = excerpt(read.text, secrets, read.truncated ? read.bytes : undefined);
  const message = `${label(check, url, ctx)}: ${problems.map((p) => p.message).join('; ')}`;
  return failedOutcome(
    failure(first.class, message, {
      status: res.status,
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
