import { createHash } from 'node:crypto';
import { getEventListeners } from 'node:events';
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
let sometimesCount = 0;
const deafSockets = new Set<Duplex>();
const GOOD_TOKEN = 'Bearer good-token-123456';

/** Server behaviour per path: what a connection does once it is open. */
const behaviours: Record<string, (ws: WebSocket, req: IncomingMessage) => void> = {
  '/echo': (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })),
  '/chat': (ws) =>
    ws.on('message', (data) => {
      const text = data.toString();
      if (text === 'hello') ws.send(JSON.stringify({ type: 'welcome', user: { name: 'ada' }, seq: 1 }));
      else ws.send(JSON.stringify({ type: 'echo', text }));
    }),
  '/crash': (ws) => ws.on('message', () => ws.close(1011, 'db exploded')),
  '/policy': (ws) => ws.close(1008, 'auth required'),
  '/bye': (ws) => {
    ws.send('bye');
    ws.close(1000, 'done');
  },
  '/silent': () => undefined,
  '/flood': (ws) => {
    const chunk = 'x'.repeat(1024);
    const pump = (): void => {
      if (ws.readyState !== ws.OPEN) return;
      while (ws.bufferedAmount < 256 * 1024) ws.send(chunk);
      setImmediate(pump);
    };
    pump();
  },
  '/huge': (ws) => ws.send('y'.repeat(2 * 1024 * 1024)),
  '/sometimes': (ws) => {
    const n = ++sometimesCount;
    ws.on('message', (data) => (n % 5 === 0 ? ws.close(1011, `unlucky ${n}`) : ws.send(data)));
  },
  '/auth': (ws) => ws.on('message', (data) => ws.send(data)),
};

function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  if (path === '/reject' || (path === '/auth' && req.headers.authorization !== GOOD_TOKEN)) {
    // A refused handshake whose error page echoes the credential it was given.
    const body = `missing token (got ${req.headers.authorization ?? 'none'})`;
    socket.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    return;
  }
  if (path === '/deaf') {
    // Accepts the handshake by hand, then never reads a frame: a client close gets no answer.
    const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    // The http server allows half-open sockets: close this side once the client has gone.
    socket.on('end', () => socket.destroy());
    deafSockets.add(socket);
    socket.once('close', () => deafSockets.delete(socket));
    return;
  }
  const behaviour = behaviours[path];
  if (!behaviour) {
    socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    return;
  }
  const accept = (): void => wss.handleUpgrade(req, socket, head, (ws) => behaviour(ws, req));
  if (path === '/slow-upgrade') setTimeout(accept, 400);
  else accept();
}
behaviours['/slow-upgrade'] = behaviours['/echo']!;

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(426).end());
  wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => [...protocols][0] ?? false });
  server.on('upgrade', onUpgrade);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  for (const d of deafSockets) d.destroy();
  await new Promise((resolve) => wss.close(resolve));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const opts: SuiteOptions = { concurrency: 4, defaults: { timeoutMs: 3000, retries: 0, retryDelayMs: 10 } };

function check(input: Partial<WebSocketCheckConfig>): WebSocketCheckConfig {
  return websocketCheckSchema.parse({ name: 'ws', kind: 'websocket', ...input });
}

/** Every server-side socket is gone once the client is done: nothing leaks. */
async function expectNoOpenServerSockets(): Promise<void> {
  const deadline = Date.now() + 3000;
  while (wss.clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(wss.clients.size).toBe(0);
}

describe('websocket scripts', () => {
  it('passes a send/expect script and closes with 1000', async () => {
    const r = await runCheck(
      check({
        path: '/chat',
        script: [
          { send: 'hello' },
          { expect: { json: { type: 'welcome', user: { name: 'ada' } }, text: 'welcome', matches: '"seq":\\d+' } },
          { send: { ping: true } },
          { expect: { json: { type: 'echo', text: '{"ping":true}' } } },
        ],
      }),
      base,
      opts,
    );
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.figures).toMatchObject({ messages: 2, closeCodes: { '1000': 1 } });
    expect(r.figures.connectMs).toBeGreaterThanOrEqual(0);
    expect(r.figures.connections).toBeUndefined();
    await expectNoOpenServerSockets();
  });

  it('fails on a wrong message with an assertion and the excerpt of what came instead', async () => {
    const r = await runCheck(check({ path: '/chat', script: [{ send: 'hello' }, { expect: { json: { type: 'goodbye' } } }] }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('assertion');
    expect(r.failure?.message).toContain('$.type: expected "goodbye" (string), got "welcome" (string)');
    expect(r.failure?.evidence).toMatchObject({ step: 1, connection: 0 });
    expect(r.failure?.evidence.excerpt).toContain('"type":"welcome"');
    expect(r.failure?.evidence.actual).toContain('$.type');
  });

  it('reads messages that arrived before the server closed, in order', async () => {
    const r = await runCheck(check({ path: '/bye', script: [{ expect: { text: 'bye' } }] }), base, opts);
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
  });

  it('classifies a 1011 close in the middle of the script', async () => {
    const r = await runCheck(check({ path: '/crash', script: [{ send: 'hi' }, { expect: { text: 'pong' } }] }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('ws-1011-internal-error');
    expect(r.failure?.evidence).toMatchObject({ closeCode: 1011, closeReason: 'db exploded', step: 1, connection: 0 });
    expect(r.figures.closeCodes).toEqual({ '1011': 1 });
  });

  it('classifies a 1008 close in the middle of the script', async () => {
    const r = await runCheck(check({ path: '/policy', script: [{ expect: { text: 'hello' } }] }), base, opts);
    expect(r.failure?.class).toBe('ws-1008-policy-violation');
    expect(r.failure?.evidence).toMatchObject({ closeCode: 1008, closeReason: 'auth required', step: 0 });
  });

  it('passes expectClose when the server closes with that code and reason', async () => {
    const r = await runCheck(check({ path: '/policy', expectClose: { code: 1008, reason: 'auth' } }), base, opts);
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.figures.closeCodes).toEqual({ '1008': 1 });
  });

  it('classifies a different close by the actual code', async () => {
    const r = await runCheck(check({ path: '/crash', script: [{ send: 'x' }], expectClose: { code: 1000 } }), base, opts);
    expect(r.failure?.class).toBe('ws-1011-internal-error');
    expect(r.failure?.evidence).toMatchObject({ closeCode: 1011, expected: '1000', actual: '1011 "db exploded"' });
  });

  it('fails expectClose with an assertion when only the reason differs', async () => {
    const r = await runCheck(check({ path: '/policy', expectClose: { code: 1008, reason: 'rate limited' } }), base, opts);
    expect(r.failure?.class).toBe('assertion');
  });

  it('times out an expect step that gets no message', async () => {
    const started = Date.now();
    const r = await runCheck(check({ path: '/silent', script: [{ send: 'hi' }, { expect: { text: 'x' }, timeoutMs: 200 }] }), base, opts);
    expect(r.failure?.class).toBe('timeout');
    expect(r.failure?.evidence).toMatchObject({ step: 1, connection: 0 });
    expect(Date.now() - started).toBeLessThan(2500);
    await expectNoOpenServerSockets();
  });

  it('stops waiting for an unanswered client close after the grace period, and passes', async () => {
    const r = await runCheck(check({ path: '/deaf', timeoutMs: 10_000 }), base, opts);
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.figures.closeCodes).toBeUndefined();
    // The 1 s grace, not the 10 s attempt timeout, ended the wait.
    expect(r.durationMs).toBeGreaterThanOrEqual(900);
    expect(r.durationMs).toBeLessThan(8000);
    const deadline = Date.now() + 3000;
    while (deafSockets.size > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(deafSockets.size).toBe(0);
  });

  it('times out the attempt when the server never closes as expected', async () => {
    const r = await runCheck(check({ path: '/silent', timeoutMs: 300, expectClose: { code: 1000 } }), base, opts);
    expect(r.failure?.class).toBe('timeout');
    expect(r.failure?.message).toContain('did not close');
  });
});

describe('websocket handshake', () => {
  it('classifies a refused handshake with its status and body, without the credential', async () => {
    const r = await runCheck(check({ path: '/auth', headers: { authorization: 'Bearer wrong-token-987654' } }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('ws-handshake-rejected');
    expect(r.failure?.evidence.status).toBe(401);
    expect(r.failure?.evidence.excerpt).toContain('missing token');
    expect(JSON.stringify(r)).not.toContain('wrong-token-987654');
  });

  it('sends the suite headers and subprotocols on the handshake', async () => {
    const r = await runCheck(
      check({ path: '/auth', subprotocols: ['chat.v1'], script: [{ send: 'a' }, { expect: { text: 'a' } }] }),
      base,
      { ...opts, headers: { Authorization: GOOD_TOKEN } },
    );
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
  });

  it('classifies a closed port as connection-refused', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const r = await runCheck(check({ path: '/echo' }), `http://127.0.0.1:${port}`, opts);
    expect(r.failure?.class).toBe('connection-refused');
  });

  it('fails maxConnectMs when the upgrade is slow', async () => {
    const r = await runCheck(check({ path: '/slow-upgrade', maxConnectMs: 50, script: [{ send: 'a' }, { expect: { text: 'a' } }] }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('connect-time');
    expect(r.failure?.message).toMatch(/connect time \d+ ms over 50 ms/);
    expect(r.figures.connectMs).toBeGreaterThanOrEqual(350);
  });
});

describe('websocket connections: N', () => {
  it('opens 50 connections that all pass, with percentile figures and a close-code histogram', async () => {
    const r = await runCheck(check({ path: '/echo', connections: 50, script: [{ send: { n: 1 } }, { expect: { json: { n: 1 } } }] }), base, opts);
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
    const f = r.figures;
    expect(f).toMatchObject({ connections: 50, messages: 50, closeCodes: { '1000': 50 } });
    expect(f.connectMs).toBeGreaterThanOrEqual(0);
    expect(f.connectP50Ms).toBeLessThanOrEqual(f.connectP95Ms ?? -1);
    expect(f.connectP95Ms).toBeLessThanOrEqual(f.connectMaxMs ?? -1);
    await expectNoOpenServerSockets();
  });

  it('fails when some connections fail, and says how many', async () => {
    sometimesCount = 0;
    const r = await runCheck(check({ path: '/sometimes', connections: 20, script: [{ send: 'a' }, { expect: { text: 'a' } }] }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('ws-1011-internal-error');
    expect(r.failure?.message).toContain('4 of 20 connections failed');
    expect(r.figures.closeCodes).toEqual({ '1000': 16, '1011': 4 });
    await expectNoOpenServerSockets();
  });
});

describe('websocket connections: N on one signal', () => {
  const abortListeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;
  const ctxFor = (signal: AbortSignal): Parameters<typeof runWebSocketAttempt>[2] => ({ signal, timeoutMs: 1000, headers: {}, secrets: [] });

  async function waitFor(cond: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  it('200 waiting connections hold one abort listener; a timeout mid-way cuts them all and leaves none', async () => {
    const ac = new AbortController();
    const run = runWebSocketAttempt(check({ path: '/silent', connections: 200, script: [{ expect: { text: 'never' } }] }), base, ctxFor(ac.signal));
    let waiting: number;
    try {
      await waitFor(() => wss.clients.size === 200, '200 server-side connections');
      // Every connection is now waiting on the shared signal, in its handshake or its expect step.
      waiting = abortListeners(ac.signal);
    } finally {
      ac.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }
    const r = await run;
    expect(waiting).toBe(1);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('timeout');
    expect(r.failure?.message).toContain('200 of 200 connections failed');
    expect(r.failure?.message).toContain('timed out after 1000 ms');
    expect(abortListeners(ac.signal)).toBe(0);
    await expectNoOpenServerSockets();
  });

  it('a check of 200 connections that times out through the runner leaves no listener on the suite signal', async () => {
    const suite = new AbortController();
    const r = await runCheck(check({ path: '/silent', connections: 200, timeoutMs: 400, script: [{ expect: { text: 'never' } }] }), base, { ...opts, signal: suite.signal });
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('timeout');
    expect(r.failure?.message).toContain('200 of 200 connections failed');
    expect(abortListeners(suite.signal)).toBe(0);
    await expectNoOpenServerSockets();
  });

  it('passing connections that wait many times leave no listener on the signal', async () => {
    const ac = new AbortController();
    const script = [{ send: 'a' }, { expect: { text: 'a' } }, { send: 'b' }, { expect: { text: 'b' } }, { send: 'c' }, { expect: { text: 'c' } }];
    const r = await runWebSocketAttempt(check({ path: '/echo', connections: 50, script }), base, ctxFor(ac.signal));
    expect(r.failure).toBeUndefined();
    expect(r.status).toBe('pass');
    expect(r.figures).toMatchObject({ connections: 50, messages: 150, closeCodes: { '1000': 50 } });
    expect(abortListeners(ac.signal)).toBe(0);
    await expectNoOpenServerSockets();
  });
});

describe('websocket close grace, shared by every connection', () => {
  it('unanswered closes of 30 connections, in two checks one after the other, each end at the grace', async () => {
    for (const round of [1, 2]) {
      const r = await runCheck(check({ name: `deaf-${round}`, path: '/deaf', connections: 30, timeoutMs: 10_000 }), base, opts);
      expect(r.failure).toBeUndefined();
      expect(r.status).toBe('pass');
      // The grace (1 s), not the attempt timeout (10 s), ended every wait, in the second check as in the first.
      expect(r.durationMs).toBeGreaterThanOrEqual(900);
      expect(r.durationMs).toBeLessThan(8000);
    }
    const deadline = Date.now() + 3000;
    while (deafSockets.size > 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    expect(deafSockets.size).toBe(0);
  });

  it('steps with their own timeouts, then a close, leave no listener on the attempt signal', async () => {
    const ac = new AbortController();
    const script = [
      { send: 'a' },
      { expect: { text: 'a' }, timeoutMs: 2000 },
      { send: 'b' },
      { expect: { text: 'b' }, timeoutMs: 2000 },
    ];
    const r = await runWebSocketAttempt(check({ path: '/echo', connections: 20, script }), base, { signal: ac.signal, timeoutMs: 3000, headers: {}, secrets: [] });
    expect(r.failure).toBeUndefined();
    expect(r.figures).toMatchObject({ connections: 20, messages: 40, closeCodes: { '1000': 20 } });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    await expectNoOpenServerSockets();
  });
});

describe('websocket bounds', () => {
  it('keeps counting but not storing a flood, and ends on the timeout', async () => {
    const started = Date.now();
    const r = await runCheck(check({ path: '/flood', timeoutMs: 500, expectClose: { code: 1000 } }), base, opts);
    expect(r.failure?.class).toBe('timeout');
    expect(r.figures.messages).toBeGreaterThan(100);
    expect(Date.now() - started).toBeLessThan(5000);
    await expectNoOpenServerSockets();
  });

  it('fails a flood the script cannot keep up with instead of buffering it', async () => {
    const r = await runCheck(check({ path: '/flood', script: [{ expect: { text: 'x' } }, { expect: { text: 'READY' } }] }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('assertion');
    await expectNoOpenServerSockets();
  });

  it('refuses a frame over 1 MiB with a 1009 close', async () => {
    const r = await runCheck(check({ path: '/huge', script: [{ expect: { text: 'y' } }] }), base, opts);
    expect(r.status).toBe('fail');
    expect(r.failure?.class).toBe('ws-unexpected-close');
    expect(r.failure?.evidence.closeCode).toBe(1009);
    await expectNoOpenServerSockets();
  });
});
