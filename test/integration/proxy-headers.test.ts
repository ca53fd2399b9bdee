/**
 * The local proxy forwards end-to-end headers only (RFC 9110 §7.6.1): hop-by-hop headers and every
 * header a `Connection` header names are dropped on the way to the revision and on the way back.
 * The revision here is a Python http.server (HTTP/1.0, one connection per request), not a Node one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TrafficProxy } from '../../src/runtime/proxy.js';

/** Answers every GET with the request headers it received as JSON; /hop adds hop-by-hop headers of its own. */
const ECHO = [
  'import http.server, json',
  'class H(http.server.BaseHTTPRequestHandler):',
  '    def do_GET(self):',
  '        body = json.dumps({k.lower(): v for k, v in self.headers.items()}).encode()',
  '        self.send_response(200)',
  '        self.send_header("content-type", "application/json")',
  '        self.send_header("content-length", str(len(body)))',
  '        if self.path == "/hop":',
  '            self.send_header("connection", "close, X-Internal-Route")',
  '            self.send_header("x-internal-route", "pod-7")',
  '            self.send_header("keep-alive", "timeout=5")',
  '            self.send_header("x-public", "yes")',
  '        self.end_headers()',
  '        self.wfile.write(body)',
  '    def log_message(self, *a): pass',
  's = http.server.HTTPServer(("127.0.0.1", 0), H)',
  'print(s.server_address[1], flush=True)',
  's.serve_forever()',
].join('\n');

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** node:http, not fetch: fetch refuses to send Connection, Keep-Alive, TE and friends. */
function send(url: string, path: string, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, { headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('TrafficProxy hop-by-hop headers', () => {
  let py: ChildProcess | undefined;
  let backendUrl = '';
  let proxy: TrafficProxy | undefined;

  beforeAll(async () => {
    py = spawn('/usr/bin/python3', ['-c', ECHO], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<string>((resolve, reject) => {
      py?.once('error', reject);
      py?.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
    });
    backendUrl = `http://127.0.0.1:${port}`;
  });
  afterAll(() => {
    py?.kill();
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  it('drops hop-by-hop request headers and those the client’s Connection names, keeps the rest', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: { name: 'rev-py', url: backendUrl }, percent: 100 }], tags: {} });
    const r = await send(proxy.url, '/echo', {
      Connection: 'keep-alive, X-Session-Hop, x-trace-hop',
      'X-Session-Hop': 'only-for-the-proxy',
      'X-Trace-Hop': 'also-hop',
      'Keep-Alive': 'timeout=30',
      TE: 'trailers',
      'Proxy-Authorization': 'Basic cHJveHk6c2VjcmV0',
      'X-Forwarded-For': '203.0.113.9',
      'X-End-To-End': 'kept',
    });
    expect(r.status).toBe(200);
    expect(r.headers['x-deploy-loop-revision']).toBe('rev-py');
    const got = JSON.parse(r.body) as Record<string, string>;
    for (const gone of ['x-session-hop', 'x-trace-hop', 'keep-alive', 'te', 'proxy-authorization']) expect(got, gone).not.toHaveProperty(gone);
    expect(got['x-end-to-end']).toBe('kept');
    expect(got['x-forwarded-for']).toBe('203.0.113.9, 127.0.0.1');
    expect(got['x-forwarded-proto']).toBe('http');
    expect(got['x-forwarded-host']).toBe(new URL(proxy.url).host);
    expect(got.host).toBe(new URL(proxy.url).host);
  });

  it('drops hop-by-hop response headers and those the revision’s Connection names', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: { name: 'rev-py', url: backendUrl }, percent: 100 }], tags: {} });
    const r = await send(proxy.url, '/hop', {});
    expect(r.status).toBe(200);
    expect(r.headers['x-public']).toBe('yes');
    expect(r.headers).not.toHaveProperty('x-internal-route');
    // The proxy's own connection to the client is keep-alive: the revision's "close" is not passed on.
    expect(r.headers.connection).not.toMatch(/x-internal-route/i);
    expect(r.headers['keep-alive'] ?? '').not.toBe('timeout=5');
    expect(r.headers['x-deploy-loop-revision']).toBe('rev-py');
  });

  it('answers many requests to a revision that closes every connection', async () => {
    proxy = await TrafficProxy.start({});
    await proxy.setRoutes({ split: [{ backend: { name: 'rev-py', url: backendUrl }, percent: 100 }], tags: {} });
    const replies = await Promise.all(Array.from({ length: 30 }, (_, i) => send(proxy?.url ?? '', `/n/${i}`, {})));
    expect(replies.map((r) => r.status)).toEqual(replies.map(() => 200));
  });
});
