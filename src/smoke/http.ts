/**
 * The `http` check: one request with global fetch (undici), the response measured against `expect`.
 * Redirects are not followed (`redirect: 'manual'`): a smoke check tests what the service answers,
 * so `expect.status: 302` works and a surprise redirect shows up as a status mismatch.
 */
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
import { classifyStatus, describeError } from './classify.js';
import { formatMismatches, matchJson } from './match.js';
import { REDACTED, isSecretHeader, redactUrl, secretsFromHeaders } from './redact.js';
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

/** Reads at most `limit` bytes, then cancels the stream so the rest is never downloaded. */
export async function readBodyBounded(res: Response, limit = MAX_BODY_BYTES): Promise<BodyRead> {
  if (!res.body) return { text: '', bytes: 0, truncated: false };
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = limit - bytes;
      if (value.byteLength > room) {
        chunks.push(value.subarray(0, room));
        bytes = limit;
        truncated = true;
        break;
      }
      chunks.push(value);
      bytes += value.byteLength;
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => undefined);
    else reader.releaseLock();
  }
  return { text: new TextDecoder().decode(Buffer.concat(chunks)), bytes, truncated };
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
function findProblems(check: HttpCheckConfig, res: Response, body: BodyRead, latencyMs: number): Problem[] {
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
  const label = `${check.method} ${redactUrl(url, ctx.secrets)}`;
  const headers = { ...ctx.headers };
  const body = requestBody(check, headers);

  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(url, { method: check.method, headers, body, signal: ctx.signal, redirect: 'manual' });
  } catch (err) {
    return failedOutcome(failureFromError(err, label, {}, ctx.timeoutMs), { latencyMs: elapsedMs(started) });
  }
  let read: BodyRead;
  try {
    read = await readBodyBounded(res);
  } catch (err) {
    const f = failureFromError(err, `${label}: reading the response body`, { status: res.status }, ctx.timeoutMs);
    return failedOutcome(f, { latencyMs: elapsedMs(started) });
  }
  // Latency is time to the full (bounded) body: what a client waits for.
  const latencyMs = elapsedMs(started);
  const figures = { latencyMs };

  const problems = findProblems(check, res, read, latencyMs);
  const first = problems[0];
  if (!first) return { status: 'pass', figures };
  // Cookies the server set are secrets too, should the body echo them.
  const secrets = [...ctx.secrets, ...secretsFromHeaders(res.headers)];
  const text = excerpt(read.text, secrets, read.truncated ? read.bytes : undefined);
  const message = `${label}: ${problems.map((p) => p.message).join('; ')}`;
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
