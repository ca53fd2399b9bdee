/**
 * Evidence that belongs to its check, end to end: a real revision process (node, then python) that
 * misbehaves differently on each endpoint and logs each line with a timestamp and its endpoint,
 * smoked by the real runner; each failing check's evidence must hold only its own lines.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSchema, type CheckConfig } from '../../src/config/schema.js';
import { mapBuildFrames } from '../../src/evidence/frames.js';
import { attachCheckLogs } from '../../src/evidence/log-window.js';
import type { CheckResult } from '../../src/model/check-result.js';
import { evaluateThreshold } from '../../src/model/thresholds.js';
import { groupIssues } from '../../src/report/groups.js';
import { relativizeText } from '../../src/report/paths.js';
import { startRevision, type RunningRevision } from '../../src/runtime/revision-process.js';
import { runSuite, type SuiteOptions } from '../../src/smoke/index.js';

const wsModule = pathToFileURL(createRequire(import.meta.url).resolve('ws')).href.replace(/index\.js$/, 'wrapper.mjs');

/** Every line starts with an ISO time and the endpoint it is about, so a test can tell whose it is. */
const NODE_SERVER = `
import http from 'node:http';
import { WebSocketServer } from ${JSON.stringify(wsModule)};
const log = (tag, text) => console.log(new Date().toISOString() + ' [' + tag + '] ' + text);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const server = http.createServer(async (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  if (path === '/health') { res.end('ok'); return; }
  log(path, 'request ' + req.method);
  await sleep(60);
  if (path === '/boom') {
    const err = new Error('db exploded');
    // One write, as node prints an uncaught error: the message, then its frames.
    console.error(new Date().toISOString() + ' [/boom] ' + err.stack);
    res.statusCode = 500; res.end('{"error":"internal"}'); return;
  }
  if (path === '/teapot') { log(path, 'refusing to brew coffee'); res.statusCode = 418; res.end('short and stout'); return; }
  if (path === '/slow') { log(path, 'waiting on the upstream'); await sleep(400); log(path, 'upstream answered'); res.end('{"ok":true}'); return; }
  res.statusCode = 404; res.end();
});
const wss = new WebSocketServer({ noServer: true });
let multi = 0;
server.on('upgrade', (req, socket, head) => {
  const path = new URL(req.url, 'http://x').pathname;
  // The 7th connection of /multi waits 250 ms for its upgrade: one slow connection among fast ones.
  const delay = path === '/multi' && ++multi === 7 ? 250 : 0;
  setTimeout(() => wss.handleUpgrade(req, socket, head, (ws) => {
    log('ws ' + path, 'open');
    ws.on('message', (data) => { log('ws ' + path, 'message ' + data); ws.send(path === '/chat' ? '{"type":"nope"}' : String(data)); });
    // What a server on another stack logs for a client that cut TCP without a close frame.
    ws.on('close', (code) => code === 1006
      ? console.error(new Date().toISOString() + ' [ws ' + path + '] Traceback: ConnectionClosedError: no close frame received or sent (1006)')
      : log('ws ' + path, 'close ' + code));
  }), delay);
});
server.listen(Number(process.env.PORT), '127.0.0.1');
`;

const PYTHON_SERVER = `
import datetime, os, sys, time, traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

def log(tag, text):
    print(datetime.datetime.now().isoformat() + ' [' + tag + '] ' + text, file=sys.stderr, flush=True)

def divide(a, b):
    return a / b

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def do_GET(self):
        if self.path == '/health':
            self.send_response(200); self.end_headers(); self.wfile.write(b'ok'); return
        log(self.path, 'request GET')
        time.sleep(0.06)
        if self.path == '/crash':
            try:
                divide(1, 0)
            except Exception:
                sys.stderr.write(datetime.datetime.now().isoformat() + ' [/crash] handler failed\\n' + traceback.format_exc())
                sys.stderr.flush()
            self.send_response(500); self.end_headers(); self.wfile.write(b'{"error":"internal"}'); return
        if self.path == '/gone':
            log('/gone', 'no such thing')
            self.send_response(410); self.end_headers(); return
        self.send_response(404); self.end_headers()

ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), Handler).serve_forever()
`;

const readiness = { path: '/health', timeoutMs: 15_000, intervalMs: 50 };
const opts: SuiteOptions = { concurrency: 1, defaults: { timeoutMs: 5000, retries: 0, retryDelayMs: 10 } };

function checks(raw: unknown[]): CheckConfig[] {
  return raw.map((c) => checkSchema.parse(c));
}

/** The endpoint tags a line names (`[/boom]`, `[ws /chat]`). */
function tagsOf(lines: readonly string[]): Set<string> {
  return new Set(lines.flatMap((l) => [...l.matchAll(/\[((?:ws )?\/[a-z]+)\]/g)].map((m) => m[1]!)));
}

function failing(results: CheckResult[], name: string): CheckResult {
  const r = results.find((x) => x.name === name);
  expect(r?.failure, `${name} should have failed`).toBeDefined();
  return r!;
}

describe('each failing check carries the log lines of its own attempts (node revision)', () => {
  let dir: string;
  let rev: RunningRevision;
  let results: CheckResult[];
  let output: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evidence-node-'));
    await writeFile(join(dir, 'server.mjs'), NODE_SERVER);
    const started = await startRevision({ name: 'ev-node', command: [process.execPath, 'server.mjs'], cwd: dir, env: {}, readiness });
    if (!started.ok) throw new Error(`revision did not start: ${started.message}\n${started.logTail.join('\n')}`);
    rev = started.revision;
    const suite = checks([
      { name: 'health', kind: 'http', path: '/health' },
      { name: 'boom', kind: 'http', path: '/boom' },
      { name: 'teapot', kind: 'http', path: '/teapot' },
      { name: 'slow', kind: 'http', path: '/slow', expect: { maxLatencyMs: 150 } },
      { name: 'chat', kind: 'websocket', path: '/chat', script: [{ send: 'hello' }, { expect: { json: { type: 'welcome' } } }] },
      { name: 'multi', kind: 'websocket', path: '/multi', connections: 7, script: [{ send: 'ping' }, { expect: { text: 'ping' } }] },
    ]);
    const raw = await runSuite(suite, rev.url, opts);
    // The server logs a close after it answered: give the last lines a moment to arrive.
    await new Promise((r) => setTimeout(r, 300));
    output = rev.timedOutput!().map((l) => l.text);
    results = attachCheckLogs(raw, rev.timedOutput!());
  }, 60_000);

  afterAll(async () => {
    await rev?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('gives every failing check only lines about its own endpoint, scoped to the check', () => {
    const own: Record<string, string> = { boom: '/boom', teapot: '/teapot', slow: '/slow', chat: 'ws /chat' };
    for (const [name, tag] of Object.entries(own)) {
      const e = failing(results, name).failure!.evidence;
      expect(e.logScope, name).toBe('check');
      expect(e.logTail?.length, `${name} has log lines`).toBeGreaterThan(0);
      expect([...tagsOf(e.logTail ?? [])], name).toEqual([tag]);
    }
    expect(results.find((r) => r.name === 'health')?.failure).toBeUndefined();
  });

  it('keeps the error whole, from its first line: message, then every frame', () => {
    const tail = failing(results, 'boom').failure!.evidence.logTail!;
    const first = tail.findIndex((l) => l.includes('Error: db exploded'));
    expect(first).toBeGreaterThanOrEqual(0);
    const frames = tail.slice(first + 1).filter((l) => /^\s+at /.test(l));
    expect(frames.length).toBeGreaterThan(0);
    // Every frame node printed for the error is there, in order, right after the message.
    const printed = output.slice(output.findIndex((l) => l.includes('Error: db exploded')) + 1);
    expect(tail.slice(first + 1, first + 1 + frames.length)).toEqual(printed.slice(0, frames.length));
  });

  it('classes a slow answer as latency, with the figure against the limit as its headline', () => {
    const slow = failing(results, 'slow');
    expect(slow.failure!.class).toBe('latency');
    expect(slow.failure!.message).toMatch(/latency \d+ ms over 150 ms/);
    const [group] = groupIssues([
      { rank: 1, priority: 'P1', check: 'slow', class: slow.failure!.class, message: slow.failure!.message, evidence: slow.failure!.evidence, failingSince: 1, failingCycles: 1 },
    ]);
    expect(group!.cause).toMatch(/^latency \d{3,} ms over 150 ms$/);
  });

  it('closes a failed WebSocket script with 1008: the server logs that close, and no abnormal one', () => {
    const chat = failing(results, 'chat');
    expect(chat.failure!.class).toBe('assertion');
    expect(chat.failure!.evidence.logTail).toEqual(expect.arrayContaining([expect.stringMatching(/\[ws \/chat\] close 1008$/)]));
    expect(output.filter((l) => l.includes('1006'))).toEqual([]);
  });

  it('fails max(connectMs) on the slowest of 7 connections, with 7 samples', () => {
    const multi = results.find((r) => r.name === 'multi')!;
    expect(multi.status).toBe('pass');
    expect(multi.figures.samples?.connectMs).toHaveLength(7);
    const t = evaluateThreshold(results, { expr: 'max(connectMs) < 200ms', checks: ['multi'] });
    expect(t.samples).toBe(7);
    expect(t.passed).toBe(false);
    expect(t.value).toBeGreaterThanOrEqual(250);
    // Each connection's message latency is a sample too.
    expect(multi.figures.samples?.latencyMs).toHaveLength(7);
  });

  it('says when lines cannot be tied to one check: two failing checks that ran at once share them', async () => {
    const suite = checks([
      { name: 'boom-again', kind: 'http', path: '/boom' },
      { name: 'teapot-again', kind: 'http', path: '/teapot' },
    ]);
    const raw = await runSuite(suite, rev.url, { ...opts, concurrency: 2 });
    const both = attachCheckLogs(raw, rev.timedOutput!());
    for (const [name, other] of [['boom-again', 'teapot-again'], ['teapot-again', 'boom-again']] as const) {
      const e = failing(both, name).failure!.evidence;
      expect(e.logScope).toBe('concurrent');
      expect(e.logSharedWith).toEqual([other]);
    }
  });
});

describe('a python revision run from a build copy', () => {
  let base: string;
  let rev: RunningRevision;
  let results: CheckResult[];
  let context: string;
  let build: string;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'evidence-py-'));
    context = join(base, 'svc');
    build = join(base, '.deploy-loop', 'builds', 'svc', 'c001-3f2a9c1b');
    await mkdir(context, { recursive: true });
    await mkdir(build, { recursive: true });
    await writeFile(join(context, 'server.py'), PYTHON_SERVER);
    await writeFile(join(build, 'server.py'), PYTHON_SERVER);
    const started = await startRevision({ name: 'ev-py', command: ['/usr/bin/python3', '-u', join(build, 'server.py')], cwd: build, env: {}, readiness });
    if (!started.ok) throw new Error(`revision did not start: ${started.message}\n${started.logTail.join('\n')}`);
    rev = started.revision;
    const raw = await runSuite(checks([
      { name: 'crash', kind: 'http', path: '/crash' },
      { name: 'gone', kind: 'http', path: '/gone' },
    ]), rev.url, opts);
    await new Promise((r) => setTimeout(r, 200));
    const mapLine = (t: string): string => relativizeText(mapBuildFrames(t, { contextDir: context, buildDir: build }), base);
    results = attachCheckLogs(raw, rev.timedOutput!(), { mapLine });
  }, 60_000);

  afterAll(async () => {
    await rev?.stop();
    await rm(base, { recursive: true, force: true });
  });

  it('keeps the whole traceback, from the log line before it to the exception, and nothing of /gone', () => {
    const tail = failing(results, 'crash').failure!.evidence.logTail!;
    expect(tail.some((l) => l.endsWith('[/crash] handler failed'))).toBe(true);
    const tb = tail.indexOf('Traceback (most recent call last):');
    expect(tb).toBeGreaterThan(0);
    expect(tail.at(-1)).toBe('ZeroDivisionError: division by zero');
    expect(tail.join('\n')).not.toContain('/gone');
    expect([...tagsOf(failing(results, 'gone').failure!.evidence.logTail!)]).toEqual(['/gone']);
  });

  it('points the frames at the source in the build context, relative to the config folder', () => {
    const frames = failing(results, 'crash').failure!.evidence.logTail!.filter((l) => l.trimStart().startsWith('File '));
    expect(frames.length).toBeGreaterThan(0);
    for (const f of frames) expect(f).toMatch(/^ {2}File "svc\/server\.py", line \d+, in \w+$/);
    expect(frames.join('\n')).not.toContain('.deploy-loop');
  });
});
