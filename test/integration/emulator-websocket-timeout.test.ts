/**
 * The request timeout cuts WebSocket connections, as on Cloud Run ("WebSockets streams are HTTP
 * requests still subject to the request timeout configured for your Cloud Run service"; clients are
 * disconnected when it passes): a real `ws` client through the emulated service and tag URLs,
 * revisions deployed with the real @google-cloud/run client and short timeouts.
 */
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { protos } from '@google-cloud/run';
import { INVOKER, NO_RETRY, plain, useEmulator } from './emulator-fixtures.js';

type IService = protos.google.cloud.run.v2.IService;

const PARENT = 'projects/demo/locations/us-central1';
const IMAGE = 'example.test/app:latest';
const REV = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION' as const;

const fx = useEmulator('emulator-ws-timeout');

function template(revision: string, timeoutSeconds?: number): protos.google.cloud.run.v2.IRevisionTemplate {
  return { revision, containers: [{ image: IMAGE, env: [{ name: 'APP_VERSION', value: revision }] }], ...(timeoutSeconds ? { timeout: { seconds: timeoutSeconds } } : {}) };
}

async function deploy(service: IService, create = false): Promise<IService> {
  const [op] = create
    ? await fx.api.services.createService({ parent: PARENT, serviceId: (service.name ?? '').split('/').pop() as string, service: { ...service, name: '' } }, NO_RETRY)
    : await fx.api.services.updateService({ service }, NO_RETRY);
  const [result] = await op.promise();
  return plain(result);
}

interface Session {
  revision: string;
  /** Milliseconds from opening to the close event. */
  closedAfterMs: Promise<{ ms: number; code: number }>;
  echo(text: string): Promise<string>;
  ws: WebSocket;
}

/** Opens a WebSocket, waits for it to be open, and records when and how it closes. */
function open(url: string): Promise<Session> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const ws = new WebSocket(url.replace(/^http/, 'ws'), { headers: INVOKER });
    let revision = '';
    ws.once('upgrade', (res) => (revision = String(res.headers['x-deploy-loop-revision'] ?? '')));
    const closedAfterMs = new Promise<{ ms: number; code: number }>((res) => ws.once('close', (code) => res({ ms: performance.now() - started, code })));
    ws.once('error', () => undefined);
    ws.once('open', () =>
      resolve({
        revision,
        closedAfterMs,
        ws,
        echo: (text) =>
          new Promise((res, rej) => {
            ws.once('message', (m) => res(String(m)));
            ws.send(text, (err) => err && rej(err));
          }),
      }),
    );
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
  });
}

describe('request timeout and WebSockets', () => {
  it('cuts a WebSocket through the service URL when the template timeout has passed; the client sees 1006 (no close frame)', async () => {
    const svc = await deploy({ name: `${PARENT}/services/ws-short`, template: template('ws-short-a', 2) }, true);
    const s = await open(svc.uri as string);
    expect(s.revision).toBe('ws-short-a');
    expect(await s.echo('hello')).toBe('ws-short-a:hello');
    const closed = await s.closedAfterMs;
    expect(closed.code).toBe(1006);
    expect(closed.ms).toBeGreaterThanOrEqual(2000);
    expect(closed.ms).toBeLessThan(5000);
    // A new connection works again, for its own 2 s: clients are expected to reconnect.
    const again = await open(svc.uri as string);
    expect(await again.echo('back')).toBe('ws-short-a:back');
    again.ws.terminate();
  });

  it('applies each revision\'s own timeout: through a split, and at a tag URL', async () => {
    const first = await deploy({ name: `${PARENT}/services/ws-split`, template: template('ws-split-a', 2) }, true);
    const svc = await deploy({
      ...first,
      template: template('ws-split-b', 6),
      traffic: [
        { type: REV, revision: 'ws-split-a', percent: 50 },
        { type: REV, revision: 'ws-split-b', percent: 50, tag: 'long' },
      ],
    });
    const sessions: Session[] = [];
    for (let i = 0; i < 20 && new Set(sessions.map((s) => s.revision)).size < 2; i++) sessions.push(await open(svc.uri as string));
    const tagUrl = svc.trafficStatuses?.find((t) => t.tag === 'long')?.uri as string;
    sessions.push(await open(tagUrl));
    expect(new Set(sessions.map((s) => s.revision))).toEqual(new Set(['ws-split-a', 'ws-split-b']));
    for (const s of sessions) {
      const closed = await s.closedAfterMs;
      // 2 s and 6 s: a connection to ws-split-a cut at the longer timeout would fail the upper bound.
      const timeoutMs = s.revision === 'ws-split-a' ? 2000 : 6000;
      expect(closed.code, s.revision).toBe(1006);
      expect(closed.ms, s.revision).toBeGreaterThanOrEqual(timeoutMs);
      expect(closed.ms, s.revision).toBeLessThan(timeoutMs + 3000);
    }
  });

  it('leaves a WebSocket open past a short wait when the template sets no timeout (Cloud Run\'s default is 300 s)', async () => {
    const svc = await deploy({ name: `${PARENT}/services/ws-default`, template: template('ws-default-a') }, true);
    const s = await open(svc.uri as string);
    await new Promise((r) => setTimeout(r, 3000));
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
    expect(await s.echo('still')).toBe('ws-default-a:still');
    s.ws.terminate();
  });
});

describe('request timeout and plain HTTP requests', () => {
  it('answers 504 when the revision has not answered within its timeout, and cuts a response still streaming', async () => {
    const svc = await deploy({ name: `${PARENT}/services/http-short`, template: template('http-short-a', 1) }, true);
    const base = svc.uri as string;
    const quick = await fetch(`${base}/slow?ms=100`, { headers: INVOKER });
    expect([quick.status, await quick.text()]).toEqual([200, '{"slow":true}']);

    const started = performance.now();
    const late = await fetch(`${base}/slow?ms=4000`, { headers: INVOKER });
    const ms = performance.now() - started;
    expect(late.status).toBe(504);
    expect(await late.text()).toMatch(/reached the maximum request timeout/);
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(3500);

    // The head went out in time, the body did not end: the connection is cut, as Cloud Run closes it.
    const streaming = await fetch(`${base}/stream?ms=4000`, { headers: INVOKER });
    expect(streaming.status).toBe(200);
    await expect(streaming.text()).rejects.toThrow();
  });

  it('lets a request run past a short wait when the template sets no timeout', async () => {
    const svc = await deploy({ name: `${PARENT}/services/http-default`, template: template('http-default-a') }, true);
    const res = await fetch(`${svc.uri as string}/slow?ms=1500`, { headers: INVOKER });
    expect([res.status, await res.text()]).toEqual([200, '{"slow":true}']);
  });
});
