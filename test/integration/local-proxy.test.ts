import http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from 'undici';
import { freePort } from '../../src/runtime/revision-process.js';
import { TrafficProxy } from '../../src/runtime/proxy.js';
import { countRevisions, get, openWebSocket, seededRandom, startBackend, type TestBackend } from './local-fixtures.js';

describe('TrafficProxy', () => {
  let a: TestBackend;
  let b: TestBackend;
  let proxy: TrafficProxy | undefined;

  beforeEach(async () => {
    [a, b] = await Promise.all([startBackend('rev-a'), startBackend('rev-b')]);
  });

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await Promise.all([a.close(), b.close()]);
  });

  it('splits 70/30 by weight over 1,000 requests', async () => {
    proxy = await TrafficProxy.start({ random: seededRandom(42) });
    await proxy.setRoutes({ split: [{ backend: a.backend, percent: 70 }, { backend: b.backend, percent: 30 }], tags: {} });
    const counts = await countRevisions(proxy.url, 1000);
    expect([...counts.keys()].sort()).toEqual(['rev-a', 'rev-b']);
    expect((counts.get('rev-a') ?? 0) / 10).toBeGreaterThanOrEqual(65);
    expect((counts.get('rev-a') ?? 0) / 10).toBeLessThanOrEqual(75);
  });

  it('sends everything to the only revision with a share', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: a.backend, percent: 100 }, { backend: b.backend, percent: 0 }], tags: {} });
    const counts = await countRevisions(proxy.url, 200);
    expect(Object.fromEntries(counts)).toEqual({ 'rev-a': 200 });
  });

  it('forwards method, path, body and repeated response headers', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: a.backend, percent: 100 }], tags: {} });
    const res = await fetch(`${proxy.url}/echo?x=1`, { method: 'POST', body: 'x'.repeat(200_000), headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect((await res.text()).length).toBe(200_000);
    const got = await fetch(`${proxy.url}/some/path?q=2`);
    expect(await got.text()).toBe('hello from rev-a /some/path?q=2');
    expect(got.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
  });

  it('gives each tag its own URL that reaches only its revision', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: a.backend, percent: 100 }], tags: { stable: a.backend, candidate: b.backend } });
    const candidateUrl = proxy.tagUrl('candidate');
    const stableUrl = proxy.tagUrl('stable');
    expect(candidateUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(new Set([proxy.url, candidateUrl, stableUrl]).size).toBe(3);
    expect(Object.fromEntries(await countRevisions(candidateUrl as string, 50))).toEqual({ 'rev-b': 50 });
    expect(Object.fromEntries(await countRevisions(stableUrl as string, 50))).toEqual({ 'rev-a': 50 });
    expect(proxy.tagUrl('nope')).toBeUndefined();
  });

  it('proxies WebSockets both ways on the service URL and on a tag URL', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: a.backend, percent: 100 }], tags: { candidate: b.backend } });
    const main = await openWebSocket(`${proxy.url}/chat`);
    const tagged = await openWebSocket(`${proxy.tagUrl('candidate')}/welcome`);
    try {
      expect(main.revision).toBe('rev-a');
      expect(tagged.revision).toBe('rev-b');
      main.ws.send('hello');
      expect(await main.next()).toBe('rev-a:hello');
      expect(await tagged.next()).toBe('welcome to rev-b');
      tagged.ws.send('hi there');
      expect(await tagged.next()).toBe('rev-b:hi there');
      main.ws.send('x'.repeat(300_000));
      expect(await main.next()).toBe(`rev-a:${'x'.repeat(300_000)}`);
    } finally {
      main.ws.terminate();
      tagged.ws.terminate();
    }
  });

  it('applies new routes to new requests, moves tags without changing their URL and closes removed tags', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: a.backend, percent: 100 }], tags: { candidate: a.backend, old: a.backend } });
    const candidateUrl = proxy.tagUrl('candidate') as string;
    const oldUrl = proxy.tagUrl('old') as string;
    expect((await get(proxy.url)).revision).toBe('rev-a');
    await proxy.setRoutes({ split: [{ backend: b.backend, percent: 100 }], tags: { candidate: b.backend } });
    expect(Object.fromEntries(await countRevisions(proxy.url, 20))).toEqual({ 'rev-b': 20 });
    expect(proxy.tagUrl('candidate')).toBe(candidateUrl);
    expect((await get(candidateUrl)).revision).toBe('rev-b');
    expect(proxy.tagUrl('old')).toBeUndefined();
    await expect(get(oldUrl)).rejects.toThrow();
  });

  it('answers 503 when no revision serves traffic, for requests and upgrades', async () => {
    proxy = await TrafficProxy.start({});
    const res = await get(proxy.url);
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/no revision is serving traffic/);
    await proxy.setRoutes({ split: [{ backend: a.backend, percent: 0 }], tags: {} });
    expect((await get(proxy.url)).status).toBe(503);
    await expect(openWebSocket(proxy.url)).rejects.toThrow(/503/);
  });

  it('answers 502 with the error when the revision is down, for requests and upgrades', async () => {
    const downUrl = `http://127.0.0.1:${await freePort()}`;
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: { name: 'rev-down', url: downUrl }, percent: 100 }], tags: {} });
    const res = await get(proxy.url);
    expect(res.status).toBe(502);
    expect(res.revision).toBe('rev-down');
    expect(res.body).toMatch(/rev-down.*ECONNREFUSED/);
    await expect(openWebSocket(proxy.url)).rejects.toThrow(/502/);
  });

  it('sends a GET again when the backend dropped the pooled keep-alive socket, but never a POST', async () => {
    // A backend that, like one whose keepAliveTimeout just fired, drops every socket on its second request.
    const seen: string[] = [];
    const perSocket = new WeakMap<net.Socket, number>();
    const flaky = http.createServer((req, res) => {
      const n = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, n);
      seen.push(`${req.method} ${n}`);
      if (n > 1) return void req.socket.destroy();
      req.resume();
      req.on('end', () => res.end(`ok ${req.method}`));
    });
    await new Promise<void>((resolve) => flaky.listen(0, '127.0.0.1', resolve));
    try {
      proxy = await TrafficProxy.start({});
      const url = `http://127.0.0.1:${(flaky.address() as net.AddressInfo).port}`;
      await proxy.setRoutes({ split: [{ backend: { name: 'rev-flaky', url }, percent: 100 }], tags: {} });
      // One keep-alive client connection, so every request after the first reuses the revision's socket.
      const client = new Client(proxy.url);
      try {
        for (let i = 0; i < 5; i++) {
          const res = await client.request({ path: '/', method: 'GET' });
          const body = await res.body.text();
          expect(res.statusCode, `GET ${i + 1}: ${body}`).toBe(200);
          expect(body).toBe('ok GET');
        }
        // Each GET after the first met a dropped socket once and was answered on a fresh one.
        expect(seen).toEqual(['GET 1', 'GET 2', 'GET 1', 'GET 2', 'GET 1', 'GET 2', 'GET 1', 'GET 2', 'GET 1']);
        seen.length = 0;
        const post = await client.request({ path: '/submit', method: 'POST', body: 'order=1' });
        expect(post.statusCode).toBe(502);
        expect(await post.body.text()).toMatch(/rev-flaky.*(socket hang up|ECONNRESET)/);
      } finally {
        await client.close();
      }
      expect(seen).toEqual(['POST 2']);
    } finally {
      flaky.closeAllConnections();
      await new Promise((resolve) => flaky.close(resolve));
    }
  });

  it('close() closes open WebSockets and frees the port', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: a.backend, percent: 100 }], tags: { candidate: a.backend } });
    const port = Number(new URL(proxy.url).port);
    const tagPort = Number(new URL(proxy.tagUrl('candidate') as string).port);
    const { ws } = await openWebSocket(proxy.url);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await proxy.close();
    expect(await closed).toBe(1006);
    await proxy.close(); // idempotent
    for (const p of [port, tagPort]) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, '127.0.0.1', resolve);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('listens on the port it is given', async () => {
    const port = await freePort();
    proxy = await TrafficProxy.start({ port });
    expect(proxy.url).toBe(`http://127.0.0.1:${port}`);
  });
});
