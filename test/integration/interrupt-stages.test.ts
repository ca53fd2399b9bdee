/**
 * SIGINT or SIGTERM to a real running loop at each stage before traffic moves (build, deploy, fix):
 * exit 130 soon after, the cycle recorded as interrupted with traffic as it was, and what the stage
 * had started stopped. The smoke stage is in loop-cli.test.ts, a canary step in interrupt-canary.test.ts.
 */
import { access, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliCleanup, scratchDir, startCli, writeFiles } from '../helpers/cli.js';
import { tinyConfig, tinyConfigInput, tinyTarget, writeTinyProject, type Mode } from '../helpers/tiny-service.js';
import { configYaml } from '../helpers/config-fixture.js';

const { dirs, running } = cliCleanup();

/** Writes its pid, then does nothing for a minute (a build, a revision or a fix that hangs). */
const HANG = `
import { writeFileSync } from 'node:fs';
writeFileSync(process.env.PID_FILE, String(process.pid));
setTimeout(() => {}, 60_000);
`;

const exists = (file: string) => access(file).then(() => true, () => false);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function interruptAt(dir: string, args: string[], marker: string, signal: NodeJS.Signals) {
  const cli = startCli([...args, '--log-format', 'json'], { cwd: dir, env: { PID_FILE: join(dir, 'hang.pid') } });
  running.push(cli);
  await new Promise<void>((res, rej) => {
    let buf = '';
    cli.child.stderr?.on('data', (d: Buffer) => {
      buf += d.toString();
      if (buf.includes(marker)) res();
    });
    cli.child.on('close', () => rej(new Error(`exited before "${marker}": ${buf}`)));
  });
  // The marker is logged just before the stage starts its process: wait until that process is up.
  for (let i = 0; i < 200 && !(await exists(join(dir, 'hang.pid'))); i++) await sleep(50);
  const started = Date.now();
  cli.child.kill(signal);
  const r = await cli.done;
  return { ...r, ms: Date.now() - started };
}

async function project(mode: Mode, config: string): Promise<string> {
  const dir = await scratchDir('interrupt');
  dirs.push(dir);
  await writeTinyProject(dir, mode, config);
  await writeFiles(dir, { 'hang.mjs': HANG, 'app/hang.mjs': HANG });
  return dir;
}

const record = async (dir: string, n: number) =>
  JSON.parse(await readFile(join(dir, 'reports', 'history', `cycle-${String(n).padStart(3, '0')}.json`), 'utf8'));

describe('interrupting the loop at each stage', () => {
  it('SIGTERM during the build: exit 130, the build process stopped, the cycle recorded as interrupted', async () => {
    const dir = await project('ok', tinyConfig({ buildCommand: [process.execPath, 'hang.mjs'] }));
    const r = await interruptAt(dir, ['cycle'], '"building"', 'SIGTERM');
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(10_000);
    const rec = await record(dir, 1);
    expect(rec.verdict).toBe('interrupted');
    expect(rec.traffic.after).toEqual([]);
    expect(alive(Number(await readFile(join(dir, 'hang.pid'), 'utf8')))).toBe(false);
  });

  it('SIGINT while the candidate starts: exit 130, the revision process stopped, no traffic moved', async () => {
    // A revision that never listens (it inherits PID_FILE from the loop's environment).
    const config = { ...tinyConfigInput(), target: tinyTarget({ command: [process.execPath, 'hang.mjs'], readinessTimeoutMs: 60000 }) };
    const dir = await project('ok', configYaml(config));
    const r = await interruptAt(dir, ['cycle'], 'starting revision', 'SIGINT');
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(10_000);
    const rec = await record(dir, 1);
    expect(rec.verdict).toBe('interrupted');
    expect(rec.traffic.after).toEqual([]);
    expect(alive(Number(await readFile(join(dir, 'hang.pid'), 'utf8')))).toBe(false);
  });

  it('SIGTERM during the fix step: exit 130, the fix command stopped, no further cycle', async () => {
    const base = tinyConfigInput({ maxCycles: 3 });
    const config = { ...base, loop: { ...base.loop, fix: { command: [process.execPath, 'hang.mjs'], timeoutMs: 60000 } } };
    const dir = await project('ws1011', configYaml(config));
    const r = await interruptAt(dir, ['run'], 'running fix command', 'SIGTERM');
    expect(r.code).toBe(130);
    expect(r.ms).toBeLessThan(10_000);
    expect((await record(dir, 1)).verdict).toBe('gate-failed');
    await expect(readFile(join(dir, 'reports', 'history', 'cycle-002.json'))).rejects.toThrow();
    expect(alive(Number(await readFile(join(dir, 'hang.pid'), 'utf8')))).toBe(false);
  });
});
