/**
 * A fix command that hangs (and even ignores SIGTERM) is killed after loop.fix.timeoutMs, recorded
 * as timed out in the next cycle's record, and the loop goes on with its next cycle.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { tinyConfigInput, writeTinyProject } from '../helpers/tiny-service.js';
import { configYaml } from '../helpers/config-fixture.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

const HANG = `
import { writeFileSync } from 'node:fs';
writeFileSync(new URL('./hang.pid', import.meta.url), String(process.pid));
process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
console.log('thinking forever');
setInterval(() => {}, 1000);
`;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a fix command that hangs', () => {
  it('is killed after its timeout, recorded as timed out, and the loop runs its next cycle', async () => {
    const dir = await scratchDir('fix-timeout');
    dirs.push(dir);
    const base = tinyConfigInput({ maxCycles: 2 });
    const config = { ...base, loop: { ...base.loop, fix: { command: [process.execPath, 'hang.mjs'], timeoutMs: 1000 } } };
    await writeTinyProject(dir, 'ws1011', configYaml(config));
    await writeFiles(dir, { 'hang.mjs': HANG });
    const started = Date.now();
    const r = await runCli(['run'], { cwd: dir });
    expect(r.stderr).not.toContain('internal error');
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/cycle 1: gate-failed/);
    expect(r.stdout).toMatch(/cycle 2: gate-failed/);
    // Bounded: the 1 s timeout plus the 2 s grace before SIGKILL, far from "forever".
    expect(Date.now() - started).toBeLessThan(25_000);
    const rec2 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-002.json'), 'utf8'));
    expect(rec2.fix).toMatchObject({ timedOut: true, afterCycle: 1 });
    expect(rec2.fix.exitCode).not.toBe(0);
    expect(rec2.fix.durationMs).toBeGreaterThanOrEqual(1000);
    expect(rec2.fix.outputTail.join('\n')).toContain('thinking forever');
    const pid = Number(await readFile(join(dir, 'hang.pid'), 'utf8'));
    expect(alive(pid)).toBe(false);
  });
});
