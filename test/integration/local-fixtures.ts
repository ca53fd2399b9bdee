/**
 * Shared helpers for the local target tests: tiny revision scripts written into a temp folder under
 * .test-tmp/ (so Node resolves `ws` from the repo's node_modules), in-process backends, and fetch
 * helpers that read the revision header.
 */
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket, { WebSocketServer } from 'ws';
import { createBuilder } from '../../src/build/index.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Backend } from '../../src/runtime/proxy.js';
import { LocalTarget } from '../../src/deploy/local/target.js';
import { silentLogger } from '../../src/log.js';
import type { CycleDeps } from '../../src/loop/cycle.js';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TMP_ROOT = path.join(REPO_ROOT, '.test-tmp');

/** An HTTP + WebSocket server that names itself after K_REVISION (or REV_NAME). */
export const GOOD_SERVER = `
import http from 'node:http';
import { WebSocketServer } from 'ws';
const name = process.env.REV_NAME ?? process.env.K_REVISION ?? 'rev';
const server = http.createServer((req, res) => {
  if (req.url === '/env') {
    res.setHeader('content-type', 'application/json');
    const { PORT, K_SERVICE, K_REVISION, K_CONFIGURATION, GREETING } = process.env;
    res.end(JSON.stringify({ pid: process.pid, PORT, K_SERVICE, K_REVISION, K_CONFIGURATION, GREETING }));
    return;
  }
  res.setHeader('content-type', 'text/plain');
  res.end('hello from ' + name);
});
new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (data) => ws.send(name + ':' + data)));
server.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));
`;

export async function makeTempDir(prefix: string): Promise<string> {
  await mkdir(TMP_ROOT, { recursive: true });
  return mkdtemp(path.join(TMP_ROOT, `${prefix}-`));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** Writes `server.mjs` with the given source into a new temp folder and returns the folder. */
export async function writeRevisionDir(prefix: string, source: string): Promise<string> {
  const dir = await makeTempDir(prefix);
  await writeFile(path.join(dir, 'server.mjs'), source);
  return dir;
}

/**
 * False once the process is gone. A child whose parent died is reparented, and the sandbox's PID 1
 * may never reap it: a zombie (state Z in /proc) has exited and counts as gone.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export interface Answer {
  status: number;
  revision: string | null;
  body: string;
}

export async function get(url: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(url, init);
  return { status: res.status, revision: res.headers.get('x-deploy-loop-revision'), body: await res.text() };
}

/** Sends `count` GETs, `concurrency` at a time, and counts answers per revision header. */
export async function countRevisions(url: string, count: number, concurrency = 10): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let sent = 0;
  const worker = async () => {
    while (sent < count) {
      sent++;
      const a = await get(url);
      const key = a.revision ?? `status ${a.status}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

export interface TestBackend {
  backend: Backend;
  close(): Promise<void>;
}

/** An in-process backend: GET answers its name, POST echoes the body, WebSocket echoes `name:msg` (and greets on /welcome). */
export async function startBackend(name: string): Promise<TestBackend> {
  const server = http.createServer((req, res) => {
    if (req.method === 'POST') {
      res.setHeader('content-type', req.headers['content-type'] ?? 'application/octet-stream');
      req.pipe(res);
      return;
    }
    res.setHeader('set-cookie', ['a=1', 'b=2']);
    res.end(`hello from ${name} ${req.url}`);
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    // Sent at once, so it often shares a TCP packet with the 101 head the proxy rewrites.
    if (req.url === '/welcome') ws.send(`welcome to ${name}`);
    ws.on('message', (data) => ws.send(`${name}:${String(data)}`));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    backend: { name, url: `http://127.0.0.1:${port}` },
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface OpenSocket {
  ws: WebSocket;
  /** The 101 response's revision header. */
  revision: string | undefined;
  /** Next text message, including ones that arrived before anyone asked. */
  next(): Promise<string>;
}

/** Opens a WebSocket to `url` (http:// becomes ws://), queueing messages from the first byte on. */
export function openWebSocket(url: string): Promise<OpenSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'));
    const queued: string[] = [];
    const waiting: Array<(m: string) => void> = [];
    ws.on('message', (data) => {
      const text = String(data);
      const waiter = waiting.shift();
      if (waiter) waiter(text);
      else queued.push(text);
    });
    const next = () =>
      new Promise<string>((res, rej) => {
        const m = queued.shift();
        if (m !== undefined) return res(m);
        waiting.push(res);
        ws.once('close', () => rej(new Error('socket closed while waiting for a message')));
      });
    let revision: string | undefined;
    ws.once('upgrade', (res) => {
      const h = res.headers['x-deploy-loop-revision'];
      revision = Array.isArray(h) ? h[0] : h;
    });
    ws.once('open', () => resolve({ ws, revision, next }));
    ws.once('error', reject);
  });
}

/** Deterministic PRNG (mulberry32) so split tests cannot flake. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * runCycle's inputs for the config text of a project in `dir`: a local target (handed to `onTarget`
 * so the test can close it), the config's builder, a silent logger and a signal that never aborts.
 */
export function localCycleBase(dir: string, yaml: string, onTarget: (target: LocalTarget) => void): Omit<CycleDeps, 'cycle'> & { target: LocalTarget } {
  const loaded = parseConfigText(yaml, path.join(dir, 'loop.config.yaml'));
  const { config } = loaded;
  const log = silentLogger();
  if (config.target.kind !== 'local') throw new Error('expected a local target');
  const target = new LocalTarget(config.target, { service: config.service, log, baseDir: dir });
  onTarget(target);
  const builder = createBuilder(config.build, { service: config.service, baseDir: dir });
  return { config, builder, target, log, signal: new AbortController().signal, runId: 't', checkLocations: loaded.checkLocations };
}
