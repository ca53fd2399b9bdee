/**
 * Shared by the emulator and Cloud Run target tests: tiny revision apps written to .test-tmp, the
 * real @google-cloud/run clients pointed at an in-process emulator, and small HTTP/WebSocket helpers.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { v2 } from '@google-cloud/run';
import { PassThroughClient } from 'google-auth-library';
import WebSocket from 'ws';
import { createLogging } from '../../src/deploy/cloudrun/logs.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { cloudRunTargetSchema, type CloudRunTargetInput } from '../../src/config/cloudrun-schema.js';
import { CloudRunTarget, type CloudRunTargetOptions } from '../../src/deploy/cloudrun/index.js';
import { silentLogger } from '../../src/log.js';
import { afterAll, beforeAll } from 'vitest';

export const TMP_ROOT = path.resolve(import.meta.dirname, '..', '..', '.test-tmp');

/**
 * A revision app: answers every request with its version and revision name, echoes WebSocket
 * messages, and exits with code 3 before listening when CRASH=1. `/slow?ms=N` answers after N ms;
 * `/stream?ms=N` sends its head at once and ends the body after N ms.
 */
const SERVER_JS = `
import http from 'node:http';
import { WebSocketServer } from 'ws';
const version = process.env.APP_VERSION ?? '__VERSION__';
if (process.env.CRASH === '1') {
  console.error('boom: crashing on purpose before listening');
  process.exit(3);
}
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  const wait = Number(new URL(req.url, 'http://x').searchParams.get('ms') ?? 0);
  if (req.url.startsWith('/slow')) return void setTimeout(() => res.end('{"slow":true}'), wait);
  if (req.url.startsWith('/stream')) {
    res.write('{"stream":');
    return void setTimeout(() => res.end('true}'), wait);
  }
  res.end(JSON.stringify({ version, revision: process.env.K_REVISION, service: process.env.K_SERVICE, secret: process.env.API_KEY ?? null }));
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', (m) => ws.send(version + ':' + m)));
server.listen(Number(process.env.PORT), '127.0.0.1');
`;

export async function makeTmpDir(prefix: string): Promise<string> {
  await mkdir(TMP_ROOT, { recursive: true });
  return mkdtemp(path.join(TMP_ROOT, `${prefix}-`));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir) await rm(dir, { recursive: true, force: true });
}

/** Writes an app folder whose responses say `version` (unless APP_VERSION overrides it). */
export async function writeApp(parent: string, version: string): Promise<string> {
  const dir = path.join(parent, `app-${version}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'server.mjs'), SERVER_JS.replace('__VERSION__', version));
  return dir;
}

/** Emulator config: `dir:` images run server.mjs in their folder; `example.test/app` runs `appDir`. */
export function emulatorConfig(appDir: string, extra: Record<string, unknown> = {}) {
  return {
    operationDelayMs: 50,
    readiness: { path: '/', timeoutMs: 10_000, intervalMs: 50 },
    images: {
      'dir:': { command: [process.execPath, 'server.mjs'] },
      'example.test/app': { command: [process.execPath, 'server.mjs'], cwd: appDir },
    },
    secrets: { 'api-key': 'top-secret-value' },
    ...extra,
  };
}

export function clientOptions(emu: Emulator) {
  return {
    apiEndpoint: emu.host,
    port: emu.port,
    sslCreds: grpc.credentials.createInsecure(),
    authClient: new PassThroughClient(),
  };
}

export function runClients(emu: Emulator): { services: v2.ServicesClient; revisions: v2.RevisionsClient; close(): Promise<void> } {
  const services = new v2.ServicesClient(clientOptions(emu));
  const revisions = new v2.RevisionsClient(clientOptions(emu));
  return {
    services,
    revisions,
    async close() {
      await Promise.all([services.close(), revisions.close()]);
    },
  };
}

/** No client-side retries: tests want to see the emulator's first answer. */
export const NO_RETRY = { retry: null, timeout: 5000 };

export interface AppAnswer {
  version: string;
  revision: string;
  service: string;
  secret: string | null;
}

/**
 * What an invoker sends: emulated services are private, as Cloud Run's are, and admit any bearer
 * token (the emulator cannot check Google's signature).
 */
export const INVOKER = { authorization: 'Bearer test-invoker' };

export async function getJson(url: string, headers: Record<string, string> = INVOKER): Promise<AppAnswer> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  if (res.status !== 200) throw new Error(`GET ${url}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as AppAnswer;
}

/** Sends one WebSocket message and returns the first reply. */
export function wsEcho(url: string, message: string, headers: Record<string, string> = INVOKER): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers });
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no WebSocket reply within 5 s'));
    }, 5000);
    ws.on('open', () => ws.send(message));
    ws.on('message', (data) => {
      clearTimeout(timer);
      ws.close();
      resolve(String(data));
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/**
 * The real @google-cloud/logging client against the emulator's Logging API (same port), built the
 * way the Cloud Run target builds it. Reads a revision's entries, oldest first.
 */
export async function revisionLogs(emu: Emulator, project: string, service: string, revision: string, extraFilter = ''): Promise<Array<{ text: string; severity: string; logName: string }>> {
  const logging = await createLogging({ project, endpoint: { host: emu.host, port: emu.port, insecure: true } });
  const filter = `resource.type="cloud_run_revision" AND resource.labels.service_name="${service}" AND resource.labels.revision_name="${revision}"${extraFilter ? ` AND ${extraFilter}` : ''}`;
  const [entries] = await logging.getEntries({ resourceNames: [`projects/${project}`], filter, orderBy: 'timestamp asc', autoPaginate: false, pageSize: 200 });
  return entries.map((e) => ({ text: String(e.data), severity: String(e.metadata.severity), logName: String(e.metadata.logName) }));
}

/** Plain JSON form of a client result: protobufjs instances and plain objects alike. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The gRPC status code of a rejected call. */
export async function codeOf(p: Promise<unknown>): Promise<{ code: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; details?: string; message?: string };
    return { code: e.code, message: e.details ?? e.message ?? String(err) };
  }
  throw new Error('expected the call to fail');
}

/**
 * An emulator that runs the tiny test service (test/helpers/tiny-service.ts) from command-builder
 * folders (`dir:` images), for loop-level tests. Call it in beforeAll and close it in afterAll.
 */
export function startTinyServiceEmulator(operationDelayMs = 20): Promise<Emulator> {
  return startEmulator({
    config: {
      operationDelayMs,
      readiness: { path: '/healthz', timeoutMs: 10_000, intervalMs: 50 },
      images: { 'dir:': { command: [process.execPath, 'server.mjs'] } },
      adminPort: false,
    },
  });
}

/** The real Cloud Run target against the emulator, with short retries; `extra` adds config fields, `opts` target options. */
export function emulatedTarget(emu: Emulator, service: string, extra: Partial<CloudRunTargetInput> = {}, opts: Partial<CloudRunTargetOptions> = {}): CloudRunTarget {
  const cfg = cloudRunTargetSchema.parse({
    kind: 'cloudrun',
    project: 'demo-project',
    region: 'europe-west4',
    endpoint: { host: '127.0.0.1', port: emu.port, insecure: true },
    operationTimeoutMs: 20_000,
    ...extra,
  });
  return new CloudRunTarget(cfg, { service, log: silentLogger(), retry: { baseDelayMs: 10, maxDelayMs: 50 }, ...opts });
}

/** What `useEmulator` gives a test file: filled in its beforeAll, closed in its afterAll. */
export interface EmulatorFixture {
  tmp: string;
  emu: Emulator;
  api: ReturnType<typeof runClients>;
}

/**
 * One emulator for the whole file, serving a v1 app from its own temporary folder, with the real
 * Run clients; registers the file's beforeAll and afterAll. Read the fields inside tests only.
 */
export function useEmulator(prefix: string): EmulatorFixture {
  const f = {} as EmulatorFixture;
  beforeAll(async () => {
    f.tmp = await makeTmpDir(prefix);
    f.emu = await startEmulator({ config: emulatorConfig(await writeApp(f.tmp, 'v1')) });
    f.api = runClients(f.emu);
  });
  afterAll(async () => {
    await f.api?.close();
    await f.emu?.close();
    await removeDir(f.tmp);
  });
  return f;
}
