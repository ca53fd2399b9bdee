/**
 * The loop's own bounds, through the real CLI: stall detection, a failing fix step with
 * onFixFailure: stop, and maxMinutes. Each ends with a named status, exit 4, and the status on the
 * last cycle's record and report.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { tinyConfigInput, writeTinyProject } from '../helpers/tiny-service.js';
import { configYaml, type TinyConfig } from '../helpers/config-fixture.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

/** The tiny config with extra `loop:` keys besides maxCycles. */
function withLoop(maxCycles: number, extra: Omit<TinyConfig['loop'], 'maxCycles'>): string {
  const base = tinyConfigInput({ maxCycles });
  return configYaml({ ...base, loop: { ...base.loop, ...extra } });
}

async function lastReport(dir: string, cycle: number): Promise<{ md: string; json: { runStatus?: string; record: { runStatus?: string } } }> {
  const base = join(dir, 'reports', `cycle-${String(cycle).padStart(3, '0')}`);
  return { md: await readFile(`${base}.md`, 'utf8'), json: JSON.parse(await readFile(`${base}.json`, 'utf8')) };
}

async function project(prefix: string, config: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await scratchDir(prefix);
  dirs.push(dir);
  await writeTinyProject(dir, 'ws1011', config);
  await writeFiles(dir, files);
  return dir;
}

describe('loop bounds', () => {
  it('stops as stalled when the same checks fail for stallAfter cycles', async () => {
    const dir = await project('stall', withLoop(5, { stallAfter: 2 }));
    const r = await runCli(['run'], { cwd: dir });
    expect(r.stderr).not.toContain('internal error');
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/cycle 2: gate-failed/);
    expect(r.stdout).not.toMatch(/cycle 3:/);
    expect(r.stdout).toMatch(/run: stalled after 2 cycle\(s\)/);
    const { md, json } = await lastReport(dir, 2);
    expect(md).toMatch(/\*\*Run ended: stalled\*\* — the same failing checks for 2 cycles: agent/);
    expect(json.runStatus).toBe('stalled');
    expect(json.record.runStatus).toBe('stalled');
    // Only the last cycle carries the run's status.
    expect((await lastReport(dir, 1)).json.runStatus).toBeUndefined();
  });

  it('stops as fix-failed when the fix command fails and onFixFailure is stop', async () => {
    const config = withLoop(3, { onFixFailure: 'stop', fix: { command: [process.execPath, 'broken-fix.mjs'] } });
    const dir = await project('fixfail', config, { 'broken-fix.mjs': 'console.error("cannot fix"); process.exit(7);\n' });
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/cycle 1: gate-failed/);
    expect(r.stdout).not.toMatch(/cycle 2:/);
    expect(r.stdout).toMatch(/run: fix-failed after 1 cycle\(s\) \(the fix command exited 7 after cycle 1/);
    const { md, json } = await lastReport(dir, 1);
    expect(md).toContain('**Run ended: fix-failed**');
    expect(json.runStatus).toBe('fix-failed');
  });

  it('goes on after a failing fix command by default (onFixFailure: continue)', async () => {
    const config = withLoop(2, { stallAfter: 5, fix: { command: [process.execPath, 'broken-fix.mjs'] } });
    const dir = await project('fixcont', config, { 'broken-fix.mjs': 'process.exit(7);\n' });
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/cycle 2: gate-failed/);
    expect(r.stdout).toMatch(/run: max-cycles after 2 cycle\(s\)/);
    expect((await lastReport(dir, 2)).json.runStatus).toBe('max-cycles');
  });

  it('starts no cycle after maxMinutes', async () => {
    const dir = await project('maxmin', withLoop(3, { maxMinutes: 0.001 }));
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/cycle 1: gate-failed/);
    expect(r.stdout).not.toMatch(/cycle 2:/);
    expect(r.stdout).toMatch(/run: max-minutes after 1 cycle\(s\)/);
    const { md, json } = await lastReport(dir, 1);
    expect(md).toContain('**Run ended: max-minutes**');
    expect(json.runStatus).toBe('max-minutes');
  });
});
