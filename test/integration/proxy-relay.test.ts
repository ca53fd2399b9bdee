/**
 * The proxy's HTTP/1.1 relay (src/runtime/http1-relay.ts) reads heads and framing only: these
 * tests speak raw bytes to it, from revisions that are raw TCP servers or Python's http.server, so
 * each framing rule (RFC 9112 §6.3) and each hand-over to node:http is seen on the wire.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { leanRequest, leanResponse } from '../../src/runtime/http1-relay.js';
import { TrafficProxy } from '../../src/runtime/proxy.js';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** A revision written as raw TCP: `answer` gets each connection's bytes and writes what it likes. */
async function rawRevision(answer: (socket: net.Socket, data: string, conn: number) => void): Promise<{ url: string; connections: () => number }> {
  let conns = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const conn = ++conns;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.on('data', (d) => answer(socket, d.toString('latin1'), conn));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({ close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }) });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, connections: () => conns };
}

/** A node:http revision that counts the connections it accepted. */
async function nodeRevision(handler: http.RequestListener): Promise<{ url: string; server: http.Server; connections: () => number }> {
  let conns = 0;
  const server = http.createServer(handler);
  server.on('connection', () => conns++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({ close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) });
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, server, connections: () => conns };
}

async function proxyTo(url: string, name = 'rev-1'): Promise<TrafficProxy> {
  const proxy = await TrafficProxy.start({});
  open.push(proxy);
  await proxy.setRoutes({ split: [{ backend: { name, url }, percent: 100 }], tags: {} });
  return proxy;
}

/** One client connection speaking raw bytes: send, then read until `done(text)` or the close. */
class RawClient {
  private readonly socket: net.Socket;
  private text = '';
  private closed = false;
  private waiter: (() => void) | undefined;

  constructor(url: string) {
    const u = new URL(url);
    this.socket = net.connect(Number(u.port), u.hostname);
    this.socket.on('data', (d) => {
      this.text += d.toString('latin1');
      this.waiter?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    this.socket.on('error', () => undefined);
    open.push({ close: () => this.socket.destroy() });
  }

  send(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends the client's FIN: it will write no more, but still reads. */
  endWrite(): void {
    this.socket.end();
  }

  /** Waits until the bytes received so far satisfy `done`, or the connection closes; returns them all. */
  async read(done: (text: string) => boolean): Promise<string> {
    const until = Date.now() + 5_000;
    while (!done(this.text) && !this.closed) {
      if (Date.now() > until) throw new Error(`no complete answer in 5 s; got ${JSON.stringify(this.text)}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 100);
      });
    }
    return this.text;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async closedWithin(ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (!this.closed && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }
}

const count = (text: string, needle: string) => text.split(needle).length - 1;
const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nhost: svc.test\r\n${extra}\r\n`;

describe('the HTTP/1.1 relay', () => {
  it('serves many requests on one client connection over one revision connection, adding the revision header', async () => {
    const rev = await nodeRevision((req, res) => res.end(`hello ${req.url}`));
    const proxy = await proxyTo(rev.url, 'rev-a');
    const client = new RawClient(proxy.url);
    for (let i = 1; i <= 5; i++) {
      client.send(GET(`/n${i}`));
      const text = await client.read((t) => t.includes(`hello /n${i}`));
      expect(text).toContain(`hello /n${i}`);
    }
    const text = await client.read(() => true);
    expect(count(text, 'HTTP/1.1 200 OK')).toBe(5);
    expect(count(text, 'x-deploy-loop-revision: rev-a')).toBe(5);
    // node:http's own hop-by-hop headers stay on its hop.
    expect(text.toLowerCase()).not.toContain('keep-alive: timeout');
    expect(rev.connections()).toBe(1);
    expect(client.isClosed).toBe(false);
  });

  it('answers a client that half-closes after its request, then closes', async () => {
    const rev = await nodeRevision((_req, res) => setTimeout(() => res.end('late answer'), 30));
    const proxy = await proxyTo(rev.url);
    const client = new RawClient(proxy.url);
    client.send(GET('/'));
    client.endWrite();
    const text = await client.read(() => false);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK[^]*late answer$/);
    expect(client.isClosed).toBe(true);
  });

  it('answers pipelined requests in order', async () => {
    const rev = await nodeRevision((req, res) => setTimeout(() => res.end(`answer ${req.url}`), req.url === '/slow' ? 50 : 0));
    const proxy = await proxyTo(rev.url);
    const client = new RawClient(proxy.url);
    client.send(GET('/slow') + GET('/fast') + GET('/last'));
    const text = await client.read((t) => t.includes('answer /last'));
    expect(text.indexOf('answer /slow')).toBeLessThan(text.indexOf('answer /fast'));
    expect(text.indexOf('answer /fast')).toBeLessThan(text.indexOf('answer /last'));
  });

  it('relays a chunked answer as it streams, then takes the next request', async () => {
    let release: (() => void) | undefined;
    const rev = await nodeRevision((req, res) => {
      if (req.url !== '/stream') return void res.end('after');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      release = () => res.end('data: last\n\n');
    });
    const proxy = await proxyTo(rev.url);
    const client = new RawClient(proxy.url);
    client.send(GET('/stream'));
    // The first event arrives while the revision is still streaming: nothing is buffered to the end.
    const early = await client.read((t) => t.includes('data: first'));
    expect(early).toMatch(/\r\ntransfer-encoding: chunked\r\n/i);
    expect(early).not.toContain('data: last');
    release?.();
    await client.read((t) => t.endsWith('0\r\n\r\n'));
    client.send(GET('/next'));
    const text = await client.read((t) => t.includes('after'));
    expect(text).toMatch(/data: last\n\n\r\n0\r\n\r\nHTTP\/1\.1 200 OK/);
  });

  it('drops Content-Length from an answer framed by Transfer-Encoding, and relays chunk extensions and trailers', async () => {
    const rev = await rawRevision((socket) =>
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 999\r\ntransfer-encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nx-digest: abc\r\n\r\n'),
    );
    const proxy = await proxyTo(rev.url);
    const res = await fetch(`${proxy.url}/`);
    expect(res.headers.get('content-length')).toBeNull();
    expect(await res.text()).toBe('hello');
  });

  it('ends the client connection with an answer that ends at the close, as Python http.server sends them', async () => {
    // HTTP/1.0, no Content-Length: the body is everything until the revision closes (RFC 9112 §6.3).
    const py = spawn('/usr/bin/python3', ['-c', [
      'import http.server',
      'class H(http.server.BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      '        self.send_response(200)',
      '        self.send_header("content-type", "text/plain")',
      '        self.end_headers()',
      '        self.wfile.write(b"from python " + self.path.encode())',
      '    def log_message(self, *a): pass',
      's = http.server.HTTPServer(("127.0.0.1", 0), H)',
      'print(s.server_address[1], flush=True)',
      's.serve_forever()',
    ].join('\n')], { stdio: ['ignore', 'pipe', 'inherit'] });
    open.push({ close: () => stopChild(py) });
    const port = await firstLine(py);
    const proxy = await proxyTo(`http://127.0.0.1:${port}`, 'rev-py');
    const client = new RawClient(proxy.url);
    client.send(GET('/a'));
    const text = await client.read(() => false);
    expect(text).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    expect(text).toContain('x-deploy-loop-revision: rev-py\r\n');
    expect(text).toContain('connection: close\r\n');
    expect(text.endsWith('\r\n\r\nfrom python /a')).toBe(true);
    expect(client.isClosed).toBe(true);
    // fetch, through a fresh connection each time, sees whole bodies.
    for (const path of ['/b', '/c']) expect(await (await fetch(`${proxy.url}${path}`)).text()).toBe(`from python ${path}`);
  });

  it('keeps the client connection when the revision closes after a framed answer', async () => {
    const rev = await rawRevision((socket, _data, conn) => {
      socket.end(`HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nconn ${conn}`);
    });
    const proxy = await proxyTo(rev.url);
    const client = new RawClient(proxy.url);
    client.send(GET('/1'));
    await client.read((t) => t.includes('conn 1'));
    client.send(GET('/2'));
    const text = await client.read((t) => t.includes('conn 2'));
    expect(text).not.toContain('connection: close');
    expect(client.isClosed).toBe(false);
    expect(rev.connections()).toBe(2);
  });

  it('sends no body for HEAD, 204 and 304, and the connection goes on', async () => {
    const rev = await nodeRevision((req, res) => {
      if (req.url === '/204') return void res.writeHead(204).end();
      if (req.url === '/304') return void res.writeHead(304, { etag: '"x"' }).end();
      // HEAD announces the length of the body it does not send.
      if (req.method === 'HEAD') return void res.writeHead(200, { 'content-length': 12 }).end();
      res.end('twelve bytes');
    });
    const proxy = await proxyTo(rev.url);
    const client = new RawClient(proxy.url);
    client.send('HEAD /h HTTP/1.1\r\nhost: svc.test\r\n\r\n');
    await client.read((t) => t.includes('\r\n\r\n'));
    client.send(GET('/204'));
    await client.read((t) => t.includes('204 No Content'));
    client.send(GET('/304'));
    await client.read((t) => t.includes('304 Not Modified'));
    client.send(GET('/body'));
    const text = await client.read((t) => t.includes('twelve bytes'));
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*content-length: 12\r\n[^]*\r\n\r\nHTTP\/1\.1 204/i);
    expect(count(text, 'HTTP/1.1 ')).toBe(4);
    expect(text.endsWith('\r\n\r\ntwelve bytes')).toBe(true);
    expect(count(text, 'twelve bytes')).toBe(1);
  });

  it('relays a large request body and a large answer with backpressure, byte for byte', async () => {
    const rev = await nodeRevision((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (d: Buffer) => parts.push(d));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        res.setHeader('content-length', body.length * 2);
        res.write(body);
        res.end(body);
      });
    });
    const proxy = await proxyTo(rev.url);
    const body = Buffer.alloc(4 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) % 251;
    const res = await fetch(`${proxy.url}/echo`, { method: 'POST', body });
    const back = Buffer.from(await res.arrayBuffer());
    expect(back.length).toBe(body.length * 2);
    expect(back.subarray(0, body.length).equals(body)).toBe(true);
    expect(back.subarray(body.length).equals(body)).toBe(true);
  });

  it('moves a kept-alive client connection to the new revision when the routes change', async () => {
    const a = await nodeRevision((_req, res) => res.end('from a'));
    const b = await nodeRevision((_req, res) => res.end('from b'));
    const proxy = await proxyTo(a.url, 'rev-a');
    const client = new RawClient(proxy.url);
    client.send(GET('/'));
    await client.read((t) => t.includes('from a'));
    await proxy.setRoutes({ split: [{ backend: { name: 'rev-b', url: b.url }, percent: 100 }], tags: {} });
    client.send(GET('/'));
    const text = await client.read((t) => t.includes('from b'));
    expect(text).toContain('x-deploy-loop-revision: rev-b');
    expect(client.isClosed).toBe(false);
  });

  it('answers 502 with the revision header when the revision sends what is not HTTP', async () => {
    const rev = await rawRevision((socket) => socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n'));
    const proxy = await proxyTo(rev.url, 'rev-bad');
    const res = await fetch(`${proxy.url}/`);
    expect(res.status).toBe(502);
    expect(res.headers.get('x-deploy-loop-revision')).toBe('rev-bad');
    expect(await res.text()).toMatch(/rev-bad.*not an HTTP\/1\.x status line/);
  });

  it('cuts the client connection when the revision dies mid-answer, so a cut body is never taken for a whole one', async () => {
    const rev = await rawRevision((socket) => {
      socket.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part');
      setTimeout(() => socket.destroy(), 20);
    });
    const proxy = await proxyTo(rev.url);
    await expect(fetch(`${proxy.url}/`).then((r) => r.text())).rejects.toThrow();
  });

  describe('hands to node:http what it does not relay itself', () => {
    it('HTTP/1.0 requests, chunked uploads and 100-continue', async () => {
      const rev = await nodeRevision((req, res) => {
        let n = 0;
        req.on('data', (d: Buffer) => (n += d.length));
        req.on('end', () => res.end(`${req.method} ${req.httpVersion} ${n}`));
      });
      const proxy = await proxyTo(rev.url);
      const old = new RawClient(proxy.url);
      old.send('GET /old HTTP/1.0\r\nhost: svc.test\r\n\r\n');
      expect(await old.read(() => false)).toMatch(/^HTTP\/1\.1 200 OK[^]*\r\n\r\nGET 1\.1 0$/);

      const chunked = new RawClient(proxy.url);
      chunked.send('POST /up HTTP/1.1\r\nhost: svc.test\r\ntransfer-encoding: chunked\r\n\r\n4\r\nabcd\r\n3\r\nefg\r\n0\r\n\r\n');
      expect(await chunked.read((t) => t.includes('POST 1.1'))).toContain('POST 1.1 7');

      const cont = new RawClient(proxy.url);
      cont.send('POST /c HTTP/1.1\r\nhost: svc.test\r\ncontent-length: 5\r\nexpect: 100-continue\r\n\r\n');
      await cont.read((t) => t.includes('100 Continue'));
      cont.send('12345');
      expect(await cont.read((t) => t.includes('POST 1.1'))).toContain('POST 1.1 5');
    });

    it('a WebSocket upgrade after plain requests on the same connection', async () => {
      const rev = await nodeRevision((_req, res) => res.end('plain'));
      const wss = new WebSocketServer({ server: rev.server });
      wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${String(m)}`)));
      const proxy = await proxyTo(rev.url, 'rev-ws');
      // ws on an agent that reuses the first request's socket is not a thing; a raw client is.
      const client = new RawClient(proxy.url);
      client.send(GET('/'));
      await client.read((t) => t.includes('plain'));
      client.send(GET('/ws', 'connection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n'));
      const text = await client.read((t) => t.includes('101 Switching Protocols') && t.endsWith('\r\n\r\n'));
      expect(text).toContain('x-deploy-loop-revision: rev-ws');
      // And a real client through the service URL.
      const ws = new WebSocket(`${proxy.url.replace('http', 'ws')}/ws`);
      open.push({ close: () => ws.terminate() });
      const reply = await new Promise<string>((resolve, reject) => {
        ws.on('open', () => ws.send('hi'));
        ws.on('message', (m) => resolve(String(m)));
        ws.on('error', reject);
      });
      expect(reply).toBe('echo hi');
    });

    it('smuggling shapes and malformed heads get node:http answers, never reach the revision', async () => {
      let reached = 0;
      const rev = await nodeRevision((_req, res) => {
        reached++;
        res.end('ok');
      });
      const proxy = await proxyTo(rev.url);
      const both = new RawClient(proxy.url);
      both.send('POST / HTTP/1.1\r\nhost: svc.test\r\ncontent-length: 4\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nhost: x\r\n\r\n');
      expect(await both.read(() => false)).toMatch(/^HTTP\/1\.1 400/);
      const twoLengths = new RawClient(proxy.url);
      twoLengths.send('POST / HTTP/1.1\r\nhost: svc.test\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab');
      expect(await twoLengths.read(() => false)).toMatch(/^HTTP\/1\.1 400/);
      const noHost = new RawClient(proxy.url);
      noHost.send('GET / HTTP/1.1\r\n\r\n');
      expect(await noHost.read(() => false)).toMatch(/^HTTP\/1\.1 400/);
      const huge = new RawClient(proxy.url);
      huge.send(`GET / HTTP/1.1\r\nhost: svc.test\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`);
      expect(await huge.read(() => false)).toMatch(/^HTTP\/1\.1 431/);
      expect(reached).toBe(0);
    });
  });

  it('closes an idle kept-alive client connection after 5 s, as node:http does', async () => {
    const rev = await nodeRevision((_req, res) => res.end('ok'));
    const proxy = await proxyTo(rev.url);
    const client = new RawClient(proxy.url);
    client.send(GET('/'));
    await client.read((t) => t.includes('ok'));
    expect(await client.closedWithin(3_000)).toBe(false);
    expect(await client.closedWithin(4_000)).toBe(true);
  }, 15_000);
});

describe('head rewriting', () => {
  it('drops hop-by-hop headers and the ones Connection names, and adds X-Forwarded-*', () => {
    const req = leanRequest('GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: keep-alive, X-Secret-Hop\r\nX-Secret-Hop: 1\r\nTE: trailers\r\nX-Forwarded-For: 10.0.0.1\r\nAccept: */*', '127.0.0.1');
    expect(req?.head).toBe('GET /x HTTP/1.1\r\nHost: a.test\r\nAccept: */*\r\nx-forwarded-for: 10.0.0.1, 127.0.0.1\r\nx-forwarded-proto: http\r\nx-forwarded-host: a.test\r\n\r\n');
    const res = leanResponse('HTTP/1.1 200 OK\r\nConnection: close, X-Pod\r\nX-Pod: 7\r\nKeep-Alive: timeout=5\r\nContent-Length: 2', 'rev-1', false, false);
    expect(typeof res === 'string' ? res : res.head).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-deploy-loop-revision: rev-1\r\n\r\n');
    expect(typeof res !== 'string' && res.closes).toBe(true);
  });

  it('drops a Content-Length that Transfer-Encoding overrides, a repeated one, and names with regex characters', () => {
    const te = leanResponse('HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-A: 1\r\nTransfer-Encoding: chunked', 'r', false, false);
    expect(typeof te === 'string' ? te : te.head).toBe('HTTP/1.1 200 OK\r\nX-A: 1\r\nTransfer-Encoding: chunked\r\nx-deploy-loop-revision: r\r\n\r\n');
    const twice = leanResponse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2', 'r', false, false);
    expect(typeof twice === 'string' ? twice : twice.head).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nx-deploy-loop-revision: r\r\n\r\n');
    expect(leanResponse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3', 'r', false, false)).toMatch(/bad content-length/);
    const req = leanRequest('GET / HTTP/1.1\r\nHost: a\r\nConnection: x.y, a+b\r\nx.y: 1\r\nxzy: 2\r\na+b: 3\r\naab: 4', undefined);
    expect(req?.head).toBe('GET / HTTP/1.1\r\nHost: a\r\nxzy: 2\r\naab: 4\r\nx-forwarded-proto: http\r\nx-forwarded-host: a\r\n\r\n');
    expect(leanRequest('GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE', undefined)?.close).toBe(true);
    expect(leanRequest('GET / HTTP/1.1\r\nHost: a\r\nConnection: closed', undefined)?.close).toBe(false);
  });

  it('leaves to node:http every request outside the plain HTTP/1.1 case', () => {
    for (const head of [
      'GET / HTTP/1.0\r\nHost: a',
      'GET / HTTP/2.0\r\nHost: a',
      'GET  / HTTP/1.1\r\nHost: a',
      'CONNECT a:443 HTTP/1.1\r\nHost: a',
      'GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked',
      'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1',
      'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1',
      'GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue',
      'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade',
      'GET / HTTP/1.1\r\nHost: a\r\n folded',
      'GET / HTTP/1.1\r\nHost : a',
      'GET / HTTP/1.1\r\nHost: a\r\nX: a\nb',
      'GET / HTTP/1.1\r\nHost: a\r\nHost: b',
      'GET / HTTP/1.1\r\nAccept: */*',
      'GET /\x01 HTTP/1.1\r\nHost: a',
    ]) {
      expect(leanRequest(head, '127.0.0.1'), JSON.stringify(head)).toBeUndefined();
    }
  });
});

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(out.slice(0, nl).trim());
    });
    child.once('exit', (code) => reject(new Error(`python exited with ${code}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}
