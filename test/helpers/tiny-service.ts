/**
 * A tiny HTTP + WebSocket service whose behaviour is set by `mode.txt` in its folder, and a config
 * that deploys it on the local target. Modes: ok, ws1011 (agent socket closes 1011), crash (exits 3
 * at start), slow (the /slow route takes 5 s).
 */
import { join } from 'node:path';
import { writeFiles } from './cli.js';
import { configYaml, type LocalTargetInput, type TinyConfig } from './config-fixture.js';

export type Mode = 'ok' | 'ws1011' | 'crash' | 'slow';

export const SERVER = `
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';
const mode = readFileSync(new URL('./mode.txt', import.meta.url), 'utf8').trim();
if (mode === 'crash') { console.error('boom: config file unreadable'); process.exit(3); }
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/healthz') return res.end(JSON.stringify({ ok: true, mode, revision: process.env.K_REVISION }));
  if (req.url === '/slow') return setTimeout(() => res.end('{}'), 5000);
  res.statusCode = 404; res.end('{"error":"not found"}');
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', (m) => {
  if (mode === 'ws1011') { console.error('pipeline failed: cannot serialize'); ws.close(1011, 'pipeline error'); }
  else ws.send(m.toString());
}));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { wss.clients.forEach((c) => c.terminate()); server.close(() => process.exit(0)); });
`;

export const FIX = `
import { writeFileSync } from 'node:fs';
writeFileSync(new URL('./app/mode.txt', import.meta.url), 'ok');
console.log('fixed mode after cycle', process.env.DEPLOY_LOOP_CYCLE, 'report', process.env.DEPLOY_LOOP_REPORT_JSON);
`;

export type TinyOptions = { maxCycles?: number; fix?: boolean; buildCommand?: string[]; slowCheck?: boolean };

/** The local target that runs the tiny service; `command`/`readinessTimeoutMs` swap its start for tests that need another. */
export function tinyTarget(over: { command?: string[]; readinessTimeoutMs?: number } = {}): LocalTargetInput {
  return {
    kind: 'local',
    command: over.command ?? [process.execPath, 'server.mjs'],
    readiness: { path: '/healthz', timeoutMs: over.readinessTimeoutMs ?? 5000 },
  };
}

/**
 * The tiny service's config as typed data: tests change fields with object spreads the compiler
 * checks, never by patching YAML text.
 */
export function tinyConfigInput(opts: TinyOptions = {}): TinyConfig {
  return {
    apiVersion: 'deploy-loop/v1',
    service: 'tiny',
    build: { kind: 'command', context: 'app', ...(opts.buildCommand ? { command: opts.buildCommand } : {}) },
    target: tinyTarget(),
    smoke: {
      defaults: { timeoutMs: 3000 },
      checks: [
        { name: 'health', kind: 'http', priority: 'P0', path: '/healthz', expect: { json: { ok: true } } },
        {
          name: 'agent',
          kind: 'websocket',
          priority: 'P0',
          path: '/ws',
          script: [{ send: { type: 'user', text: 'hi' } }, { expect: { json: { type: 'user' } } }],
        },
        ...(opts.slowCheck ? [{ name: 'slow', kind: 'http' as const, priority: 'P1' as const, path: '/slow', timeoutMs: 20000 }] : []),
      ],
    },
    loop: { maxCycles: opts.maxCycles ?? 3, ...(opts.fix ? { fix: { command: [process.execPath, 'fix.mjs'] } } : {}) },
  };
}

/** The tiny service's config as YAML text, for the files and APIs that take text. */
export function tinyConfig(opts: TinyOptions = {}): string {
  return configYaml(tinyConfigInput(opts));
}

export async function writeTinyProject(dir: string, mode: Mode, config: string): Promise<void> {
  await writeFiles(dir, {
    'app/server.mjs': SERVER,
    'app/mode.txt': mode,
    'fix.mjs': FIX,
    'loop.config.yaml': config,
  });
}

export function appDir(dir: string): string {
  return join(dir, 'app');
}
