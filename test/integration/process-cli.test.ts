/**
 * Wrapper start commands and a loop killed with SIGKILL, through the real CLI. A revision started
 * as `sh -c "node server.js & wait"`, `npm start` or a Python server behind a wrapper is stopped
 * with its whole process group: the run exits, and nothing is left listening or running in the
 * group. A `kill -9` of a running loop leaves its revision serving; the next run finds it in the
 * process journal, stops it, and says so in its log.
 */
import { readdirSync } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, startCli, writeFiles, type CliRun } from '../helpers/cli.js';
import { readProcStat } from '../../src/runtime/process-group.js';
import { isAlive } from './local-fixtures.js';
import { configYaml, type TinyConfig } from '../helpers/config-fixture.js';

/** Answers /healthz; /slow hangs for a minute unless MARK_DIR/fast exists. Notes pid, group and port in MARK_DIR/servers. */
const NODE_SERVER = `
const fs = require('node:fs');
const path = require('node:path');
const http = require('node:http');
const marks = process.env.MARK_DIR;
const stat = fs.readFileSync('/proc/self/stat', 'utf8');
const pgrp = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2];
http.createServer((req, res) => {
  if (req.url === '/slow') {
    fs.writeFileSync(path.join(marks, 'slow-' + process.pid), '');
    if (fs.existsSync(path.join(marks, 'fast'))) return res.end('fast');
    return setTimeout(() => res.end('slow'), 60000);
  }
  res.end('ok from node');
}).listen(Number(process.env.PORT), '127.0.0.1', () => {
  fs.appendFileSync(path.join(marks, 'servers'), process.pid + ' ' + pgrp + ' ' + process.env.PORT + '\\n');
  console.log('listening on ' + process.env.PORT);
});
`;

const PYTHON_SERVER = `
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'ok from python'
        self.send_response(200)
        self.send_header('content-type', 'text/plain')
        self.send_header('content-length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), Handler)
with open(os.path.join(os.environ['MARK_DIR'], 'servers'), 'a') as f:
    f.write('%d %d %s\\n' % (os.getpid(), os.getpgrp(), os.environ['PORT']))
print('listening on', os.environ['PORT'], flush=True)
server.serve_forever()
`;

function config(command: string[], marks: string, opts: { slow?: boolean; maxCycles?: number } = {}): TinyConfig {
  return {
    apiVersion: 'deploy-loop/v1',
    service: 'wrapped',
    build: { kind: 'command', context: 'app' },
    target: { kind: 'local', command, env: { MARK_DIR: marks }, readiness: { path: '/healthz', timeoutMs: 15000 } },
    smoke: {
      checks: [
        { name: 'health', kind: 'http', priority: 'P0', path: '/healthz' },
        ...(opts.slow ? [{ name: 'slow', kind: 'http' as const, priority: 'P1' as const, path: '/slow', timeoutMs: 120000 }] : []),
      ],
    },
    loop: { maxCycles: opts.maxCycles ?? 1 },
  };
}

interface Server {
  pid: number;
  pgid: number;
  port: number;
}

const dirs: string[] = [];
const running: Array<ReturnType<typeof startCli>> = [];
afterEach(async () => {
  for (const c of running.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
  // What a failing test leaked (its servers' groups) goes first: a leaked server holds the CLI's
  // output pipe, and the CLI's 'close' waits for that.
  await killLeaks();
  await Promise.all(dirs.splice(0).map(removeDir));
});

async function killLeaks(): Promise<void> {
  for (const dir of dirs) for (const s of await servers(dir)) killLeaked(s);
}

/** A leaked server's group; only the server itself when it shares this test's group (no group of its own). */
function killLeaked(s: Server): void {
  try {
    process.kill(s.pgid === readProcStat(process.pid)?.pgrp ? s.pid : -s.pgid, 'SIGKILL');
  } catch {
    // Gone.
  }
}

async function project(files: Record<string, string>, command: string[], opts: { slow?: boolean; maxCycles?: number } = {}): Promise<{ dir: string; marks: string }> {
  // Outside the repository, as a user's own folder is: no package.json above it says "type": "module".
  const dir = await mkdtemp(join(tmpdir(), 'process-cli-'));
  dirs.push(dir);
  const marks = join(dir, 'marks');
  await mkdir(marks);
  await writeFiles(dir, { ...Object.fromEntries(Object.entries(files).map(([k, v]) => [`app/${k}`, v])), 'loop.config.yaml': configYaml(config(command, marks, opts)) });
  return { dir, marks };
}

async function servers(dir: string): Promise<Server[]> {
  const text = await readFile(join(dir, 'marks', 'servers'), 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [pid, pgid, port] = l.split(' ').map(Number) as [number, number, number];
      return { pid, pgid, port };
    });
}

/** Live (non-zombie) processes whose process group is `pgid`. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSyncSafe('/proc')) {
    const stat = readProcStat(Number(name));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z') out.push(stat.pid);
  }
  return out;
}

function readdirSyncSafe(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => /^\d+$/.test(n));
  } catch {
    return [];
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The run's result, or a failure naming the hang: a run that does not exit is the defect under test. */
async function exitWithin(cli: ReturnType<typeof startCli>, ms: number): Promise<CliRun> {
  const timer = sleep(ms).then(() => 'hung' as const);
  const r = await Promise.race([cli.done, timer]);
  if (r === 'hung') {
    const exited = cli.child.exitCode !== null;
    cli.child.kill('SIGKILL');
    await killLeaks();
    const { stdout } = await cli.done;
    throw new Error(`deploy-loop did not ${exited ? 'close its output' : 'exit'} within ${ms} ms; stdout:\n${stdout}`);
  }
  return r;
}

async function expectNothingLeft(dir: string): Promise<Server[]> {
  const started = await servers(dir);
  expect(started.length).toBeGreaterThan(0);
  for (const s of started) {
    expect(isAlive(s.pid), `server pid ${s.pid}`).toBe(false);
    expect(groupMembers(s.pgid), `processes left in group ${s.pgid}`).toEqual([]);
    expect(await listening(s.port), `something still listens on ${s.port}`).toBe(false);
  }
  return started;
}

describe('wrapper start commands', () => {
  it('[sh, -c, "node server.js & wait"]: the cycle passes, the CLI exits 0, and nothing is left listening or in the group', async () => {
    const { dir } = await project({ 'server.js': NODE_SERVER }, ['sh', '-c', 'node server.js & wait']);
    const cli = startCli(['cycle'], { cwd: dir });
    running.push(cli);
    const r = await exitWithin(cli, 25_000);
    expect(r.stdout).toMatch(/cycle 1: passed/);
    expect(r.code).toBe(0);
    const [server] = await expectNothingLeft(dir);
    // The server really was a grandchild in the revision's group, not the group's leader.
    expect(server?.pgid).not.toBe(server?.pid);
  }, 60_000);

  it('[npm, start] with a start script: the run exits 0 and nothing is left listening or in the group', async () => {
    const pkg = JSON.stringify({ name: 'wrapped', version: '1.0.0', private: true, scripts: { start: 'node server.js' } });
    const { dir } = await project({ 'server.js': NODE_SERVER, 'package.json': pkg }, ['npm', 'start']);
    const cli = startCli(['run'], { cwd: dir, env: { npm_config_update_notifier: 'false', npm_config_cache: join(dir, '.npm-cache') } });
    running.push(cli);
    const r = await exitWithin(cli, 40_000);
    expect(r.stdout).toMatch(/cycle 1: passed/);
    expect(r.code).toBe(0);
    await expectNothingLeft(dir);
  }, 60_000);

  it('a Python server behind a wrapper ([sh, -c, "/usr/bin/python3 server.py & wait"]) is stopped with its group', async () => {
    const { dir } = await project({ 'server.py': PYTHON_SERVER }, ['sh', '-c', '/usr/bin/python3 server.py & wait']);
    const cli = startCli(['cycle'], { cwd: dir });
    running.push(cli);
    const r = await exitWithin(cli, 25_000);
    expect(r.stdout).toMatch(/cycle 1: passed/);
    expect(r.code).toBe(0);
    await expectNothingLeft(dir);
  }, 60_000);
});

describe('kill -9 of a running loop', () => {
  it('leaves its revision running; the next run stops it, names it in its log, and leaves nothing behind', async () => {
    const { dir, marks } = await project({ 'server.js': NODE_SERVER }, ['sh', '-c', 'node server.js & wait'], { slow: true });
    const first = startCli(['run', '--log-format', 'json'], { cwd: dir });
    running.push(first);
    // Until the slow check is in flight: the revision is up and the loop is mid-smoke.
    for (let i = 0; i < 600; i++) {
      if ((await readdir(marks)).some((n) => n.startsWith('slow-'))) break;
      if (first.child.exitCode !== null) throw new Error(`the first run ended early: ${(await first.done).stderr}`);
      await sleep(50);
    }
    const [old] = await servers(dir);
    if (!old) throw new Error('no server started');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal).toBe('SIGKILL');
    // Nothing ran after SIGKILL: the old revision still serves, and the journal names its group.
    expect(isAlive(old.pid)).toBe(true);
    expect(await listening(old.port)).toBe(true);
    const journal = await readdir(join(dir, 'reports', '.processes'));
    expect(journal.some((n) => n.startsWith(`group-${old.pgid}-`))).toBe(true);

    await writeFile(join(marks, 'fast'), '');
    const second = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
    expect(second.code).toBe(0);
    const reaped = second.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; pgid?: number; loopPid?: number })
      .filter((l) => l.msg.includes('which is gone'));
    expect(reaped).toHaveLength(1);
    expect(reaped[0]).toMatchObject({ pgid: old.pgid, loopPid: first.child.pid });
    expect(reaped[0]?.msg).toMatch(/process wrapped-00001-[a-z]{3} \(sh\)/);
    expect(isAlive(old.pid)).toBe(false);
    expect(groupMembers(old.pgid)).toEqual([]);
    expect(await listening(old.port)).toBe(false);
    // The second run's own revision went too, and so did every journal entry.
    await expectNothingLeft(dir);
    expect((await readdir(join(dir, 'reports', '.processes'))).filter((n) => !n.startsWith('.'))).toEqual([]);
  }, 90_000);

  it('a fix command still running when the loop is killed is stopped by the next run', async () => {
    const { dir, marks } = await project({ 'server.js': NODE_SERVER }, ['node', 'server.js'], { maxCycles: 2 });
    // A fix that keeps editing the working copy: it writes its pid, then touches a file every 100 ms.
    const fix = `const fs = require('node:fs'); fs.writeFileSync(${JSON.stringify(join(marks, 'fix.pid'))}, String(process.pid)); setInterval(() => fs.writeFileSync(${JSON.stringify(join(dir, 'app', 'edited.txt'))}, String(Date.now())), 100);`;
    const base = config(['node', 'server.js'], marks, { maxCycles: 2 });
    await writeFiles(dir, {
      'fix.cjs': fix,
      'loop.config.yaml': configYaml({
        ...base,
        // The health check fails (the server answers 200), so the loop runs the fix step.
        smoke: { checks: [{ name: 'health', kind: 'http', priority: 'P0', path: '/healthz', expect: { status: 418 } }] },
        loop: { ...base.loop, fix: { command: ['node', 'fix.cjs'] } },
      }),
    });
    const first = startCli(['run'], { cwd: dir });
    running.push(first);
    const pidFile = join(marks, 'fix.pid');
    for (let i = 0; i < 600 && !(await access(pidFile).then(() => true, () => false)); i++) {
      if (first.child.exitCode !== null) throw new Error(`the first run ended early: ${(await first.done).stderr}`);
      await sleep(50);
    }
    const fixPid = Number(await readFile(pidFile, 'utf8'));
    first.child.kill('SIGKILL');
    await first.done;
    await sleep(300);
    expect(isAlive(fixPid)).toBe(true);

    const second = await runCli(['cycle'], { cwd: dir });
    expect(second.stderr).toMatch(/which is gone: command node, process group \d+/);
    expect(isAlive(fixPid)).toBe(false);
    const before = await readFile(join(dir, 'app', 'edited.txt'), 'utf8');
    await sleep(400);
    expect(await readFile(join(dir, 'app', 'edited.txt'), 'utf8')).toBe(before);
  }, 90_000);
});
