/**
 * The bundled demo service as a real process: its routes, the P0 fault it ships with, the fix
 * script that repairs it, and the syntax check that serves as its build step.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { runCommand, startProcess, type LongRunningProcess } from '../../src/exec.js';

const root = resolve(import.meta.dirname, '..', '..');
const example = join(root, 'examples', 'chat-service');
const tmpRoot = join(root, '.test-tmp');

const started: LongRunningProcess[] = [];
const dirs: string[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop(1000)));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh copy of the example, as the demo's working copy would be. */
function copyExample(): string {
  mkdirSync(tmpRoot, { recursive: true });
  const dir = mkdtempSync(join(tmpRoot, 'chat-service-'));
  dirs.push(dir);
  cpSync(example, dir, { recursive: true });
  return dir;
}

interface Service {
  proc: LongRunningProcess;
  http: string;
  ws: string;
}

/** Starts server.mjs on a port the kernel picks, and learns the port from its log line. */
async function startService(dir: string, env: Record<string, string> = {}): Promise<Service> {
  let onListening: (port: number) => void = () => {};
  const listening = new Promise<number>((res) => (onListening = res));
  const proc = startProcess([process.execPath, 'server.mjs'], {
    cwd: dir,
    env: { PORT: '0', HOST: '127.0.0.1', K_REVISION: 'chat-service-00001', ...env },
    onLine: (line) => {
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(line);
      if (m) onListening(Number(m[1]));
    },
  });
  started.push(proc);
  const port = await Promise.race([
    listening,
    proc.exited.then(() => {
      throw new Error(`server exited before listening:\n${proc.outputTail().join('\n')}`);
    }),
  ]);
  return { proc, http: `http://127.0.0.1:${port}`, ws: `ws://127.0.0.1:${port}` };
}

interface Conversation {
  messages: Record<string, unknown>[];
  closeCode: number;
  closeReason: string;
}

/**
 * Sends each frame once the socket is open and collects what comes back until the server closes,
 * or until `until` matches a message (then the client closes with 1000).
 */
function converse(
  url: string,
  send: unknown[],
  opts: { until?: (m: Record<string, unknown>) => boolean; headers?: Record<string, string> } = {},
): Promise<Conversation> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(url, { headers: opts.headers ?? {} });
    const messages: Record<string, unknown>[] = [];
    ws.on('open', () => send.forEach((m) => ws.send(JSON.stringify(m))));
    ws.on('message', (data: WebSocket.RawData) => {
      const m = JSON.parse(data.toString()) as Record<string, unknown>;
      messages.push(m);
      if (opts.until?.(m)) ws.close(1000);
    });
    ws.on('close', (code: number, reason: Buffer) => res({ messages, closeCode: code, closeReason: reason.toString() }));
    ws.on('error', rej);
  });
}

const weatherQuestion = { type: 'user', text: 'What is the weather in Zurich?' };
const isFinal = (m: Record<string, unknown>) => m.type === 'final';

/** A cycle report shaped as deploy-loop writes it (issues first, then the record), trimmed to the point. */
function writeReport(dir: string, closeCode: number, closeReason: string): string {
  const file = join(dir, 'cycle-001.json');
  const evidence = { closeCode, closeReason, step: 3, connection: 0 };
  const message = `ws://127.0.0.1/ws/agent: server closed the connection with ${closeCode} "${closeReason}" at step 3`;
  const failure = { class: 'ws-1011-internal-error', message, evidence };
  const report = {
    cycle: 1,
    issues: [{ rank: 1, priority: 'P0', check: 'agent-pipeline', class: failure.class, message, evidence }],
    record: {
      smoke: {
        results: [
          { name: 'health', status: 'pass' },
          { name: 'agent-pipeline', status: 'fail', failure, attemptLog: [{ attempt: 1, status: 'fail', failure }] },
        ],
      },
    },
  };
  writeFileSync(file, JSON.stringify(report));
  return file;
}

describe('chat-service example', () => {
  it('serves health and info for its revision, and 404 JSON for unknown paths', async () => {
    const svc = await startService(copyExample());
    const health = await fetch(`${svc.http}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true, revision: 'chat-service-00001' });
    const info = await fetch(`${svc.http}/api/info`);
    expect(await info.json()).toMatchObject({ service: 'chat-service', revision: 'chat-service-00001', version: expect.any(String) });
    const missing = await fetch(`${svc.http}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: 'not found', path: '/nope' });
  });

  it('answers ping with pong on /ws/echo', async () => {
    const svc = await startService(copyExample());
    const c = await converse(`${svc.ws}/ws/echo`, [{ type: 'ping', n: 7 }], { until: () => true });
    expect(c.messages).toEqual([{ type: 'pong', n: 7 }]);
  });

  it('ships with the fault: ack and tool_call arrive, then the pipeline closes 1011 naming BigInt', async () => {
    const svc = await startService(copyExample());
    const c = await converse(`${svc.ws}/ws/agent`, [weatherQuestion], { until: isFinal });
    expect(c.messages.map((m) => m.type)).toEqual(['ack', 'tool_call']);
    expect(c.messages[1]).toMatchObject({ tool: 'weather', args: { city: 'Zurich' } });
    expect(c.closeCode).toBe(1011);
    expect(c.closeReason).toMatch(/^pipeline error: .*BigInt/);
    // The stack in the revision's log is what a report shows as the log tail.
    expect(svc.proc.outputTail().join('\n')).toMatch(/pipeline error on \/ws\/agent: TypeError: .*BigInt/);
  });

  it('closes /ws/admin with 1008 without the token, and serves stats with it', async () => {
    const svc = await startService(copyExample(), { ADMIN_TOKEN: 's3cret' });
    const anonymous = await converse(`${svc.ws}/ws/admin`, []);
    expect(anonymous.closeCode).toBe(1008);
    expect(anonymous.closeReason).toBe('policy violation: missing admin token');
    const wrong = await converse(`${svc.ws}/ws/admin`, [], { headers: { authorization: 'Bearer nope' } });
    expect(wrong.closeCode).toBe(1008);
    const admin = await converse(`${svc.ws}/ws/admin`, [], { headers: { authorization: 'Bearer s3cret' }, until: () => true });
    expect(admin.closeCode).toBe(1000);
    expect(admin.messages[0]).toMatchObject({ type: 'stats', revision: 'chat-service-00001' });
  });

  it('fix.mjs repairs the copy from the report, and the restarted service completes the pipeline', async () => {
    const dir = copyExample();
    const before = await startService(dir);
    const faulty = await converse(`${before.ws}/ws/agent`, [weatherQuestion], { until: isFinal });
    expect(faulty.closeCode).toBe(1011);
    await before.proc.stop();

    const report = writeReport(dir, faulty.closeCode, faulty.closeReason);
    const fixEnv = { DEPLOY_LOOP_DEMO_DIR: dir, DEPLOY_LOOP_REPORT_JSON: report, DEPLOY_LOOP_CYCLE: '1' };
    const fix = await runCommand([process.execPath, join(example, 'fix.mjs')], { cwd: root, env: fixEnv });
    expect(fix.exitCode).toBe(0);
    // One line per failing check, with the close code and reason as evidence.
    expect(fix.outputTail.filter((l) => l.includes('cycle 1 report:'))).toEqual([
      'fix: cycle 1 report: agent-pipeline: closed with 1011 "pipeline error: Do not know how to serialize a BigInt"',
    ]);
    expect(readFileSync(join(dir, 'pipeline.mjs'), 'utf8')).not.toMatch(/BigInt\(/);

    const after = await startService(dir);
    const fixed = await converse(`${after.ws}/ws/agent`, [weatherQuestion], { until: isFinal });
    expect(fixed.messages.map((m) => m.type)).toEqual(['ack', 'tool_call', 'final']);
    expect(fixed.messages[2]).toMatchObject({ text: expect.stringContaining('Zurich'), usage: { totalTokens: expect.any(Number) } });
    const hello = await converse(`${after.ws}/ws/agent`, [{ type: 'user', text: 'hello' }], { until: isFinal });
    expect(hello.messages.map((m) => m.type)).toEqual(['final']);

    // Idempotent: a second run finds nothing left to change.
    const patched = readFileSync(join(dir, 'pipeline.mjs'), 'utf8');
    const again = await runCommand([process.execPath, join(example, 'fix.mjs')], { cwd: root, env: fixEnv });
    expect(again.exitCode).toBe(0);
    expect(again.outputTail.join('\n')).toMatch(/nothing to change/);
    expect(readFileSync(join(dir, 'pipeline.mjs'), 'utf8')).toBe(patched);
  });

  it('fix.mjs leaves the code alone when the report shows another failure, and fails when the copy is missing', async () => {
    const dir = copyExample();
    const report = writeReport(dir, 1006, 'connection lost');
    const original = readFileSync(join(dir, 'pipeline.mjs'), 'utf8');
    const env = { DEPLOY_LOOP_DEMO_DIR: dir, DEPLOY_LOOP_REPORT_JSON: report };
    const unrelated = await runCommand([process.execPath, join(example, 'fix.mjs')], { cwd: root, env });
    expect(unrelated.exitCode).toBe(0);
    expect(readFileSync(join(dir, 'pipeline.mjs'), 'utf8')).toBe(original);

    const missing = await runCommand([process.execPath, join(example, 'fix.mjs')], {
      cwd: root,
      env: { DEPLOY_LOOP_DEMO_DIR: join(dir, 'does-not-exist') },
    });
    expect(missing.exitCode).toBe(1);
    expect(missing.outputTail.join('\n')).toMatch(/pipeline\.mjs is missing/);
  });

  it('on SIGTERM closes open WebSockets with 1001 and exits 0', async () => {
    const svc = await startService(copyExample());
    const ws = new WebSocket(`${svc.ws}/ws/echo`);
    await new Promise((res, rej) => ws.once('open', res).once('error', rej));
    const closed = new Promise<number>((res) => ws.once('close', (code: number) => res(code)));
    await svc.proc.stop(5000);
    expect(await closed).toBe(1001);
    expect(await svc.proc.exited).toEqual({ exitCode: 0, signal: null });
  });

  it('scripts/check.mjs passes on the service and fails naming a module that does not parse', async () => {
    const dir = copyExample();
    const ok = await runCommand([process.execPath, 'scripts/check.mjs'], { cwd: dir });
    expect(ok.exitCode).toBe(0);
    writeFileSync(join(dir, 'broken.mjs'), 'export const x = {;\n');
    const bad = await runCommand([process.execPath, 'scripts/check.mjs'], { cwd: dir });
    expect(bad.exitCode).toBe(1);
    expect(bad.outputTail.join('\n')).toMatch(/broken\.mjs does not parse/);
    expect(bad.outputTail.join('\n')).not.toMatch(/server\.mjs does not parse/);
  });

  it('scripts/reset-demo.mjs makes a fresh working copy and clears reports/ only when deploy-loop wrote all of it', async () => {
    // A stand-in project root, so the real working copy and reports stay untouched.
    mkdirSync(tmpRoot, { recursive: true });
    const project = mkdtempSync(join(tmpRoot, 'reset-demo-'));
    dirs.push(project);
    cpSync(join(root, 'scripts', 'reset-demo.mjs'), join(project, 'scripts', 'reset-demo.mjs'));
    cpSync(example, join(project, 'examples', 'chat-service'), { recursive: true });
    const copy = join(project, '.deploy-loop', 'demo', 'chat-service');
    mkdirSync(copy, { recursive: true });
    writeFileSync(join(copy, 'pipeline.mjs'), '// patched by an earlier run\n');
    const reports = join(project, 'reports');
    mkdirSync(join(reports, 'history'), { recursive: true });
    for (const f of ['cycle-001.md', 'cycle-001.json', 'cycle-001.junit.xml', 'latest.md', 'latest.json', 'issues-001.json']) {
      writeFileSync(join(reports, f), '');
    }
    writeFileSync(join(reports, 'notes.txt'), 'mine');

    const reset = () => runCommand([process.execPath, join(project, 'scripts', 'reset-demo.mjs')], { cwd: project });
    const kept = await reset();
    expect(kept.exitCode).toBe(0);
    expect(readFileSync(join(copy, 'pipeline.mjs'), 'utf8')).toBe(readFileSync(join(example, 'pipeline.mjs'), 'utf8'));
    expect(existsSync(join(reports, 'cycle-001.md'))).toBe(true);
    expect(kept.outputTail.join('\n')).toMatch(/kept reports\/ .*notes\.txt/);

    rmSync(join(reports, 'notes.txt'));
    const cleared = await reset();
    expect(cleared.exitCode).toBe(0);
    expect(existsSync(reports)).toBe(false);
    expect(cleared.outputTail).toHaveLength(1);
  });
});
