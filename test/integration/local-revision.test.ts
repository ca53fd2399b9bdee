import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startRevision, type RunningRevision } from '../../src/runtime/revision-process.js';
import { GOOD_SERVER, get, isAlive, removeDir, writeRevisionDir } from './local-fixtures.js';

const readiness = { path: '/', timeoutMs: 10_000, intervalMs: 50 };
const node = process.execPath;

describe('startRevision', () => {
  let dir: string | undefined;
  let running: RunningRevision | undefined;

  afterEach(async () => {
    await running?.stop();
    running = undefined;
    await removeDir(dir);
    dir = undefined;
  });

  it('starts a good server with PORT set and measures how long it took to become ready', async () => {
    dir = await writeRevisionDir('rev-good', GOOD_SERVER);
    const out = await startRevision({ name: 'good-1', command: [node, 'server.mjs'], cwd: dir, env: { K_REVISION: 'good-1' }, readiness });
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    running = out.revision;
    expect(running.url).toBe(`http://127.0.0.1:${running.port}`);
    expect(running.startMs).toBeGreaterThan(0);
    const env = JSON.parse((await get(`${running.url}/env`)).body) as { PORT: string; K_REVISION: string };
    expect(env).toMatchObject({ PORT: String(running.port), K_REVISION: 'good-1' });
    await running.stop();
    expect(running.process.hasExited()).toBe(true);
  });

  it('keeps probing while the readiness path answers 5xx and accepts any answer below 500', async () => {
    dir = await writeRevisionDir(
      'rev-warmup',
      `import http from 'node:http';
let hits = 0;
http.createServer((req, res) => {
  hits++;
  res.statusCode = hits <= 3 ? 503 : 404;
  res.end('hit ' + hits);
}).listen(Number(process.env.PORT), '127.0.0.1');`,
    );
    const out = await startRevision({ name: 'warm', command: [node, 'server.mjs'], cwd: dir, env: {}, readiness: { ...readiness, path: '/healthz' } });
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    running = out.revision;
    // Three 503 probes, one 404 probe that counted as ready, then this request.
    expect((await get(running.url)).body).toBe('hit 5');
  });

  it('reports a server that exits at start with its exit code and stderr', async () => {
    dir = await writeRevisionDir('rev-exit', `console.error('boom: DATABASE_URL is not set');\nprocess.exit(3);\n`);
    const out = await startRevision({ name: 'crash', command: [node, 'server.mjs'], cwd: dir, env: {}, readiness });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.exitCode).toBe(3);
    expect(out.message).toBe('exited with code 3 before becoming ready');
    expect(out.logTail).toContain('boom: DATABASE_URL is not set');
  });

  it('reports a syntax error as an early exit with the error in the log tail', async () => {
    dir = await writeRevisionDir('rev-syntax', `this is not javascript(\n`);
    const out = await startRevision({ name: 'syntax', command: [node, 'server.mjs'], cwd: dir, env: {}, readiness });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.exitCode).toBe(1);
    expect(out.logTail.join('\n')).toContain('SyntaxError');
  });

  it('reports a program that cannot be started', async () => {
    dir = await writeRevisionDir('rev-missing', '');
    const out = await startRevision({ name: 'missing', command: [path.join(dir, 'no-such-program')], cwd: dir, env: {}, readiness });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.exitCode).toBeNull();
    expect(out.message).toMatch(/could not start/);
  });

  it('gives up after the readiness timeout and stops the process', async () => {
    dir = await writeRevisionDir(
      'rev-silent',
      `import { writeFileSync } from 'node:fs';\nwriteFileSync('pid', String(process.pid));\nconsole.log('warming up forever');\nsetInterval(() => {}, 1000);\n`,
    );
    const out = await startRevision({ name: 'silent', command: [node, 'server.mjs'], cwd: dir, env: {}, readiness: { path: '/ready', timeoutMs: 2000, intervalMs: 50 } });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.message).toBe('did not answer GET /ready within 2000 ms');
    expect(out.durationMs).toBeGreaterThanOrEqual(2000);
    expect(out.logTail).toContain('warming up forever');
    const pid = Number(await readFile(path.join(dir, 'pid'), 'utf8'));
    expect(isAlive(pid)).toBe(false);
  });

  it('stops waiting and stops the process when aborted', async () => {
    dir = await writeRevisionDir('rev-abort', `import { writeFileSync } from 'node:fs';\nwriteFileSync('pid', String(process.pid));\nsetInterval(() => {}, 1000);\n`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 1500);
    const out = await startRevision({ name: 'abort', command: [node, 'server.mjs'], cwd: dir, env: {}, readiness, signal: ac.signal });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.message).toMatch(/aborted/);
    const pid = Number(await readFile(path.join(dir, 'pid'), 'utf8'));
    expect(isAlive(pid)).toBe(false);
  });
});

describe('freePort', () => {
  it('returns a port that can be listened on', async () => {
    const port = await freePort();
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    expect((server.address() as net.AddressInfo).port).toBe(port);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});
