/**
 * The http check's client (undici.request through a keep-alive Agent): connections are reused across
 * checks, compressed answers are read as text through the same 1 MiB cap (a gzip bomb is cut, not
 * inflated), and a service in another language is checked the same way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSchema, type CheckConfig } from '../../src/config/schema.js';
import { runSuite, type SuiteOptions } from '../../src/smoke/index.js';

const opts: SuiteOptions = { concurrency: 1, defaults: { timeoutMs: 3000, retries: 0, retryDelayMs: 0 } };
const check = (input: Record<string, unknown>): CheckConfig => checkSchema.parse({ name: 'c', kind: 'http', ...input });

let server: Server;
let base: string;
const sockets = new Set<Socket>();
let connections = 0;
const seen: { ua?: string | undefined; ae?: string | undefined }[] = [];
// 64 MiB of 'a' compresses to about 64 KiB: a small answer that would be huge once inflated.
const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 'a'));

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ ua: req.headers['user-agent'], ae: req.headers['accept-encoding'] });
    if (req.url === '/gzip') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      return void res.end(gzipSync(JSON.stringify({ ok: true, zipped: 'yes' })));
    }
    if (req.url === '/bomb') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
      return void res.end(bomb);
    }
    if (req.url === '/private') {
      // Cloud Run's front end for a private service: 403 with its permission page.
      res.writeHead(403, { 'content-type': 'text/html' });
      return void res.end('<h1>Error: Forbidden</h1><h2>Your client does not have permission to get URL <code>/private</code> from this server.</h2>');
    }
    if (req.url === '/forbidden') {
      res.writeHead(403, { 'content-type': 'text/plain' });
      return void res.end('nope');
    }
    if (req.url === '/bom') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"ok":true}')]));
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  });
  server.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('http check client', () => {
  it('reuses keep-alive connections for checks run one after another', async () => {
    const before = connections;
    const checks = Array.from({ length: 20 }, (_, i) => check({ name: `c${i}`, path: `/ok?i=${i}`, expect: { json: { ok: true } } }));
    const results = await runSuite(checks, base, opts);
    expect(results.map((r) => r.status)).toEqual(checks.map(() => 'pass'));
    // undici hands a socket back to its pool a tick after the body ends, so a check that starts at once
    // may open a second one; after that the two alternate. Without keep-alive this would be 20.
    expect(connections - before).toBeGreaterThanOrEqual(1);
    expect(connections - before).toBeLessThanOrEqual(2);
  });

  it('names itself with a user-agent, and a check header of that name wins', async () => {
    seen.length = 0;
    await runSuite([check({ path: '/ok' }), check({ name: 'd', path: '/ok', headers: { 'User-Agent': 'probe/2' } })], base, opts);
    expect(seen.map((s) => s.ua)).toEqual(['deploy-loop-smoke', 'probe/2']);
  });

  it('reads a gzip answer as text when the check asks for it', async () => {
    const [r] = await runSuite([check({ path: '/gzip', headers: { 'accept-encoding': 'gzip' }, expect: { json: { ok: true, zipped: 'yes' } } })], base, opts);
    expect(r?.failure).toBeUndefined();
    expect(r?.status).toBe('pass');
  });

  it('cuts a gzip bomb at the body cap, after decompression', async () => {
    globalThis.gc?.();
    const rss = process.memoryUsage().rss;
    const [r] = await runSuite([check({ path: '/bomb', headers: { 'accept-encoding': 'gzip' }, expect: { bodyContains: 'needle' } })], base, opts);
    expect(r?.status).toBe('fail');
    expect(r?.failure?.class).toBe('assertion');
    expect(r?.failure?.evidence.excerpt).toContain('[truncated: only the first 1048576 bytes were read]');
    expect(process.memoryUsage().rss - rss).toBeLessThan(48 * 1024 * 1024);
  });

  it('drops a UTF-8 byte order mark before matching, as fetch did', async () => {
    const [r] = await runSuite([check({ path: '/bom', expect: { json: { ok: true }, bodyMatches: '^\\{' } })], base, opts);
    expect(r?.failure).toBeUndefined();
    expect(r?.status).toBe('pass');
  });
});

describe('http check against a Python service', () => {
  let py: ChildProcess | undefined;
  let pyBase = '';
  beforeAll(async () => {
    // http.server answers HTTP/1.0 by default and closes each connection: the client must not assume keep-alive.
    const script = [
      'import http.server, json, sys',
      'class H(http.server.BaseHTTPRequestHandler):',
      '    def do_GET(self):',
      '        body = json.dumps({"lang": "python", "path": self.path}).encode()',
      '        self.send_response(200 if self.path == "/py" else 404)',
      '        self.send_header("content-type", "application/json")',
      '        self.send_header("content-length", str(len(body)))',
      '        self.end_headers()',
      '        self.wfile.write(body)',
      '    def log_message(self, *a): pass',
      's = http.server.HTTPServer(("127.0.0.1", 0), H)',
      'print(s.server_address[1], flush=True)',
      's.serve_forever()',
    ].join('\n');
    py = spawn('/usr/bin/python3', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<string>((resolve, reject) => {
      py?.once('error', reject);
      py?.stdout?.once('data', (d: Buffer) => resolve(d.toString().trim()));
    });
    pyBase = `http://127.0.0.1:${port}`;
  });
  afterAll(() => {
    py?.kill();
  });

  it('passes and fails checks on answers from connections the server closes', async () => {
    const results = await runSuite(
      [
        check({ name: 'a', path: '/py', expect: { json: { lang: 'python', path: '/py' } } }),
        check({ name: 'b', path: '/py', expect: { json: { lang: 'python' } } }),
        check({ name: 'c', path: '/nope' }),
      ],
      pyBase,
      opts,
    );
    expect(results.map((r) => r.status)).toEqual(['pass', 'pass', 'fail']);
    expect(results[2]?.failure).toMatchObject({ class: 'http-4xx', evidence: { status: 404 } });
  });

  it("a 403 from Cloud Run's front end names target.access, auth.idToken and the invoker role; another 403 does not", async () => {
    const [priv, other] = await runSuite([check({ name: 'p', path: '/private' }), check({ name: 'o', path: '/forbidden' })], base, opts);
    expect(priv?.failure?.class).toBe('http-4xx');
    expect(priv?.failure?.message).toMatch(/expected status 200, got 403\. Cloud Run refused the call \(403\): the service is private\. Set target\.access: public, or target\.auth\.idToken: true .*roles\/run\.invoker/);
    expect(other?.failure?.message).toMatch(/expected status 200, got 403$/);
  });
});
