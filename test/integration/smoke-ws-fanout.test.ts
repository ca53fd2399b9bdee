/**
 * The websocket check as a state machine per connection with per-check deadline queues: step
 * timeouts shared by N connections, figures added as each connection ends, frames of one socket read
 * handed to the script in order, and connections ws refuses to create. Real sockets on 127.0.0.1.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { websocketCheckSchema, type WebSocketCheckConfig } from '../../src/config/schema.js';
import { runCheck, type SuiteOptions } from '../../src/smoke/index.js';
import { runWebSocketAttempt } from '../../src/smoke/websocket.js';

let server: Server;
let wss: WebSocketServer;
let base: string;
let answeredCount = 0;
const rawSockets = new Set<Duplex>();

const behaviours: Record<string, (ws: WebSocket) => void> = {
  '/silent': () => undefined,
  '/echo': (ws) => ws.on('message', (data) => ws.send(data.toString())),
  // Every other connection (by arrival) answers; the rest never do.
  '/every-other': (ws) => {
    const n = answeredCount++;
    if (n % 2 === 0) ws.on('message', (data) => ws.send(data.toString()));
  },
};

/** An unmasked server text frame (RFC 6455 §5.2), payload under 126 bytes. */
function textFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  return Buffer.concat([Buffer.from([0x81, payload.length]), payload]);
}

function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/burst') {
    // The 101 and two frames in one write: the client reads them together, before it sends anything.
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    const hello = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`;
    socket.write(Buffer.concat([Buffer.from(hello), textFrame('hello'), textFrame('unasked')]));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('end', () => socket.destroy());
    rawSockets.add(socket);
    socket.once('close', () => rawSockets.delete(socket));
    return;
  }
  const behaviour = behaviours[path];
  if (!behaviour) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => behaviour(ws));
}

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(426).end());
  wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  for (const s of rawSockets) s.destroy();
  await new Promise((resolve) => wss.close(resolve));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const opts: SuiteOptions = { concurrency: 4, defaults: { timeoutMs: 10_000, retries: 0, retryDelayMs: 10 } };

function check(input: Partial<WebSocketCheckConfig>): WebSocketCheckConfig {
  return websocketCheckSchema.parse({ name: 'ws', kind: 'websocket', ...input });
}

async function expectNoOpenServerSockets(): Promise<void> {
  const deadline = Date.now() + 3000;
  while ((wss.clients.size > 0 || rawSockets.size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(wss.clients.size).toBe(0);
  expect(rawSockets.size).toBe(0);
}

describe('websocket step timeouts shared by N connections', () => {
  it('40 connections whose expect step times out each fail at that step and close with 1008, not at the attempt timeout', async () => {
    const r = await runCheck(check({ path: '/silent', connections: 40, script: [{ send: 'ping' }, { expect: { text: 'pong' }, timeoutMs: 300 }] }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('timeout');
    expect(r.failure?.message).toContain('40 of 40 connections failed; connection 0: step 1: no message within 300 ms');
    expect(r.failure?.evidence).toMatchObject({ connection: 0, step: 1, expected: 'text containing "pong"' });
    // Each connection ended its failure with a close frame the server answered.
    expect(r.figures.closeCodes).toEqual({ '1008': 40 });
    // Every connection's connect time is a sample, failed or not.
    expect(r.figures.samples?.connectMs).toHaveLength(40);
    await expectNoOpenServerSockets();
  });

  it('only the connections left unanswered time out; the answered ones pass with one latency sample each', async () => {
    answeredCount = 0;
    const r = await runCheck(check({ path: '/every-other', connections: 20, script: [{ send: 'a' }, { expect: { text: 'a' }, timeoutMs: 400 }] }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('timeout');
    expect(r.failure?.message).toContain('10 of 20 connections failed');
    expect(r.figures.closeCodes).toEqual({ '1000': 10, '1008': 10 });
    expect(r.figures.samples?.latencyMs).toHaveLength(10);
    expect(r.figures.samples?.connectMs).toHaveLength(20);
    expect(r.figures.messages).toBe(10);
    await expectNoOpenServerSockets();
  });

  it('a step timeout does not fire once the answer came: many steps with timeouts pass', async () => {
    const script = [
      { send: 'a' },
      { expect: { text: 'a' }, timeoutMs: 250 },
      { send: 'b' },
      { expect: { text: 'b' }, timeoutMs: 250 },
      { send: 'c' },
      { expect: { text: 'c' }, timeoutMs: 5000 },
    ];
    const r = await runCheck(check({ path: '/echo', connections: 30, script }), base, opts);
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.figures).toMatchObject({ connections: 30, messages: 90, closeCodes: { '1000': 30 } });
    expect(r.figures.samples?.latencyMs).toHaveLength(90);
    await expectNoOpenServerSockets();
  });
});

describe('frames of one read', () => {
  it('are read in order, and a frame already received when a send goes out is not its answer', async () => {
    const r = await runCheck(
      check({ path: '/burst', script: [{ expect: { text: 'hello' } }, { send: 'question' }, { expect: { text: 'unasked' } }] }),
      base,
      opts,
    );
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.figures.messages).toBe(2);
    // "unasked" came in the same read as "hello", before the send: no latency sample.
    expect(r.figures.samples?.latencyMs).toBeUndefined();
    await expectNoOpenServerSockets();
  });
});

describe('connections ws refuses to create', () => {
  it('a header value ws cannot send fails every connection as a check error, and nothing connects', async () => {
    const ac = new AbortController();
    const before = answeredCount;
    const r = await runWebSocketAttempt(check({ path: '/every-other', connections: 5 }), base, {
      signal: ac.signal,
      timeoutMs: 1000,
      headers: { 'x-broken': 'line\nbreak' },
      secrets: [],
    });
    expect(r.status).toBe('error');
    expect(r.failure?.class).toBe('check-error');
    expect(r.failure?.message).toContain('5 of 5 connections failed; connection 0: cannot open ws://127.0.0.1:');
    expect(r.figures).toEqual({ messages: 0, connections: 5 });
    expect(answeredCount).toBe(before);
  });
});
