/**
 * Every subprocess leads its own process group, and every stop is of the whole group: wrappers go
 * with what they started, a command's background leftovers are stopped when it ends, and a
 * grandchild holding the output pipe never keeps the caller waiting.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand, startProcess, type LongRunningProcess } from '../../src/exec.js';
import { groupMembers, processStartTicks } from '../../src/runtime/process-group.js';
import { liveGroups } from '../../src/runtime/cleanup.js';
import { openProcessJournal, processJournalDir } from '../../src/runtime/process-journal.js';
import { reapSurvivors } from '../../src/runtime/reap.js';
import { silentLogger } from '../../src/log.js';
import { isAlive } from './local-fixtures.js';

const dirs: string[] = [];
const procs: LongRunningProcess[] = [];
const leaked: number[] = [];
afterEach(async () => {
  for (const pid of leaked.splice(0)) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
  await Promise.all(procs.splice(0).map((p) => p.stop(500)));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'proc-groups-'));
  dirs.push(d);
  return d;
}

/** Waits until the file holds a pid (written by a grandchild), and returns it. */
async function pidFrom(file: string): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (/^\d+\s*$/.test(text)) return Number(text);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no pid in ${file}`);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('runCommand', () => {
  it('returns when the command exits, though a background child still holds its output, and stops that child', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'bg.pid');
    const started = performance.now();
    // The background sleep inherits stdout: execa alone would wait the whole 30 s for the pipe.
    const res = await runCommand(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; echo built`]);
    const ms = performance.now() - started;
    expect(res.ok).toBe(true);
    expect(res.outputTail).toContain('built');
    expect(ms).toBeLessThan(10_000);
    expect(isAlive(await pidFrom(pidFile))).toBe(false);
  });

  it('on timeout stops the whole group of a wrapper, escalating to SIGKILL for a child that ignores SIGTERM', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'child.pid');
    const res = await runCommand(['sh', '-c', `sh -c 'trap "" TERM; echo $$ > ${pidFile}; while :; do sleep 0.1; done' & wait`], { timeoutMs: 500 });
    expect(res.timedOut).toBe(true);
    expect(res.ok).toBe(false);
    expect(isAlive(await pidFrom(pidFile))).toBe(false);
    expect(liveGroups()).toEqual([]);
  });

  it('on abort stops the whole group', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'child.pid');
    const controller = new AbortController();
    const running = runCommand(['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`], { signal: controller.signal });
    const child = await pidFrom(pidFile);
    controller.abort();
    const res = await running;
    expect(res.aborted).toBe(true);
    expect(isAlive(child)).toBe(false);
  });

  it('reports a program that does not exist as a spawn error', async () => {
    const res = await runCommand(['/nonexistent/deploy-loop-test-binary']);
    expect(res.ok).toBe(false);
    expect(res.spawnError).toMatch(/ENOENT/);
  });
});

describe('startProcess', () => {
  it('stop() ends every process of a wrapper and frees the port its grandchild listened on', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'server.js'), `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening', process.pid));`);
    const port = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const p = startProcess(['sh', '-c', 'node server.js & wait'], { cwd: dir, env: { PORT: String(port) } });
    procs.push(p);
    for (let i = 0; i < 200 && !p.outputTail().some((l) => l.startsWith('listening')); i++) await new Promise((r) => setTimeout(r, 25));
    const server = Number(p.outputTail().find((l) => l.startsWith('listening'))?.split(' ')[1]);
    expect(isAlive(server)).toBe(true);
    const group = { pgid: p.pid as number, startTicks: processStartTicks(p.pid as number) as number };
    expect(groupMembers(group).sort()).toEqual([p.pid, server].sort());
    await p.stop(2000);
    expect(isAlive(server)).toBe(false);
    expect(groupMembers(group)).toEqual([]);
    expect(await portFree(port)).toBe(true);
  });

  it('a revision whose command exits takes its background server with it (as a container ends with its entrypoint)', async () => {
    const dir = await tempDir();
    const pidFile = join(dir, 'bg.pid');
    const p = startProcess(['sh', '-c', `sleep 30 & echo $! > ${pidFile}`]);
    procs.push(p);
    const { exitCode } = await p.exited;
    expect(exitCode).toBe(0);
    expect(isAlive(await pidFrom(pidFile))).toBe(false);
  });
});

describe('the process journal', () => {
  it('records each group while it runs and removes the entry once it is stopped', async () => {
    const reports = await tempDir();
    const journal = openProcessJournal(reports, { runId: 'r1' });
    try {
      const p = startProcess(['sleep', '30'], { label: 'svc-00001-abc' });
      procs.push(p);
      const names = await readdir(processJournalDir(reports));
      expect(names).toEqual([`group-${p.pid}-${processStartTicks(p.pid as number)}.json`]);
      const entry = JSON.parse(await readFile(join(processJournalDir(reports), names[0] as string), 'utf8'));
      expect(entry).toMatchObject({ version: 1, kind: 'process', label: 'svc-00001-abc', program: 'sleep', pgid: p.pid, loop: { pid: process.pid, runId: 'r1' } });
      // This loop is alive: its groups are not survivors.
      expect(await reapSurvivors(reports, silentLogger())).toEqual([]);
      expect(isAlive(p.pid as number)).toBe(true);
      await p.stop(500);
      expect(await readdir(processJournalDir(reports))).toEqual([]);
      await runCommand(['true']);
      expect(await readdir(processJournalDir(reports))).toEqual([]);
    } finally {
      journal.close();
    }
  });
});

describe('reapSurvivors', () => {
  /** A detached `sleep` (its own group), as a dead loop's revision would be left. */
  function orphanGroup(): { pid: number; startTicks: number } {
    const child = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid as number;
    leaked.push(pid);
    return { pid, startTicks: processStartTicks(pid) as number };
  }

  /** The pid of a process that has come and gone: a loop killed with SIGKILL. */
  async function deadPid(): Promise<number> {
    const child = spawn('true', [], { stdio: 'ignore' });
    await new Promise((r) => child.once('exit', r));
    return child.pid as number;
  }

  async function writeEntry(reports: string, entry: Record<string, unknown> & { pgid: number; startTicks: number }): Promise<string> {
    const dir = processJournalDir(reports);
    await mkdir(dir, { recursive: true });
    const file = join(dir, `group-${entry.pgid}-${entry.startTicks}.json`);
    await writeFile(file, JSON.stringify({ version: 1, host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', kind: 'process', program: 'sleep', ...entry }));
    return file;
  }

  it("stops a dead loop's groups, leaves a live loop's alone, and never signals a pid that now names another process", async () => {
    const reports = await tempDir();
    const dead = await deadPid();
    const survivor = orphanGroup();
    const ofLiveLoop = orphanGroup();
    const reused = orphanGroup();
    await writeEntry(reports, { loop: { pid: dead, startTicks: 1 }, pgid: survivor.pid, startTicks: survivor.startTicks, label: 'svc-00004-abc' });
    const liveFile = await writeEntry(reports, { loop: { pid: process.pid, startTicks: processStartTicks(process.pid) }, pgid: ofLiveLoop.pid, startTicks: ofLiveLoop.startTicks });
    // Same pid, another start time: the recorded group ended and its number went to someone else.
    await writeEntry(reports, { loop: { pid: dead, startTicks: 1 }, pgid: reused.pid, startTicks: reused.startTicks - 1 });
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });

    const stopped = await reapSurvivors(reports, log);

    expect(stopped).toEqual([expect.objectContaining({ pgid: survivor.pid, label: 'svc-00004-abc', program: 'sleep', loopPid: dead, outcome: 'SIGTERM', members: 1 })]);
    expect(isAlive(survivor.pid)).toBe(false);
    expect(isAlive(ofLiveLoop.pid)).toBe(true);
    expect(isAlive(reused.pid)).toBe(true);
    expect(await readdir(processJournalDir(reports))).toEqual([basename(liveFile)]);
    expect(lines.join('')).toContain(`left running by loop pid ${dead}, which is gone: process svc-00004-abc (sleep), process group ${survivor.pid}`);
  });
});
