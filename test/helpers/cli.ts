/** Runs the real CLI (bin/deploy-loop.js on the compiled dist/) in a child process. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'deploy-loop.js');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): { child: ChildProcess; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, CI: 'true', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliRun>((res) => child.on('close', (code, signal) => res({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<CliRun> {
  return startCli(args, opts).done;
}

/** A scratch folder inside the repo, so services in it resolve `ws` from the repo's node_modules. */
export async function scratchDir(prefix: string): Promise<string> {
  const base = join(ROOT, '.test-tmp');
  await mkdir(base, { recursive: true });
  return mkdtemp(join(base, `${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

export async function writeFiles(dir: string, files: Record<string, string>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
}

export type StartedCli = ReturnType<typeof startCli>;

/**
 * A test file's CLI runs and scratch folders: push to them, and after each test (pass or fail) the
 * runs still going are killed and awaited, then the folders removed.
 */
export function cliCleanup(): { dirs: string[]; running: StartedCli[] } {
  const dirs: string[] = [];
  const running: StartedCli[] = [];
  afterEach(async () => {
    for (const c of running.splice(0)) {
      if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
      await c.done;
    }
    await Promise.all(dirs.splice(0).map(removeDir));
  });
  return { dirs, running };
}
