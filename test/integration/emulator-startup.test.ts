/**
 * Startup probes as Cloud Run runs them, through the real @google-cloud/run client, on a Python
 * http.server service (not the Node demo): TCP on the container port by default, so a service that
 * listens but answers 500 everywhere is Ready (the smoke suite catches it) and one that never
 * listens fails with Cloud Run's "Default STARTUP TCP probe failed" line; an HTTP probe only when
 * the template configures startupProbe.httpGet, passing on 200 to 399.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { protos } from '@google-cloud/run';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { INVOKER, NO_RETRY, codeOf, makeTmpDir, plain, removeDir, revisionLogs, runClients } from './emulator-fixtures.js';

type IService = protos.google.cloud.run.v2.IService;
type IContainer = protos.google.cloud.run.v2.IContainer;

const PARENT = 'projects/demo/locations/us-central1';
const IMAGE = 'py.test/server:1';
/** The emulator's cap on the startup budget: Cloud Run's default probe would wait 240 s. */
const BUDGET_MS = 1500;

/**
 * MODE=500: every GET answers 500. MODE=ready302: /ready answers 302, the rest 500. MODE=silent:
 * never listens. MODE=hangup: accepts connections and closes them at once, as a container engine's
 * port forwarder does while nothing listens inside.
 */
const SERVER_PY = `
import os, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer
mode = os.environ.get('MODE', '500')
if mode == 'silent':
    print('warming a cache that never finishes', flush=True)
    time.sleep(3600)
if mode == 'hangup':
    import socket
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', int(os.environ['PORT'])))
    s.listen(16)
    while True:
        conn, _ = s.accept()
        conn.close()
class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        code = 302 if (mode == 'ready302' and self.path == '/ready') else 500
        self.send_response(code)
        self.send_header('content-length', '0')
        if code == 302:
            self.send_header('location', '/')
        self.end_headers()
    def log_message(self, *args):
        pass
HTTPServer(('127.0.0.1', int(os.environ['PORT'])), Handler).serve_forever()
`;

let tmp: string;
let emu: Emulator;
let api: ReturnType<typeof runClients>;

beforeAll(async () => {
  tmp = await makeTmpDir('emulator-startup');
  await writeFile(path.join(tmp, 'server.py'), SERVER_PY);
  emu = await startEmulator({
    config: {
      operationDelayMs: 20,
      startup: { timeoutMs: BUDGET_MS, intervalMs: 50 },
      images: { 'py.test/server': { command: ['/usr/bin/python3', 'server.py'], cwd: tmp } },
      adminPort: false,
    },
  });
  api = runClients(emu);
});

afterAll(async () => {
  await api?.close();
  await emu?.close();
  await removeDir(tmp);
});

function container(mode: string, extra: IContainer = {}): IContainer {
  return { name: 'web', image: IMAGE, env: [{ name: 'MODE', value: mode }], ...extra };
}

async function create(id: string, c: IContainer): Promise<IService> {
  const [op] = await api.services.createService({ parent: `${PARENT}`, serviceId: id, service: { template: { containers: [c] } } }, NO_RETRY);
  const [result] = await op.promise();
  return plain(result);
}

async function firstRevision(id: string) {
  const [revs] = await api.revisions.listRevisions({ parent: `${PARENT}/services/${id}` }, NO_RETRY);
  const rev = revs[0];
  if (!rev) throw new Error(`service ${id} has no revision`);
  return plain(rev);
}

const systemLines = async (id: string, revision: string) =>
  (await revisionLogs(emu, 'demo', id, revision)).filter((l) => l.logName.endsWith('varlog%2Fsystem')).map((l) => `${l.severity} ${l.text}`);

describe('startup probe', () => {
  it('makes a service that listens but answers 500 everywhere Ready: the default probe is TCP', async () => {
    const svc = await create('py-five-hundred', container('500'));
    expect(svc.terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
    const rev = await firstRevision('py-five-hundred');
    expect(rev.conditions?.find((c) => c.type === 'Ready')?.state).toBe('CONDITION_SUCCEEDED');
    // Served as it is: the 500 reaches the caller, for the smoke suite to catch.
    const res = await fetch(svc.uri as string, { headers: INVOKER, signal: AbortSignal.timeout(5000) });
    expect(res.status).toBe(500);
    const name = (rev.name ?? '').split('/').pop() as string;
    expect(await systemLines('py-five-hundred', name)).toEqual([`INFO Default STARTUP TCP probe succeeded after 1 attempt for container "web" on port 8080.`]);
  });

  it('fails a service that never listens with Cloud Run\'s wording, within the budget the emulator config sets', async () => {
    const started = performance.now();
    const err = await codeOf(create('py-silent', container('silent', { ports: [{ containerPort: 9000 }] })));
    const tookMs = performance.now() - started;
    expect(err.code).toBe(9);
    expect(err.message).toMatch(/^Revision 'py-silent-00001-[a-z0-9]{3}' is not ready and cannot serve traffic\. The user-provided container failed to start and listen on the port defined provided by the PORT=9000 environment variable/);
    expect(err.message).toContain('\nLogs URL: https://console.cloud.google.com/logs/viewer?project=demo&resource=cloud_run_revision/service_name/py-silent/');
    // The budget was cut to 1.5 s (not Cloud Run's 240 s); the operation delay and process start add little.
    expect(tookMs).toBeGreaterThanOrEqual(BUDGET_MS);
    expect(tookMs).toBeLessThan(BUDGET_MS + 15_000);
    const rev = await firstRevision('py-silent');
    expect(rev.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ state: 'CONDITION_FAILED', revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR' });
    const name = (rev.name ?? '').split('/').pop() as string;
    const logs = await revisionLogs(emu, 'demo', 'py-silent', name);
    expect(logs.map((l) => l.text)).toContain('warming a cache that never finishes');
    expect(await systemLines('py-silent', name)).toEqual([
      'ERROR Default STARTUP TCP probe failed 1 time consecutively for container "web" on port 9000. The instance was not started.',
    ]);
  });

  it('does not count a connection the port closes at once (an engine port forwarder with nothing behind it) as started', async () => {
    const err = await codeOf(create('py-hangup', container('hangup')));
    expect(err.code).toBe(9);
    expect(err.message).toContain('failed to start and listen on the port defined provided by the PORT=8080');
  });

  it('probes HTTP only when the template configures startupProbe.httpGet: a 500 on its path fails the revision', async () => {
    const probe = { httpGet: { path: '/ready' }, periodSeconds: 1, failureThreshold: 3 };
    const err = await codeOf(create('py-http-probe', container('500', { startupProbe: probe })));
    expect(err.code).toBe(9);
    expect(err.message).toMatch(/is not ready and cannot serve traffic\. The user-provided container failed the configured startup probe checks\./);
    const rev = await firstRevision('py-http-probe');
    const name = (rev.name ?? '').split('/').pop() as string;
    expect(await systemLines('py-http-probe', name)).toEqual([
      'ERROR STARTUP HTTP probe failed 3 times consecutively for container "web" on port 8080 path "/ready". The instance was not started.\nThe probe got HTTP status 500; only 200 to 399 pass.',
    ]);
  });

  it('counts any status from 200 to 399 on the configured path as started (a 302 here)', async () => {
    const svc = await create('py-http-302', container('ready302', { startupProbe: { httpGet: { path: '/ready' } } }));
    expect(svc.terminalCondition?.state).toBe('CONDITION_SUCCEEDED');
    const rev = await firstRevision('py-http-302');
    const name = (rev.name ?? '').split('/').pop() as string;
    expect(await systemLines('py-http-302', name)).toEqual([`INFO STARTUP HTTP probe succeeded after 1 attempt for container "web" on port 8080 path "/ready".`]);
  });

  it('refuses startup probes outside the bounds the v2 protos document', async () => {
    const cases: Array<[protos.google.cloud.run.v2.IProbe, RegExp]> = [
      [{ periodSeconds: 241, tcpSocket: {} }, /period_seconds 241: the maximum for a startup probe is 240/],
      [{ initialDelaySeconds: 300, tcpSocket: {} }, /initial_delay_seconds 300/],
      [{ timeoutSeconds: 20, periodSeconds: 10, httpGet: {} }, /timeout_seconds 20 must not be greater than period_seconds 10/],
    ];
    for (const [probe, message] of cases) {
      const err = await codeOf(create('py-bad-probe', container('500', { startupProbe: probe })));
      expect(err.code).toBe(3);
      expect(err.message).toMatch(message);
    }
  });
});
