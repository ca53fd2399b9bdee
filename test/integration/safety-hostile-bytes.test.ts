/**
 * Bytes from the service under test never act on a terminal or a CI runner: a server puts control
 * characters (ESC sequences, OSC titles, NUL, C1 CSI, CR) and workflow-command text (`::error::`)
 * in every field it controls (WebSocket close reasons, HTTP bodies, header values, its own log
 * lines). Through the real CLI in GitHub Actions mode, no raw control byte and no line starting a
 * workflow command other than deploy-loop's own annotations reaches stdout or stderr.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';

const EVIL = 'internal\n::error::injected\u001b[2J\u001b]0;pwned\u0007\u0000\r::warning::cr';

const SERVER = `
import http from 'node:http';
import { WebSocketServer } from 'ws';
const EVIL = ${JSON.stringify(EVIL)};
// Its own log lines: the revision output deploy-loop logs and records.
console.log(EVIL);
console.log('::error::from-the-log\\u001b[31mred');
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  res.statusCode = 500;
  // Node refuses CR/LF/ESC in header values; latin-1 C1 CSI (0x9b) gets through.
  res.setHeader('x-evil', '\\u009b2J::error::hdr');
  res.end(EVIL);
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws) => { ws.send(EVIL); ws.close(4000, 'internal\\n::error::injected\\u001b[2J'); });
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { wss.clients.forEach((c) => c.terminate()); server.close(() => process.exit(0)); });
`;

const CHECKS = `smoke:
  checks:
    - name: body
      kind: http
      priority: P0
      path: /x
      expect: { status: 200, headers: { x-evil: nope } }
    - name: socket
      kind: websocket
      priority: P0
      path: /ws
      expectClose: { code: 1000 }
`;

function config(): string {
  return `apiVersion: deploy-loop/v1
service: hostile
build:
  kind: command
  context: app
target:
  kind: local
  command: [${JSON.stringify(process.execPath)}, server.mjs]
  readiness: { path: /healthz, timeoutMs: 5000 }
${CHECKS}loop:
  maxCycles: 1
`;
}

/** Raw control bytes (tab and line breaks aside) and lines that would start a workflow command. */
function hostile(text: string, ownAnnotations: boolean): string[] {
  const found: string[] = [];
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/.exec(text.replace(/\r\n/g, '\n'));
  if (control) found.push(`control byte U+${control[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${control.index}`);
  if (/\r(?!\n)/.test(text)) found.push('a bare CR');
  for (const line of text.split('\n')) {
    if (!/^\s*(::|##\[)/.test(line)) continue;
    // deploy-loop's own annotations: `::error file=…,title=…::message`, the message percent-encoded.
    if (ownAnnotations && /^::error (file=[^,]*,)?(line=\d+,)?title=[^:]*::[^\r\n]*$/.test(line)) continue;
    found.push(`workflow command line: ${JSON.stringify(line.slice(0, 80))}`);
  }
  return found;
}

const dirs: string[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  await Promise.all(dirs.splice(0).map(removeDir));
});

describe('hostile bytes from the service', () => {
  it.each([
    ['json', 'info'],
    ['pretty', 'debug'],
  ])('cycle in GitHub Actions mode (%s logs, %s): stdout and stderr carry none raw', async (format, level) => {
    const dir = await scratchDir('safety-hostile');
    dirs.push(dir);
    await writeFiles(dir, { 'app/server.mjs': SERVER, 'loop.config.yaml': config() });
    const r = await runCli(['cycle', '--log-format', format, '--log-level', level], { cwd: dir, env: { GITHUB_ACTIONS: 'true' } });
    expect(r.code).toBe(1);
    // The hostile text did arrive (visibly escaped), so its absence in raw form means something.
    expect(r.stdout).toMatch(/^::error .*injected/m);
    if (level === 'debug') expect(r.stderr).toContain('from-the-log');
    expect(hostile(r.stdout, true)).toEqual([]);
    expect(hostile(r.stderr, false)).toEqual([]);
  }, 90_000);

  // Needs the lead's wiring: src/commands.ts smokeOnly (moving to src/cli/) must print each result
  // line through safeText() from src/terminal-safe.ts:
  //   process.stdout.write(`${safeText(`${r.status.padEnd(5)} … ${detail}`)}\n`)
  // (and the gate line likewise). Until then the close reason's `\n::error::` starts a line.
  it('smoke --url: the result lines carry none raw', async () => {
    const dir = await scratchDir('safety-hostile-smoke');
    dirs.push(dir);
    const server = createServer((req, res) => {
      res.statusCode = 500;
      res.end(EVIL);
    });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.close(4000, 'internal\n::error::injected\u001b[2J'));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await writeFiles(dir, { 'app/.keep': '', 'loop.config.yaml': config() });
    const r = await runCli(['smoke', '--url', `http://127.0.0.1:${port}`], { cwd: dir });
    wss.close();
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('injected');
    expect(hostile(r.stdout, false)).toEqual([]);
    expect(hostile(r.stderr, false)).toEqual([]);
  }, 60_000);
});
