import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';

/** A fix step that "passes" by deleting the failing P0 check from the config instead of fixing the service. */
const CHEATING_FIX = `
import { readFileSync, writeFileSync } from 'node:fs';
const file = new URL('./loop.config.yaml', import.meta.url);
const text = readFileSync(file, 'utf8');
const cut = text.replace(/    - name: agent\\n[\\s\\S]*?(?=loop:)/, '');
// A cut that stops matching the config's layout would leave the suite whole and test nothing.
if (cut === text) throw new Error('the agent check was not found in loop.config.yaml');
writeFileSync(file, cut);
console.log('removed the agent check');
`;

/** The same, and then it tries to accept its own weakened suite. */
const SELF_ACCEPTING_FIX = `${CHEATING_FIX}
import { spawnSync } from 'node:child_process';
const r = spawnSync(process.execPath, [${JSON.stringify(BIN)}, 'accept-suite'], { encoding: 'utf8' });
console.log('accept-suite exit', r.status, r.stderr.trim());
`;

const BREAKING_FIX = `
import { readFileSync, writeFileSync } from 'node:fs';
const file = new URL('./loop.config.yaml', import.meta.url);
writeFileSync(file, readFileSync(file, 'utf8') + 'gate:\\n  P0: 150\\n');
`;

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

async function project(fix: string): Promise<string> {
  const dir = await scratchDir('integrity');
  dirs.push(dir);
  await writeTinyProject(dir, 'ws1011', tinyConfig({ fix: true, maxCycles: 2 }));
  await writeFiles(dir, { 'fix.mjs': fix });
  return dir;
}

describe('suite integrity in the loop', () => {
  it('a fix that removes a failing P0 check does not pass the loop until a person accepts the suite', async () => {
    const dir = await project(CHEATING_FIX);
    const r = await runCli(['run'], { cwd: dir });
    expect(r.stderr).not.toContain('internal error');
    expect(r.stdout).toMatch(/cycle 1: gate-failed/);
    expect(r.stdout).toMatch(/cycle 2: gate-failed/);
    expect(r.code).toBe(4);
    // The fix really did edit the config, and the loop used the edited config for cycle 2.
    expect(await readFile(join(dir, 'loop.config.yaml'), 'utf8')).not.toContain('name: agent');
    const rec2 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-002.json'), 'utf8'));
    expect(rec2.smoke.results.map((x: { name: string }) => x.name)).toEqual(['health']);
    expect(rec2.suite).toMatchObject({ blocked: true, comparedWithCycle: 1, changes: [{ kind: 'check-removed', subject: 'agent' }] });
    expect(rec2.gate.passed).toBe(false);
    expect(rec2.traffic.action).not.toBe('promoted');
    const md2 = await readFile(join(dir, 'reports', 'cycle-002.md'), 'utf8');
    expect(md2.split('\n## ')[1]).toMatch(/^Suite changed since cycle 1\n\n- \*\*weakened\*\*: check "agent" \(P0\) was removed/);

    // The trend across both cycles: the removed check is still failing there, never fixed.
    const trend = await readFile(join(dir, 'reports', 'summary.md'), 'utf8');
    expect(trend).toContain('# tiny — trend over 2 cycles');
    expect(trend).toMatch(/\| `agent` \| P0 \| 1 \| 1 \(1\) \| — \| — \| — \| still failing \|/);
    await rm(join(dir, 'reports', 'summary.md'));
    expect((await runCli(['report'], { cwd: dir })).code).toBe(0);
    expect(await readFile(join(dir, 'reports', 'summary.md'), 'utf8')).toBe(trend);

    const accepted = await runCli(['accept-suite'], { cwd: dir });
    expect(accepted.code).toBe(0);
    expect(accepted.stdout).toMatch(/accepted suite [0-9a-f]{12} \(1 checks\)/);
    const file = JSON.parse(await readFile(join(dir, 'reports', 'history', 'accepted-suite.json'), 'utf8'));
    expect(file.sha256).toBe(rec2.suite.fingerprint.sha256);

    const after = await runCli(['cycle'], { cwd: dir });
    expect(after.stdout).toMatch(/cycle 3: passed/);
    expect(after.code).toBe(0);
  });

  it('the fix step cannot accept its own weakened suite', async () => {
    const dir = await project(SELF_ACCEPTING_FIX);
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).toBe(4);
    const rec2 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-002.json'), 'utf8'));
    expect(rec2.fix.outputTail.join('\n')).toMatch(/accept-suite exit 2 .*cannot run inside the loop's fix step/);
    expect(rec2.suite).toMatchObject({ blocked: true, accepted: false });
  });

  it('a fix that makes the config invalid stops the run with a config error (exit 2)', async () => {
    const dir = await project(BREAKING_FIX);
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('gate.P0');
    expect(r.stderr).toContain('the config became invalid after cycle 1');
  });
});
