/**
 * Planted secrets never leave the process: a service that echoes every credential back (HTTP bodies,
 * WebSocket frames, its own stdout, which becomes the revision's log tail) fails its checks so that
 * evidence is recorded, and every file the real CLI writes, plus its stdout and stderr, is searched.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';

const BEARER = 'plantedBearerTok3n9f2a';
const COOKIE = 'plantedCookieVal7c1e';
const API_TOKEN = 'plantedApiTokenEnv42d';
const MARKED = 'plantedSecretEnvVal88b';
const PLANTED = [BEARER, COOKIE, API_TOKEN, MARKED];

const SERVER = `
import http from 'node:http';
import { WebSocketServer } from 'ws';
// Prints its whole environment: the log tail a failed cycle records.
console.log('env at start', JSON.stringify(process.env));
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('{"ok":true}');
  console.log('request headers', JSON.stringify(req.headers));
  // Again inside the request, so the line lands in the failing check's own log window (a startup line
  // is outside every window once the machine is slow enough).
  console.log('env at request', JSON.stringify(process.env));
  res.statusCode = 500;
  res.setHeader('content-type', 'application/json');
  res.setHeader('x-echo-auth', String(req.headers.authorization));
  res.setHeader('set-cookie', 'session=' + String(req.headers.cookie));
  res.end(JSON.stringify({ headers: req.headers, env: process.env }));
});
const wss = new WebSocketServer({ server });
wss.on('connection', (ws, req) => {
  ws.send(JSON.stringify({ headers: req.headers, env: { API_TOKEN: process.env.API_TOKEN, MARKED: process.env.MARKED_VALUE } }));
  ws.close(1011, String(req.headers.authorization).slice(0, 60));
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => { wss.clients.forEach((c) => c.terminate()); server.close(() => process.exit(0)); });
`;

const CONFIG = `apiVersion: deploy-loop/v1
service: leaky
build:
  kind: command
  context: app
target:
  kind: local
  command: [${JSON.stringify(process.execPath)}, server.mjs]
  env:
    API_TOKEN: ${API_TOKEN}
    MARKED_VALUE: ${MARKED}
  secretEnv: [MARKED_VALUE]
  readiness: { path: /healthz, timeoutMs: 5000 }
smoke:
  defaults: { timeoutMs: 3000 }
  checks:
    - name: echo
      kind: http
      priority: P0
      path: /echo
      headers:
        Authorization: Bearer ${BEARER}
        Cookie: session=${COOKIE}
      expect: { status: 200 }
    - name: socket
      kind: websocket
      priority: P0
      path: /ws
      headers:
        Authorization: Bearer ${BEARER}
        Cookie: session=${COOKIE}
      script:
        - expect: { json: { never: true } }
loop:
  maxCycles: 1
`;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    if ((await stat(p)).isDirectory()) out.push(...(await filesUnder(p)));
    else out.push(p);
  }
  return out;
}

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

describe('planted secrets', () => {
  it('appear in no report, history record, JUnit or JSON output, log line, stdout or stderr', async () => {
    const dir = await scratchDir('safety-secrets');
    dirs.push(dir);
    await writeFiles(dir, { 'app/server.mjs': SERVER, 'loop.config.yaml': CONFIG });
    const r = await runCli(['run', '--log-format', 'json', '--junit', 'out/junit.xml', '--json', 'out/run.json'], { cwd: dir });
    expect(r.code).toBe(4);
    const files = [...(await filesUnder(join(dir, 'reports'))), ...(await filesUnder(join(dir, 'out')))];
    // The failure evidence was recorded, so the absence of secrets below means something.
    const record = await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8');
    expect(record).toContain('http-5xx');
    expect(record).toContain('[redacted]');
    expect(record).toContain('env at request');
    expect(files.some((f) => f.endsWith('junit.xml'))).toBe(true);
    const outputs: [string, string][] = [['stdout', r.stdout], ['stderr', r.stderr]];
    for (const f of files) outputs.push([f, await readFile(f, 'utf8')]);
    const leaks: string[] = [];
    for (const [where, text] of outputs) for (const s of PLANTED) if (text.includes(s)) leaks.push(`${s} in ${where}`);
    expect(leaks).toEqual([]);
  }, 60_000);
});

// ---- every secret class, every exit, every log level --------------------------------------------
// A secret longer than a mismatch message's 79-character cut (a fine-grained GitHub token is 93).
const LONG = `github_pat_${'Zq7Lm2Xw9K'.repeat(8)}r4`;
const NPM = 'npmPlantedBuildTok3n5e1';
const FIX_ENV = 'fixEnvPlantedSecret7a9';
const AGENT = 'agentKeyArgvPlanted44c';
const QUERY = 'queryParamTok3nPlanted';
const DB_PW = 'dbUserinfoPw0rdPlanted';
const BEARER2 = 'echoedHeaderBearer91kq';
const CLASSES = { long: LONG, buildEnv: NPM, fixEnv: FIX_ENV, fixArgv: AGENT, query: QUERY, userinfo: DB_PW, echoedHeader: BEARER2 };

const ECHO_SERVER = `
import http from 'node:http';
// The service's own log: its DATABASE_URL (user info) and every request line (query tokens, headers).
console.log('db at', process.env.DATABASE_URL);
http.createServer((req, res) => {
  console.log('request', req.url, JSON.stringify(req.headers));
  if (req.url === '/healthz') return res.end('ok');
  res.setHeader('content-type', 'application/json');
  if (req.url.startsWith('/json')) return res.end(JSON.stringify({ token: process.env.LONG_TOKEN, seen: req.url }));
  res.statusCode = 500;
  // In the failing check's own log window, whatever the machine's load (the startup line may not be).
  console.log('db at', process.env.DATABASE_URL);
  res.end('you sent ' + req.url + ' with ' + req.headers.authorization + ' from ' + process.env.DATABASE_URL);
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;
// Prints what it was given: the fix command's streamed output and argv.
const FIX = `console.log('fix env', process.env.AGENT_SECRET, 'argv', JSON.stringify(process.argv.slice(2)));`;
const BUILD = `console.log('building with', process.env.NPM_TOKEN);`;

function plantedConfig(): string {
  const node = JSON.stringify(process.execPath);
  return `apiVersion: deploy-loop/v1
service: planted
build:
  kind: command
  context: app
  command: [${node}, build.mjs]
  env:
    NPM_TOKEN: ${NPM}
target:
  kind: local
  command: [${node}, server.mjs]
  env:
    LONG_TOKEN: ${LONG}
    DATABASE_URL: postgres://app:${DB_PW}@db.internal:5432/app
  readiness: { path: /healthz, timeoutMs: 5000 }
smoke:
  checks:
    - name: long-token
      kind: http
      priority: P0
      path: /json
      expect:
        json: { token: expected-something-else }
    - name: query-and-header
      kind: http
      priority: P0
      path: /cb?token=${QUERY}&page=2
      headers:
        Authorization: Bearer ${BEARER2}
loop:
  maxCycles: 2
  fix:
    command: [${node}, fix.mjs, --api-key, "\${AGENT_KEY}"]
    env:
      AGENT_SECRET: ${FIX_ENV}
`;
}

describe('every planted secret class, at every log level', () => {
  it.each([
    ['debug', 'json'],
    ['info', 'json'],
    ['debug', 'pretty'],
  ])('none reaches the reports folder, stdout or stderr (--log-level %s, %s)', async (level, format) => {
    const dir = await scratchDir('safety-planted');
    dirs.push(dir);
    await writeFiles(dir, { 'app/server.mjs': ECHO_SERVER, 'app/build.mjs': BUILD, 'fix.mjs': FIX, 'loop.config.yaml': plantedConfig() });
    const r = await runCli(['run', '--log-level', level, '--log-format', format, '--json', 'out/run.json', '--junit', 'out/junit.xml'], {
      cwd: dir,
      env: { AGENT_KEY: AGENT, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: join(dir, 'out', 'summary.md') },
    });
    expect(r.code).toBe(4);
    const files = [...(await filesUnder(join(dir, 'reports'))), ...(await filesUnder(join(dir, 'out')))];
    // The evidence that would carry each secret was recorded (so its absence below means something).
    const record = await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8');
    expect(record).toMatch(/token/);
    expect(record).toContain('db at');
    expect(await readFile(join(dir, 'reports', 'history', 'cycle-002.json'), 'utf8')).toContain('fix env');
    if (level === 'debug') expect(r.stderr).toMatch(/building with/);
    expect(r.stderr).toMatch(/fix env/);
    expect(r.stdout).toMatch(/^::error /m);
    const outputs: [string, string][] = [['stdout', r.stdout], ['stderr', r.stderr]];
    for (const f of files) outputs.push([f, await readFile(f, 'utf8')]);
    const leaks: string[] = [];
    for (const [where, text] of outputs) {
      for (const [cls, s] of Object.entries(CLASSES)) {
        // The whole value, and (for the long one) the 20-character head a cut would leave.
        if (text.includes(s) || text.includes(s.slice(0, 20))) leaks.push(`${cls} in ${where.replace(dir, '.')}`);
      }
    }
    expect(leaks).toEqual([]);
  }, 120_000);
});
