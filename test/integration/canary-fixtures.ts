/**
 * A service for canary tests: mode `ok` always answers; mode `flag` answers until the file named by
 * FAIL_FLAG exists, then closes every WebSocket with 1011. A test creates the file when a canary step
 * starts, so the candidate fails from exactly that step on, whatever share of requests it gets.
 */
import { join } from 'node:path';
import { writeFiles } from '../helpers/cli.js';
import { configYaml, type ConfigInput, type TinyConfig } from '../helpers/config-fixture.js';

export const CANARY_SERVER = `
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { WebSocketServer } from 'ws';
const mode = readFileSync(new URL('./mode.txt', import.meta.url), 'utf8').trim();
const failing = () => mode === 'flag' && existsSync(process.env.FAIL_FLAG);
const server = http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/healthz') return res.end(JSON.stringify({ ok: true, mode, revision: process.env.K_REVISION }));
  res.statusCode = 404; res.end('{"error":"not found"}');
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => ws.on('message', (m) => {
  if (failing()) ws.close(1011, 'canary fault');
  else ws.send(m.toString());
}));
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { wss.clients.forEach((c) => c.terminate()); server.close(() => process.exit(0)); });
`;

export type CanaryOptions = { holdMs?: number; steps?: number[] };
/** A canary config with its `traffic` spelled out, so a test can spread it. */
export type CanaryConfig = TinyConfig & { traffic: NonNullable<ConfigInput['traffic']> };

/** The canary service's config as typed data: tests change fields with object spreads, never by patching YAML. */
export function canaryConfigInput(dir: string, opts: CanaryOptions = {}): CanaryConfig {
  return {
    apiVersion: 'deploy-loop/v1',
    service: 'canary',
    build: { kind: 'command', context: 'app' },
    target: {
      kind: 'local',
      command: [process.execPath, 'server.mjs'],
      readiness: { path: '/healthz', timeoutMs: 5000 },
      env: { FAIL_FLAG: failFlag(dir) },
    },
    traffic: { strategy: 'canary', steps: opts.steps ?? [10, 50, 100], holdMs: opts.holdMs ?? 0, smoke: ['burst'] },
    smoke: {
      defaults: { timeoutMs: 3000 },
      checks: [
        { name: 'health', kind: 'http', priority: 'P0', path: '/healthz', expect: { json: { ok: true } } },
        {
          name: 'burst',
          kind: 'websocket',
          priority: 'P0',
          path: '/ws',
          // 16 connections: at a 50% step the chance that none reaches the candidate is 2^-16.
          connections: 16,
          script: [{ send: { type: 'user', text: 'hi' } }, { expect: { json: { type: 'user' } } }],
        },
      ],
    },
    loop: { maxCycles: 1 },
  };
}

/** The canary config as YAML text. */
export function canaryConfig(dir: string, opts: CanaryOptions = {}): string {
  return configYaml(canaryConfigInput(dir, opts));
}

export function failFlag(dir: string): string {
  return join(dir, 'fail-now');
}

export async function writeCanaryProject(dir: string, mode: 'ok' | 'flag', opts: CanaryOptions = {}): Promise<void> {
  await writeFiles(dir, { 'app/server.mjs': CANARY_SERVER, 'app/mode.txt': mode, 'loop.config.yaml': canaryConfig(dir, opts) });
}
