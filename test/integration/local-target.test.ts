import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../src/build/builder.js';
import type { LocalTargetConfig } from '../../src/config/schema.js';
import type { StageContext } from '../../src/context.js';
import { LocalTarget } from '../../src/deploy/local/target.js';
import { StageError } from '../../src/errors.js';
import { startProcess } from '../../src/exec.js';
import { silentLogger } from '../../src/log.js';
import { GOOD_SERVER, REPO_ROOT, get, isAlive, makeTempDir, openWebSocket, removeDir, writeRevisionDir } from './local-fixtures.js';

const SECRET = 'sk-test-0123456789';

function config(over: Partial<LocalTargetConfig> = {}): LocalTargetConfig {
  return {
    kind: 'local',
    command: [process.execPath, 'server.mjs'],
    host: '127.0.0.1',
    port: 0,
    env: { GREETING: 'hi', API_KEY: SECRET },
    secretEnv: ['API_KEY'],
    readiness: { path: '/', timeoutMs: 10_000, intervalMs: 50 },
    keepRevisions: 3,
    ...over,
  };
}

function imageOf(dir: string): BuiltImage {
  return { ref: `dir:${dir}`, dir, durationMs: 0, outputTail: [] };
}

const ctx: StageContext = { signal: new AbortController().signal, log: silentLogger(), cycle: 1 };

/** A process that deploys one revision with the built LocalTarget, prints its pid and waits (dist/ is built by the global setup). */
const PARENT_SCRIPT = `
import { LocalTarget } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist/deploy/local/target.js')).href)};
import { silentLogger } from ${JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist/log.js')).href)};
const dir = process.cwd();
const cfg = { kind: 'local', command: [process.execPath, 'server.mjs'], host: '127.0.0.1', port: 0, env: {}, secretEnv: [],
  readiness: { path: '/', timeoutMs: 10000, intervalMs: 50 }, keepRevisions: 3 };
const target = new LocalTarget(cfg, { service: 'svc', log: silentLogger(), baseDir: dir });
const ctx = { signal: new AbortController().signal, log: silentLogger(), cycle: 1 };
const out = await target.deployCandidate(ctx, { ref: 'dir:' + dir, dir, durationMs: 0, outputTail: [] }, 'candidate');
if (!out.ok) throw new Error(out.message);
const env = await (await fetch(out.revision.url + '/env')).json();
console.log('child ' + env.pid);
setInterval(() => {}, 1000);
`;

/** Answers every GET with its pid (JSON at /env) and takes 2 s to exit on SIGTERM. */
const SLOW_STOP_PY = `
import json, os, signal, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def stop(*_):
    time.sleep(2)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)

class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"pid": os.getpid()}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *_):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
`;

async function pidOf(url: string): Promise<number> {
  return (JSON.parse((await get(`${url}/env`)).body) as { pid: number }).pid;
}

describe('LocalTarget', () => {
  let target: LocalTarget | undefined;
  const dirs: string[] = [];

  afterEach(async () => {
    await target?.close();
    target = undefined;
    await Promise.all(dirs.splice(0).map(removeDir));
  });

  async function newTarget(over: Partial<LocalTargetConfig> = {}, source = GOOD_SERVER): Promise<{ target: LocalTarget; image: BuiltImage }> {
    const dir = await writeRevisionDir('target', source);
    dirs.push(dir);
    target = new LocalTarget(config(over), { service: 'svc', log: silentLogger(), baseDir: dir });
    return { target, image: imageOf(dir) };
  }

  async function deploy(t: LocalTarget, image: BuiltImage, tag = 'candidate') {
    const out = await t.deployCandidate(ctx, image, tag);
    if (!out.ok) throw new Error(`deploy failed: ${out.message}\n${out.logTail.join('\n')}`);
    return out.revision;
  }

  it('deploys candidates at 0% on their tag URL and round-trips traffic splits', async () => {
    const { target: t, image } = await newTarget();
    expect(t.serviceUrl()).toBeUndefined();
    const r1 = await deploy(t, image);
    expect(r1.name).toMatch(/^svc-00001-[a-z]{3}$/);
    expect(r1.image).toBe(image.ref);
    expect(r1.startMs).toBeGreaterThan(0);
    expect(await t.currentTraffic(ctx)).toEqual([{ revision: r1.name, percent: 0, tag: 'candidate' }]);
    expect((await get(r1.url)).body).toBe(`hello from ${r1.name}`);
    const serviceUrl = t.serviceUrl() as string;
    expect((await get(serviceUrl)).status).toBe(503);

    const env = JSON.parse((await get(`${r1.url}/env`)).body) as Record<string, string>;
    expect(env).toMatchObject({ K_SERVICE: 'svc', K_REVISION: r1.name, K_CONFIGURATION: 'svc', GREETING: 'hi' });

    await t.setTraffic(ctx, [{ revision: r1.name, percent: 100 }]);
    expect(await t.currentTraffic(ctx)).toEqual([{ revision: r1.name, percent: 100 }]);
    expect((await get(serviceUrl)).revision).toBe(r1.name);

    const r2 = await deploy(t, image);
    expect(r2.name).toMatch(/^svc-00002-[a-z]{3}$/);
    expect(await t.currentTraffic(ctx)).toEqual([
      { revision: r1.name, percent: 100 },
      { revision: r2.name, percent: 0, tag: 'candidate' },
    ]);
    expect((await get(r2.url)).revision).toBe(r2.name);
    expect((await get(serviceUrl)).revision).toBe(r1.name);

    const split = [
      { revision: r1.name, percent: 50, tag: 'stable' },
      { revision: r2.name, percent: 50, tag: 'candidate' },
    ];
    await t.setTraffic(ctx, split);
    expect(await t.currentTraffic(ctx)).toEqual(split);
    expect(t.serviceUrl()).toBe(serviceUrl);

    const { ws, revision, next } = await openWebSocket(r2.url);
    try {
      expect(revision).toBe(r2.name);
      ws.send('ping');
      expect(await next()).toBe(`${r2.name}:ping`);
    } finally {
      ws.terminate();
    }
  });

  it('rejects splits Cloud Run would reject and leaves traffic as it was', async () => {
    const { target: t, image } = await newTarget();
    const r1 = await deploy(t, image);
    const r2 = await deploy(t, image);
    await t.setTraffic(ctx, [{ revision: r1.name, percent: 100 }, { revision: r2.name, percent: 0, tag: 'candidate' }]);
    const before = await t.currentTraffic(ctx);
    const invalid = [
      [{ revision: r1.name, percent: 90 }],
      [{ revision: r1.name, percent: 50, tag: 'same' }, { revision: r2.name, percent: 50, tag: 'same' }],
      [{ revision: 'svc-99999-zzz', percent: 100 }],
      [{ revision: r1.name, percent: 99.5 }, { revision: r2.name, percent: 0.5 }],
      [],
    ];
    for (const split of invalid) {
      const err = await t.setTraffic(ctx, split).then(() => undefined, (e: unknown) => e);
      expect(err, JSON.stringify(split)).toBeInstanceOf(StageError);
      expect((err as StageError).stage).toBe('traffic');
    }
    expect(await t.currentTraffic(ctx)).toEqual(before);
    expect((await get(t.serviceUrl() as string)).revision).toBe(r1.name);
  });

  it('returns a failed outcome with exit code and redacted log tail for a crashing revision', async () => {
    const { target: t, image } = await newTarget({}, `console.error('boom: key ' + process.env.API_KEY + ' rejected');\nprocess.exit(3);\n`);
    const out = await t.deployCandidate(ctx, image, 'candidate');
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.revisionName).toMatch(/^svc-00001-[a-z]{3}$/);
    expect(out.exitCode).toBe(3);
    expect(out.message).toMatch(/exited with code 3/);
    expect(out.logTail).toContain('boom: key [redacted] rejected');
    expect(out.logTail.join('\n')).not.toContain(SECRET);
    expect(await t.logs(out.revisionName as string, 10)).toEqual(out.logTail);
    expect(await t.currentTraffic(ctx)).toEqual([]);
  });

  it('keeps at most keepRevisions running, stopping the oldest idle ones', async () => {
    const { target: t, image } = await newTarget({ keepRevisions: 2 });
    const r1 = await deploy(t, image);
    await t.setTraffic(ctx, [{ revision: r1.name, percent: 100 }]);
    const r2 = await deploy(t, image);
    const pid2 = await pidOf(r2.url);
    // r3 takes the candidate tag from r2, which is left with no traffic and no tag.
    const r3 = await deploy(t, image);
    // r2 is out of every route at once; its process is stopped without holding up the deploy.
    const refused = await t.setTraffic(ctx, [{ revision: r2.name, percent: 100 }]).then(() => undefined, (e: unknown) => e);
    expect((refused as Error).message).toMatch(/no longer running/);
    await t.idleStopped();
    expect(isAlive(pid2)).toBe(false);
    expect((await get(t.serviceUrl() as string)).revision).toBe(r1.name);
    expect((await get(r3.url)).revision).toBe(r3.name);
    const err = await t.setTraffic(ctx, [{ revision: r2.name, percent: 100 }]).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StageError);
    expect((err as Error).message).toMatch(/no longer running/);
  });

  it('stops an idle revision without holding up the deploy that idled it, and close() waits for that stop', async () => {
    // A Python service at the root of its own folder that takes 2 s to shut down on SIGTERM.
    const dir = await makeTempDir('target-slow-stop');
    dirs.push(dir);
    await writeFile(path.join(dir, 'server.py'), SLOW_STOP_PY);
    target = new LocalTarget(config({ command: ['/usr/bin/python3', 'server.py'], keepRevisions: 1 }), { service: 'svc', log: silentLogger(), baseDir: dir });
    const t = target;
    const image = imageOf(dir);
    const r1 = await deploy(t, image);
    const pid1 = await pidOf(r1.url);
    // r2 takes the candidate tag: r1 has no traffic and no tag, and keepRevisions is 1.
    const r2 = await deploy(t, image);
    expect(isAlive(pid1)).toBe(true);
    const refused = await t.setTraffic(ctx, [{ revision: r1.name, percent: 100 }]).then(() => undefined, (e: unknown) => e);
    expect((refused as Error).message).toMatch(/no longer running/);
    expect((await get(r2.url)).revision).toBe(r2.name);
    const pid2 = await pidOf(r2.url);
    await t.close();
    expect(isAlive(pid1)).toBe(false);
    expect(isAlive(pid2)).toBe(false);
  });

  it('close() stops every child process and the proxy, and can be repeated', async () => {
    const { target: t, image } = await newTarget();
    const r1 = await deploy(t, image);
    await t.setTraffic(ctx, [{ revision: r1.name, percent: 100 }]);
    const r2 = await deploy(t, image);
    const serviceUrl = t.serviceUrl() as string;
    // r1 lost its tag to the split above; it serves the service URL.
    const pids = [await pidOf(serviceUrl), await pidOf(r2.url)];
    expect(new Set(pids).size).toBe(2);
    await t.close();
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    await expect(get(serviceUrl)).rejects.toThrow();
    await t.close();
    await expect(t.deployCandidate(ctx, image, 'candidate')).rejects.toBeInstanceOf(StageError);
  });

  it('leaves no revision process behind when its own process is stopped by a signal', async () => {
    const dir = await writeRevisionDir('target-signal', GOOD_SERVER);
    dirs.push(dir);
    await writeFile(path.join(dir, 'parent.mjs'), PARENT_SCRIPT);
    let announce: (pid: number) => void = () => {};
    const announced = new Promise<number>((resolve) => (announce = resolve));
    const parent = startProcess([process.execPath, 'parent.mjs'], {
      cwd: dir,
      onLine: (line) => {
        const m = /^child (\d+)$/.exec(line);
        if (m) announce(Number(m[1]));
      },
    });
    try {
      const exitedEarly = parent.exited.then(() => Promise.reject(new Error(`parent exited early:\n${parent.outputTail().join('\n')}`)));
      const pid = await Promise.race([announced, exitedEarly]);
      expect(isAlive(pid)).toBe(true);
      await parent.stop(); // SIGTERM; Ctrl-C's SIGINT takes the same exit path
      // The child is signalled as the parent exits; give it a moment to go.
      for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
      expect(isAlive(pid)).toBe(false);
    } finally {
      await parent.stop();
    }
  });
});
