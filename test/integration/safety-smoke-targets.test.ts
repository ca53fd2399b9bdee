/**
 * Smoke targets that misbehave: each check ends within its timeout with a classified failure, and
 * reading them does not grow the process's memory without bound (bodies, frames and queues are capped).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSchema, type CheckConfig } from '../../src/config/schema.js';
import { runSuite } from '../../src/smoke/index.js';
import type { CheckResult } from '../../src/model/check-result.js';

type Closable = HttpServer | NetServer;
const servers: Closable[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((res) => s.close(() => res()))));
});

async function listen<T extends Closable>(server: T): Promise<string> {
  servers.push(server);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const check = (input: Record<string, unknown>): CheckConfig => checkSchema.parse({ name: 'target', priority: 'P0', timeoutMs: 2000, ...input });

async function runOne(c: CheckConfig, baseUrl: string): Promise<CheckResult> {
  const [r] = await runSuite([c], baseUrl, { concurrency: 1, defaults: { timeoutMs: 2000, retries: 0, retryDelayMs: 0 } });
  if (!r) throw new Error('no result');
  return r;
}

/** Measured around each case; generous, since the point is "bounded", not "small". */
const RSS_BUDGET = 200 * 1024 * 1024;
async function bounded(run: () => Promise<CheckResult>): Promise<CheckResult> {
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const r = await run();
  const growth = process.memoryUsage().rss - before;
  expect(growth, `RSS grew by ${Math.round(growth / 1e6)} MB`).toBeLessThan(RSS_BUDGET);
  // Ends within its timeout (2 s per attempt), with room for a loaded machine.
  expect(r.durationMs).toBeLessThan(10_000);
  expect(r.status).not.toBe('pass');
  return r;
}

const MB = 1024 * 1024;

describe('misbehaving smoke targets', () => {
  it('a 100 MB response is read only up to the body limit', async () => {
    const chunk = Buffer.alloc(MB, 'a');
    let written = 0;
    const host = await listen(createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(100 * MB) });
      const pump = (): void => {
        while (written < 100 * MB) {
          written += MB;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('close', () => undefined);
      pump();
    }));
    const r = await bounded(() => runOne(check({ kind: 'http', expect: { bodyContains: 'needle' } }), `http://${host}`));
    expect(r.failure?.class).toBe('assertion');
    // The client stopped reading: the server never got to push all 100 MB.
    expect(written).toBeLessThan(100 * MB);
  });

  it('a never-ending chunked body is cut at the limit or the timeout', async () => {
    const host = await listen(createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('x'.repeat(16 * 1024)), 5);
      res.on('close', () => clearInterval(t));
    }));
    const r = await bounded(() => runOne(check({ kind: 'http', expect: { bodyContains: 'needle' } }), `http://${host}`));
    expect(['assertion', 'timeout']).toContain(r.failure?.class);
  });

  it('a server that accepts and never answers times out', async () => {
    const host = await listen(createNetServer(() => undefined));
    const r = await bounded(() => runOne(check({ kind: 'http', timeoutMs: 1000 }), `http://${host}`));
    expect(r.failure?.class).toBe('timeout');
    const ws = await bounded(() => runOne(check({ kind: 'websocket', timeoutMs: 1000 }), `ws://${host}`));
    expect(ws.failure?.class).toBe('timeout');
  });

  it('https and wss to a plain HTTP port are network failures naming the TLS problem', async () => {
    const host = await listen(createHttpServer((_req, res) => res.end('plain')));
    const at = host.replaceAll('.', '\\.');
    const r = await bounded(() => runOne(check({ kind: 'http' }), `https://${host}`));
    expect(r.failure?.class).toBe('network');
    // fetch and the ws client report OpenSSL's reason under different codes; both read the same.
    expect(r.failure?.message).toMatch(new RegExp(`^GET https://${at}/: TLS: wrong version number \\((ERR_SSL_WRONG_VERSION_NUMBER|EPROTO)\\)$`));
    const ws = await bounded(() => runOne(check({ kind: 'websocket' }), `wss://${host}`));
    expect(ws.failure?.class).toBe('network');
    expect(ws.failure?.message).toMatch(new RegExp(`^wss://${at}/: handshake failed: TLS: wrong version number \\((ERR_SSL_WRONG_VERSION_NUMBER|EPROTO)\\)$`));
  });

  const openssl = (() => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  it.skipIf(!openssl)('a self-signed certificate is a network failure naming the TLS problem, for https and wss (skipped without openssl)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'safety-tls-'));
    const upgrades: string[] = [];
    let wssServer: WebSocketServer | undefined;
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
      const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('ok'));
      // Were the upgrade ever sent, this would answer it; a TLS failure means no HTTP at all.
      wssServer = new WebSocketServer({ server });
      wssServer.on('connection', (_sock, req) => upgrades.push(req.url ?? ''));
      const host = await listen(server);
      const r = await bounded(() => runOne(check({ kind: 'http' }), `https://${host}`));
      expect(r.failure?.class).toBe('network');
      expect(r.failure?.message).toBe(`GET https://${host}/: TLS: certificate is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)`);
      const ws = await bounded(() => runOne(check({ kind: 'websocket' }), `wss://${host}`));
      // Not a rejected upgrade: no HTTP response was ever received.
      expect(ws.failure?.class).toBe('network');
      expect(ws.failure?.message).toBe(`wss://${host}/: handshake failed: TLS: certificate is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)`);
      expect(upgrades).toEqual([]);
    } finally {
      wssServer?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a WebSocket flood is bounded by the message queue and ends at the step timeout', async () => {
    const http = createHttpServer();
    const wss = new WebSocketServer({ server: http });
    const frame = 'f'.repeat(64 * 1024);
    wss.on('connection', (sock) => {
      const t = setInterval(() => {
        for (let i = 0; i < 20 && sock.readyState === sock.OPEN; i++) sock.send(frame);
      }, 1);
      sock.on('close', () => clearInterval(t));
    });
    const host = await listen(http);
    try {
      const r = await bounded(() =>
        runOne(check({ kind: 'websocket', timeoutMs: 1500, script: [{ send: 'hi' }], expectClose: { code: 4000 } }), `ws://${host}`),
      );
      expect(r.failure?.class).toBe('timeout');
    } finally {
      for (const c of wss.clients) c.terminate();
      wss.close();
    }
  });

  it('garbage after the 101 handshake is a classified failure', async () => {
    const host = await listen(createNetServer((sock) => {
      sock.once('data', (d) => {
        const key = /sec-websocket-key:\s*(\S+)/i.exec(d.toString())?.[1] ?? '';
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        // Reserved opcode 0x3 with RSV bits set: not a valid frame.
        sock.write(Buffer.from([0x73, 0x05, 0xde, 0xad, 0xbe, 0xef, 0x00, 0xff, 0xff]));
      });
    }));
    const r = await bounded(() => runOne(check({ kind: 'websocket', script: [{ expect: { text: 'hello' } }] }), `ws://${host}`));
    expect(['ws-unexpected-close', 'network']).toContain(r.failure?.class);
  });
});
