import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpCheckSchema, type HttpCheckConfig } from '../../src/config/schema.js';
import { runCheck, type SuiteOptions } from '../../src/smoke/index.js';

let server: Server;
let base: string;
const hits = new Map<string, number>();

const OK_BODY = { status: 'ok', version: 3, db: { ok: true, pool: [{ id: 'a' }, { id: 'b' }] } };

function route(req: IncomingMessage, res: ServerResponse): void {
  const url = new URL(req.url ?? '/', 'http://x');
  const count = (hits.get(req.url ?? '') ?? 0) + 1;
  hits.set(req.url ?? '', count);
  const json = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  };
  switch (url.pathname) {
    case '/ok':
    case '/prefix/ok':
      return json(200, OK_BODY, { 'x-build': 'abc123' });
    case '/created':
      return json(201, { id: 7 });
    case '/boom':
      res.writeHead(503, { 'content-type': 'text/plain' });
      return void res.end('upstream db down');
    case '/missing':
      res.writeHead(404);
      return void res.end('no such thing');
    case '/redirect':
      res.writeHead(302, { location: '/ok' });
      return void res.end();
    case '/slow':
      setTimeout(() => json(200, OK_BODY), 300);
      return;
    case '/hang':
      return; // never answers
    case '/flaky':
      // Fails the first time each distinct URL is asked, then passes.
      return count === 1 ? json(503, { error: 'warming up' }) : json(200, OK_BODY);
    case '/big': {
      // 5 MiB in 64 KiB chunks, with a marker only at the very end.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const chunk = 'a'.repeat(64 * 1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < 80) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end('END-MARKER');
      };
      res.on('close', () => (sent = 80));
      return pump();
    }
    case '/echo-headers':
      // A service that leaks what it was sent into an error page.
      return json(500, { received: req.headers }, { 'set-cookie': 'sid=server-session-9f8e7d; HttpOnly' });
    case '/post': {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => json(200, { method: req.method, contentType: req.headers['content-type'], body: JSON.parse(body || 'null') }));
      return;
    }
    default:
      res.writeHead(404);
      res.end();
  }
}

beforeAll(async () => {
  server = createServer(route);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const opts: SuiteOptions = { concurrency: 4, defaults: { timeoutMs: 3000, retries: 0, retryDelayMs: 10 } };

function check(input: Partial<Omit<HttpCheckConfig, 'expect'>> & { expect?: Record<string, unknown> }): HttpCheckConfig {
  return httpCheckSchema.parse({ name: 'c', kind: 'http', ...input });
}

describe('http check expectations', () => {
  it('passes when every expectation holds, and measures latency', async () => {
    const r = await runCheck(
      check({
        path: '/ok',
        expect: {
          status: 200,
          headers: { 'Content-Type': 'APPLICATION/JSON', 'x-build': 'abc' },
          json: { status: 'ok', db: { ok: true, pool: [{ id: 'a' }] } },
          bodyContains: '"version":3',
          bodyMatches: '"version":\\s*\\d+',
          maxLatencyMs: 10_000,
        },
      }),
      base,
      opts,
    );
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.attempts).toBe(1);
    expect(r.figures.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('accepts any status of a list and fails on one outside it', async () => {
    expect((await runCheck(check({ path: '/created', expect: { status: [200, 201] } }), base, opts)).status).toBe('pass');
    const r = await runCheck(check({ path: '/created', expect: { status: [200, 204] } }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('assertion');
    expect(r.failure?.evidence).toMatchObject({ status: 201, expected: '200 or 204', actual: '201' });
  });

  it('does not follow redirects: the service answer is what is checked', async () => {
    expect((await runCheck(check({ path: '/redirect', expect: { status: 302, headers: { location: '/ok' } } }), base, opts)).status).toBe('pass');
    const r = await runCheck(check({ path: '/redirect' }), base, opts);
    expect(r.failure).toMatchObject({ class: 'assertion', evidence: { status: 302 } });
  });

  const failing: [string, Record<string, unknown>, string, string][] = [
    ['a missing header', { headers: { 'x-region': 'eu' } }, 'header x-region missing', 'no x-region header'],
    ['a header with another value', { headers: { 'x-build': 'zzz' } }, 'header x-build does not contain "zzz"', 'x-build: abc123'],
    ['a JSON mismatch', { json: { status: 'ok', db: { ok: false } } }, '$.db.ok: expected false (boolean), got true (boolean)', '$.db.ok'],
    ['a JSON array element mismatch', { json: { db: { pool: [{ id: 'b' }] } } }, '$.db.pool[0].id', '$.db.pool[0].id'],
    ['a number where a string is expected', { json: { version: '3' } }, 'expected "3" (string), got 3 (number)', '$.version'],
    ['bodyContains', { bodyContains: 'degraded' }, 'body does not contain "degraded"', 'see excerpt'],
    ['bodyMatches', { bodyMatches: '"version":\\s*4' }, 'body does not match', 'see excerpt'],
  ];
  it.each(failing)('fails on %s with an assertion and evidence', async (_what, exp, says, actual) => {
    const r = await runCheck(check({ path: '/ok', expect: exp }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('assertion');
    expect(r.failure?.message).toContain(says);
    expect(r.failure?.evidence.status).toBe(200);
    expect(r.failure?.evidence.excerpt).toContain('"status":"ok"');
    expect(r.failure?.evidence.actual).toContain(actual);
    expect(r.failure?.evidence.expected).toBeTruthy();
  });

  it('reports a non-JSON body when JSON is expected', async () => {
    const r = await runCheck(check({ path: '/boom', expect: { status: 503, json: { a: 1 } } }), base, opts);
    expect(r.failure?.class).toBe('assertion');
    expect(r.failure?.message).toContain('body is not JSON');
  });

  it('fails maxLatencyMs on a slow route', async () => {
    const r = await runCheck(check({ path: '/slow', expect: { maxLatencyMs: 50 } }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('latency');
    expect(r.failure?.message).toMatch(/latency \d+ ms over 50 ms/);
    expect(r.figures.latencyMs).toBeGreaterThanOrEqual(250);
  });

  it('sends an object body as JSON with a content type', async () => {
    const r = await runCheck(
      check({ path: '/post', method: 'POST', body: { a: [1, 2] }, expect: { json: { method: 'POST', contentType: 'application/json', body: { a: [1, 2] } } } }),
      base,
      opts,
    );
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
  });

  it('keeps the path prefix of the base URL', async () => {
    expect((await runCheck(check({ path: '/ok' }), `${base}/prefix/`, opts)).status).toBe('pass');
  });
});

describe('http failure classes', () => {
  it('classifies 5xx with the status and a body excerpt', async () => {
    const r = await runCheck(check({ path: '/boom' }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('http-5xx');
    expect(r.failure?.evidence).toMatchObject({ status: 503, excerpt: 'upstream db down', expected: '200', actual: '503' });
  });

  it('classifies 4xx', async () => {
    const r = await runCheck(check({ path: '/missing' }), base, opts);
    expect(r.failure?.class).toBe('http-4xx');
    expect(r.failure?.evidence.status).toBe(404);
  });

  it('classifies a closed port as connection-refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await runCheck(check({ path: '/ok' }), `http://127.0.0.1:${port}`, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('connection-refused');
    expect(r.failure?.message).toContain('ECONNREFUSED');
  });

  it('classifies a server that never answers as timeout, within the timeout', async () => {
    const started = Date.now();
    const r = await runCheck(check({ path: '/hang', timeoutMs: 300 }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('timeout');
    expect(r.failure?.message).toContain('300 ms');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('is a check error (status error), not a service failure, when the request cannot be built', async () => {
    const r = await runCheck(check({ path: '/ok', method: 'GET', body: 'not allowed on GET' }), base, opts);
    expect(r.status).toBe('error');
    expect(r.failure?.class).toBe('check-error');
  });
});

describe('http retries', () => {
  it('retries a failed attempt and records it', async () => {
    const r = await runCheck(check({ path: '/flaky?k=once', retries: 2 }), base, opts);
    expect(r.status).toBe('pass');
    expect(r.attempts).toBe(2);
    expect(r.failure).toBeUndefined();
    expect(r.attemptLog?.map((a) => a.status)).toEqual(['fail', 'pass']);
    expect(r.attemptLog?.[0]?.failure?.class).toBe('http-5xx');
    expect(r.attemptLog?.[0]?.attempt).toBe(1);
  });

  it('stops after the retries and keeps the last failure', async () => {
    const r = await runCheck(check({ path: '/boom' }), base, { ...opts, defaults: { ...opts.defaults, retries: 2 } });
    expect(r.status).toBe('fail');
    expect(r.attempts).toBe(3);
    expect(r.attemptLog).toHaveLength(3);
    expect(r.failure?.class).toBe('http-5xx');
  });
});

describe('http bounds and secrets', () => {
  it('reads at most 1 MiB of a 5 MiB body and says so', async () => {
    const r = await runCheck(check({ path: '/big', expect: { bodyContains: 'END-MARKER' } }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('assertion');
    expect(r.failure?.evidence.excerpt).toContain('truncated');
    expect(r.failure?.evidence.excerpt).toContain('1048576 bytes');
    expect(r.failure?.evidence.excerpt?.length).toBeLessThan(1000);
    // The start of the body is there, so a check on it passes.
    expect((await runCheck(check({ path: '/big', expect: { bodyMatches: '^a{100}' } }), base, opts)).status).toBe('pass');
  });

  it('keeps request credentials and server cookies out of evidence', async () => {
    const secrets = ['sekrit-token-123', 'cookie-value-999', 'apikey-777', 'suite-id-token-abc', 'server-session-9f8e7d'];
    const r = await runCheck(
      check({
        path: '/echo-headers?token=sekrit-token-123',
        headers: { Authorization: 'Bearer sekrit-token-123', Cookie: 'sid=cookie-value-999', 'X-Api-Key': 'apikey-777' },
        expect: { status: 200, headers: { 'set-cookie': 'other' } },
      }),
      base,
      { ...opts, headers: { 'x-goog-iap-jwt': 'suite-id-token-abc' } },
    );
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('http-5xx');
    // The server really received them (it echoed its headers) ...
    expect(r.failure?.evidence.excerpt).toContain('authorization');
    // ... but none of them made it into the result.
    const text = JSON.stringify(r);
    for (const s of secrets) expect(text).not.toContain(s);
    expect(text).toContain('[redacted]');
  });

  it('redacts a secret response header in a header mismatch', async () => {
    const r = await runCheck(check({ path: '/echo-headers', expect: { status: 500, headers: { 'set-cookie': 'Secure' } } }), base, opts);
    expect(r.failure?.class).toBe('assertion');
    expect(r.failure?.evidence.actual).toBe('set-cookie: [redacted]');
    expect(JSON.stringify(r)).not.toContain('server-session-9f8e7d');
  });
});
