/**
 * Two loops on the same service, as two real CLI processes: the second is refused (exit 2) naming
 * the holder and since when; the lock goes away with its holder, and a lock left by a dead process
 * is taken over.
 */
import { spawn } from 'node:child_process';
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliCleanup, runCli, scratchDir, startCli } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';

const { dirs, running: children } = cliCleanup();

async function project(): Promise<string> {
  const dir = await scratchDir('lock');
  dirs.push(dir);
  await writeTinyProject(dir, 'ok', tinyConfig({ slowCheck: true }));
  return dir;
}

const exists = (file: string) => access(file).then(() => true, () => false);

/** A pid that certainly belonged to a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((res) => child.on('exit', res));
  return child.pid as number;
}

describe('the loop lock', () => {
  it('refuses a second loop on the same service with the holder and since when, and frees the lock when the first ends', async () => {
    const dir = await project();
    const first = startCli(['run', '--log-format', 'json'], { cwd: dir });
    children.push(first);
    await new Promise<void>((res, rej) => {
      let buf = '';
      first.child.stderr?.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('candidate ready')) res();
      });
      first.child.on('close', () => rej(new Error(`first loop ended early: ${buf}`)));
    });
    const lock = JSON.parse(await readFile(join(dir, 'reports', '.lock'), 'utf8'));
    expect(lock).toMatchObject({ pid: first.child.pid, host: hostname(), service: 'tiny', command: 'deploy-loop run' });

    const second = await runCli(['cycle'], { cwd: dir });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`pid ${first.child.pid} on ${hostname()}`);
    expect(second.stderr).toContain(`since ${lock.startedAt}`);
    expect(second.stderr).toContain(`run ${lock.runId}`);
    // The refused loop wrote nothing: no second cycle record, and the holder's lock is untouched.
    expect(JSON.parse(await readFile(join(dir, 'reports', '.lock'), 'utf8'))).toEqual(lock);

    first.child.kill('SIGINT');
    expect((await first.done).code).toBe(130);
    expect(await exists(join(dir, 'reports', '.lock'))).toBe(false);
  });

  it('takes over a lock whose process is gone, and refuses one held on another host', async () => {
    const dir = await project();
    await writeFile(join(dir, 'loop.config.yaml'), tinyConfig());
    const stale = { pid: await deadPid(), host: hostname(), startedAt: '2026-01-01T00:00:00.000Z', runId: 'old', service: 'tiny', command: 'deploy-loop run' };
    await writeFiles(join(dir, 'reports', '.lock'), JSON.stringify(stale));
    const taken = await runCli(['cycle'], { cwd: dir });
    expect(taken.code).toBe(0);
    expect(await exists(join(dir, 'reports', '.lock'))).toBe(false);

    // On another machine the pid means nothing here: never taken over.
    await writeFiles(join(dir, 'reports', '.lock'), JSON.stringify({ ...stale, host: 'build-agent-7' }));
    const refused = await runCli(['cycle'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`pid ${stale.pid} on build-agent-7`);
    expect(await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8')).toContain('"verdict": "passed"');
    expect(await exists(join(dir, 'reports', 'history', 'cycle-002.json'))).toBe(false);
  });
});

async function writeFiles(file: string, content: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, content);
}
