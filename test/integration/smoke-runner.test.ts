import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import pino from 'pino';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkSchema, type CheckConfig } from '../../src/config/schema.js';
import { runSuite, type SuiteOptions } from '../../src/smoke/index.js';

let server: Server;
let wss: WebSocketServer;
let base: string;
let inFlight = 0;
let maxInFlight = 0;
/** Resolvers waiting for the next request to /hang (or WebSocket connection) to arrive. */
let arrived: (() => void)[] = [];

function whenSomethingHangs(): Promise<void> {
  return new Promise((resolve) => arrived.push(resolve));
}

function notifyArrival(): void {
  const waiting = arrived;
  arrived = [];
  for (const w of waiting) w();
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/hang') return notifyArrival();
    if (url.pathname === '/fail') return void res.writeHead(500).end('nope');
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      res.writeHead(200).end('ok');
    }, Number(url.searchParams.get('ms') ?? 0));
  });
  wss = new WebSocketServer({ server });
  wss.on('connection', () => notifyArrival()); // and then says nothing
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((resolve) => wss.close(resolve));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  inFlight = 0;
  maxInFlight = 0;
});

const defaults = { timeoutMs: 5000, retries: 0, retryDelayMs: 10 };

function http(name: string, path: string, extra: Record<string, unknown> = {}): CheckConfig {
  return checkSchema.parse({ name, kind: 'http', path, ...extra });
}

describe('runSuite', () => {
  it('returns results in config order whatever order they finish in', async () => {
    const checks = [http('slow', '/d?ms=200'), http('fast', '/d?ms=1'), http('medium', '/d?ms=80'), http('failing', '/fail')];
    const results = await runSuite(checks, base, { concurrency: 4, defaults });
    expect(results.map((r) => r.name)).toEqual(['slow', 'fast', 'medium', 'failing']);
    expect(results.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'fail']);
    expect(results[3]?.failure?.class).toBe('http-5xx');
  });

  it('never has more checks in flight than the concurrency', async () => {
    const checks = Array.from({ length: 6 }, (_, i) => http(`c${i}`, `/d?ms=100&i=${i}`));
    const results = await runSuite(checks, base, { concurrency: 2, defaults });
    expect(results.every((r) => r.status === 'pass')).toBe(true);
    expect(maxInFlight).toBe(2);
  });

  it('on abort, stops in-flight checks, skips the rest and returns promptly', async () => {
    const controller = new AbortController();
    const checks = [
      http('first', '/d?ms=1'),
      http('hangs', '/hang', { timeoutMs: 20_000 }),
      checkSchema.parse({ name: 'ws-hangs', kind: 'websocket', path: '/', timeoutMs: 20_000, script: [{ expect: { text: 'never' } }] }),
      http('never-started', '/d?ms=1'),
    ];
    // Two in flight at once: the hanging HTTP request and the silent WebSocket.
    let arrivals = 0;
    const bothHanging = new Promise<void>((resolve) => {
      const count = (): void => {
        arrivals++;
        if (arrivals === 2) resolve();
        else void whenSomethingHangs().then(count);
      };
      void whenSomethingHangs().then(count);
    });
    const opts: SuiteOptions = { concurrency: 2, defaults, signal: controller.signal };
    const started = Date.now();
    const running = runSuite(checks, base, opts);
    await bothHanging;
    controller.abort();
    const results = await running;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['first', 'pass'],
      ['hangs', 'skipped'],
      ['ws-hangs', 'skipped'],
      ['never-started', 'skipped'],
    ]);
    expect(results[1]?.attemptLog?.map((a) => a.status)).toEqual(['skipped']);
    expect(results[1]?.failure).toBeUndefined();
    expect(results[3]?.attempts).toBe(0);
  });

  it('stopWhen stops the suite after the check that tripped it: nothing later starts', async () => {
    const seen: number[] = [];
    const checks = [http('ok', '/d?ms=1'), http('broken', '/fail'), http('later-1', '/d?ms=1&later=1'), http('later-2', '/d?ms=1&later=2')];
    const results = await runSuite(checks, base, {
      concurrency: 1,
      defaults,
      stopWhen: (soFar) => {
        seen.push(soFar.length);
        return soFar.some((r) => r.status === 'fail');
      },
    });
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['ok', 'pass'],
      ['broken', 'fail'],
      ['later-1', 'skipped'],
      ['later-2', 'skipped'],
    ]);
    // Asked once per finished check, with every result so far; never again after it said stop.
    expect(seen).toEqual([1, 2]);
    expect(results[2]?.attempts).toBe(0);
  });

  it('on abort during a retry delay, the check is skipped without waiting the delay out', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const running = runSuite([http('retrying', '/fail', { retries: 5 })], base, {
      concurrency: 1,
      defaults: { ...defaults, retryDelayMs: 20_000 },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 200);
    const [r] = await running;
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r?.status).toBe('skipped');
    expect(r?.attempts).toBe(1);
    expect(r?.attemptLog?.[0]?.status).toBe('fail');
  });

  it('logs each attempt at debug and a failing check at warn with its reason, without secrets', async () => {
    const lines: Record<string, unknown>[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    const log = pino({ level: 'debug' }, sink);
    await runSuite([http('logged', '/fail', { retries: 1 })], base, {
      concurrency: 1,
      defaults,
      log,
      headers: { authorization: 'Bearer log-secret-abcdef' },
    });
    const attempts = lines.filter((l) => l.level === 20 && l.check === 'logged');
    const results = lines.filter((l) => l.level === 40 && l.check === 'logged');
    expect(attempts).toHaveLength(2);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ status: 'fail', attempts: 2, class: 'http-5xx', reason: expect.stringContaining('500') });
    expect(typeof results[0]?.durationMs).toBe('number');
    expect(JSON.stringify(lines)).not.toContain('log-secret-abcdef');
  });
});
