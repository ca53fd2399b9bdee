import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSchema, gateSchema, type CheckConfig } from '../../src/config/schema.js';
import { assessGate } from '../../src/loop/gate.js';
import { REDACTED } from '../../src/redact.js';
import { runSuite } from '../../src/smoke/index.js';

let server: Server;
let wss: WebSocketServer;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    setTimeout(() => res.writeHead(200).end('ok'), Number(url.searchParams.get('ms') ?? 0));
  });
  // The handshake is held back on /slow-ws, so the connect time is long but the check still passes.
  wss = new WebSocketServer({
    server,
    verifyClient: (info, done) => {
      if (info.req.url?.startsWith('/slow-ws')) setTimeout(() => done(true), 150);
      else done(true);
    },
  });
  wss.on('connection', (socket, req) => {
    if (!req.url?.startsWith('/chatty')) return;
    // Four frames at once: a greeting, one echoing the credential, a long one, and a fourth.
    for (const frame of ['hello', `auth was ${req.headers.authorization ?? ''}`, 'x'.repeat(500), 'fourth']) socket.send(frame);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((resolve) => wss.close(resolve));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const defaults = { timeoutMs: 5000, retries: 0, retryDelayMs: 10 };
const check = (c: Record<string, unknown>): CheckConfig => checkSchema.parse(c);

describe('degraded checks', () => {
  it('a pass slower than degradedMs is degraded; a fast one or one without degradedMs is a pass', async () => {
    const results = await runSuite(
      [
        check({ name: 'slow', kind: 'http', path: '/?ms=150', degradedMs: 50 }),
        check({ name: 'fast', kind: 'http', path: '/', degradedMs: 5000 }),
        check({ name: 'slow-unbounded', kind: 'http', path: '/?ms=150' }),
        check({ name: 'slow-ws', kind: 'websocket', path: '/slow-ws', degradedMs: 50 }),
        check({ name: 'fast-ws', kind: 'websocket', path: '/', degradedMs: 5000 }),
      ],
      base,
      { concurrency: 5, defaults },
    );
    expect(results.map((r) => [r.name, r.status])).toEqual([
      ['slow', 'degraded'],
      ['fast', 'pass'],
      ['slow-unbounded', 'pass'],
      ['slow-ws', 'degraded'],
      ['fast-ws', 'pass'],
    ]);
    expect(results[0]?.failure).toBeUndefined();
    // Degraded counts as passing at the gate.
    const verdict = assessGate(results, gateSchema.parse({ P0: 0, P1: 100 }));
    expect(verdict.reasons).toEqual([]);
    expect(verdict.passed).toBe(true);
  });

  it('rejects a degradedMs that is not below the failure bound', () => {
    const http = checkSchema.safeParse({ name: 'h', kind: 'http', degradedMs: 500, expect: { maxLatencyMs: 500 } });
    expect(http.success).toBe(false);
    expect(http.error?.issues[0]?.message).toMatch(/degradedMs must be below expect\.maxLatencyMs/);
    expect(http.error?.issues[0]?.path).toEqual(['degradedMs']);
    const ws = checkSchema.safeParse({ name: 'w', kind: 'websocket', degradedMs: 900, maxConnectMs: 100 });
    expect(ws.success).toBe(false);
    expect(ws.error?.issues[0]?.message).toMatch(/degradedMs must be below maxConnectMs/);
    expect(checkSchema.safeParse({ name: 'ok', kind: 'http', degradedMs: 100, expect: { maxLatencyMs: 500 } }).success).toBe(true);
  });
});

describe('websocket failure evidence', () => {
  it('includes the first three frames received, each cut to 200 characters, secrets redacted', async () => {
    const secret = 's3cr3t-token-value-123';
    const [r] = await runSuite(
      [
        check({
          name: 'chatty',
          kind: 'websocket',
          path: '/chatty',
          headers: { authorization: `Bearer ${secret}` },
          script: [{ expect: { text: 'hello' } }, { expect: { text: 'auth' } }, { expect: { text: 'x' } }, { expect: { text: 'never' } }],
        }),
      ],
      base,
      { concurrency: 1, defaults },
    );
    expect(r?.status).toBe('fail');
    const frames = r?.failure?.evidence.firstFrames;
    expect(frames).toHaveLength(3);
    expect(frames?.[0]).toBe('hello');
    expect(frames?.[1]).toContain(REDACTED);
    expect(JSON.stringify(r)).not.toContain(secret);
    expect(frames?.[2]).toBe(`${'x'.repeat(200)}…`);
  });
});
