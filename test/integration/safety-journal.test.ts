/**
 * kill -9 in the middle of a cycle: the journal entry written before the cycle survives, the next run
 * records the cycle as interrupted (naming the killed pid), numbers its own cycles after it, and every
 * history file parses.
 */
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir, startCli } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';

const dirs: string[] = [];

/** Revisions the killed CLI started are orphans: end them by pid, found by their folder. */
async function killOrphans(dir: string): Promise<void> {
  for (const pid of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (cwd.startsWith(dir)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

afterEach(async () => {
  for (const d of dirs) await killOrphans(d);
  await Promise.all(dirs.splice(0).map(removeDir));
});

async function waitFor(cond: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('condition not met in time');
}

describe('crash mid-cycle', () => {
  it('the next run reports the unfinished cycle, carries on after it, and history stays whole', async () => {
    const dir = await scratchDir('safety-journal');
    dirs.push(dir);
    await writeTinyProject(dir, 'ok', tinyConfig({ slowCheck: true, maxCycles: 1 }));
    const history = join(dir, 'reports', 'history');
    const { child, done } = startCli(['run', '--log-format', 'json'], { cwd: dir });
    await waitFor(async () => (await readdir(history).catch(() => [] as string[])).includes('cycle-001.started.json'), 30_000);
    // Build and start take well under this; the slow check then keeps the cycle open for 5 s more.
    await new Promise((r) => setTimeout(r, 2000));
    const killedPid = child.pid;
    child.kill('SIGKILL');
    const killed = await done;
    expect(killed.signal).toBe('SIGKILL');
    expect(await readdir(history)).toContain('cycle-001.started.json');
    expect(await readdir(history)).not.toContain('cycle-001.json');
    await killOrphans(dir);

    await writeFile(join(dir, 'loop.config.yaml'), tinyConfig({ maxCycles: 1 }));
    const again = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(again.code).toBe(0);
    expect(again.stdout + again.stderr).toMatch(new RegExp(`cycle 1 did not finish: the run was killed \\(pid ${killedPid}\\) during this cycle`));
    const names = (await readdir(history)).sort();
    expect(names).toEqual(['cycle-001.json', 'cycle-002.json']);
    const [first, second] = await Promise.all(names.map(async (n) => JSON.parse(await readFile(join(history, n), 'utf8'))));
    // The journal kept each finished step: the recovered record says what was known, and no more.
    expect(first).toMatchObject({
      cycle: 1,
      verdict: 'interrupted',
      runStatusDetail: `the run was killed (pid ${killedPid}) during this cycle, after the deploy step (finished: read-traffic, build, deploy)`,
      build: { status: 'ok' },
      deploy: { status: 'ok', revision: expect.stringMatching(/-00001-/) },
    });
    expect(first.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual(['read-traffic:done', 'build:done', 'deploy:done']);
    expect(first.smoke.results).toEqual([]);
    // Revision names go on from the history across runs, as Cloud Run's do.
    expect(second).toMatchObject({ cycle: 2, verdict: 'passed', deploy: { revision: expect.stringMatching(/^tiny-00002-[a-z]{3}$/) } });
  }, 90_000);
});
