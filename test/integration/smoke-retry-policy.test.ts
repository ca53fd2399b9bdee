/**
 * Retry policies against a real HTTP server: exponential waits grow (and stop at maxDelayMs), and
 * `onlyOn` limits which failures are retried. Every attempt is in the attemptLog.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configSchema, httpCheckSchema } from '../../src/config/schema.js';
import { runCheck, type SuiteOptions } from '../../src/smoke/runner.js';
import { retryDelayMs, shouldRetry } from '../../src/model/retry.js';

let server: Server;
let base: string;
/** performance.now() of each request's arrival, per path. */
let arrivals: Record<string, number[]> = {};

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    (arrivals[path] ??= []).push(performance.now());
    if (path === '/fail') return void res.writeHead(500).end('down');
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":false}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  arrivals = {};
});

const opts = (extra: Partial<SuiteOptions['defaults']> = {}): SuiteOptions => ({
  concurrency: 1,
  defaults: { timeoutMs: 2000, retries: 0, retryDelayMs: 0, ...extra },
});

function gaps(times: number[]): number[] {
  return times.slice(1).map((t, i) => t - (times[i] ?? 0));
}

describe('retry policies', () => {
  it('exponential: each wait doubles the one before', async () => {
    const check = httpCheckSchema.parse({ name: 'down', kind: 'http', path: '/fail', retries: 3, retry: { policy: 'exponential', delayMs: 100 } });
    const r = await runCheck(check, base, opts());
    expect(r.status).toBe('fail');
    expect(r.attempts).toBe(4);
    expect(r.attemptLog?.map((a) => a.failure?.class)).toEqual(['http-5xx', 'http-5xx', 'http-5xx', 'http-5xx']);
    const g = gaps(arrivals['/fail'] ?? []);
    expect(g).toHaveLength(3);
    // Waits of 100, 200 and 400 ms: lower bounds are exact, the growth is checked with room for a slow machine.
    expect(g[0]).toBeGreaterThanOrEqual(95);
    expect(g[1]).toBeGreaterThanOrEqual(195);
    expect(g[2]).toBeGreaterThanOrEqual(395);
    expect(g[2] ?? 0).toBeGreaterThan((g[0] ?? 0) + 150);
  });

  it('exponential waits stop growing at maxDelayMs', async () => {
    const check = httpCheckSchema.parse({ name: 'down', kind: 'http', path: '/fail', retries: 4, retry: { policy: 'exponential', delayMs: 200, maxDelayMs: 200 } });
    const r = await runCheck(check, base, opts());
    expect(r.attempts).toBe(5);
    const g = gaps(arrivals['/fail'] ?? []);
    // Uncapped, the last wait would be 1600 ms.
    expect(Math.min(...g)).toBeGreaterThanOrEqual(195);
    expect(g[3]).toBeLessThan(1200);
  });

  it('onlyOn: [network] does not retry an assertion failure', async () => {
    const check = httpCheckSchema.parse({ name: 'wrong', kind: 'http', path: '/ok', retries: 3, retry: { onlyOn: ['network'] }, expect: { json: { ok: true } } });
    const r = await runCheck(check, base, opts());
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('assertion');
    expect(r.attempts).toBe(1);
    expect(arrivals['/ok']).toHaveLength(1);
  });

  it('onlyOn: [network] retries a refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const check = httpCheckSchema.parse({ name: 'gone', kind: 'http', retries: 2, retry: { onlyOn: ['network'], delayMs: 10 } });
    const r = await runCheck(check, `http://127.0.0.1:${port}`, opts());
    expect(r.attempts).toBe(3);
    expect(r.attemptLog?.every((a) => a.failure?.class === 'connection-refused')).toBe(true);
  });

  it('takes smoke.defaults.retry, with the check\'s own fields winning', async () => {
    const config = configSchema.parse({
      apiVersion: 'deploy-loop/v1',
      service: 'x',
      build: { kind: 'command' },
      target: { kind: 'local', command: ['node', 'server.js'] },
      smoke: {
        defaults: { retries: 2, retryDelayMs: 0, retry: { onlyOn: ['http-5xx'] } },
        checks: [
          { name: 'assert', kind: 'http', path: '/ok', expect: { json: { ok: true } } },
          { name: 'down', kind: 'http', path: '/fail', retry: { onlyOn: ['timeout'] } },
          { name: 'down-retried', kind: 'http', path: '/fail' },
        ],
      },
    });
    const run = (i: number) => runCheck(config.smoke.checks[i] as Parameters<typeof runCheck>[0], base, { concurrency: 1, defaults: config.smoke.defaults });
    expect((await run(0)).attempts).toBe(1);
    expect((await run(1)).attempts).toBe(1);
    expect((await run(2)).attempts).toBe(3);
  });

  it('rejects an unknown class in onlyOn', () => {
    const parsed = httpCheckSchema.safeParse({ name: 'x', kind: 'http', retry: { onlyOn: ['sometimes'] } });
    expect(parsed.success).toBe(false);
  });

  it('computes the delays and the groups', () => {
    expect([1, 2, 3, 4].map((n) => retryDelayMs({ policy: 'exponential', delayMs: 50, maxDelayMs: 300 }, n, 0))).toEqual([50, 100, 200, 300]);
    expect([1, 2, 3].map((n) => retryDelayMs({}, n, 120))).toEqual([120, 120, 120]);
    expect(shouldRetry({ onlyOn: ['websocket'] }, 'ws-1011-internal-error')).toBe(true);
    expect(shouldRetry({ onlyOn: ['websocket'] }, 'assertion')).toBe(false);
    expect(shouldRetry({}, 'assertion')).toBe(true);
  });
});
