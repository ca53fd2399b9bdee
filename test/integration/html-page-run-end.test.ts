/**
 * reports/index.html is written once, when a run ends, not after every cycle: whichever way the run
 * ends (a bound, a failed fix step, SIGINT during the fix step), the page exists afterwards and holds
 * the run's last cycle. Through the real CLI, with the Python service of config-fixture.ts in its
 * own folder and a Python fix command (not the demo's layout or stack).
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { cliCleanup, runCli, scratchDir, startCli, writeFiles } from '../helpers/cli.js';
import { PYTHON_SERVICE, pythonConfig, writeConfig, type ConfigInput } from '../helpers/config-fixture.js';

const { dirs, running } = cliCleanup();

/** The Python service failing its P0 check every cycle, and a fix command of its own. */
async function project(fix: string[], over: (c: ConfigInput) => ConfigInput = (c) => c): Promise<string> {
  const dir = await scratchDir('html-run-end');
  dirs.push(dir);
  await writeFiles(dir, { 'svc/server.py': PYTHON_SERVICE });
  await writeConfig(dir, over(pythonConfig({ env: { FAULT: '1' }, maxCycles: 2, fix })));
  return dir;
}

interface PageData {
  verdict: { cycle: number; text: string; detail?: string };
  cycles: { cycle: number; verdict: string }[];
}

/** The summary the page embeds for its charts and cycle table. */
async function pageData(dir: string): Promise<PageData> {
  const html = await readFile(join(dir, 'reports', 'index.html'), 'utf8');
  const m = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html);
  expect(m, 'the page embeds its data').not.toBeNull();
  return JSON.parse(m![1]!) as PageData;
}

const exists = (file: string) => access(file).then(() => true, () => false);

describe('reports/index.html when a run ends', () => {
  it('a run stopped by loop.maxCycles: the page holds both cycles, the last as the verdict', async () => {
    const dir = await project(['/usr/bin/python3', '-c', 'pass']);
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code, r.stderr).not.toBe(0);
    const data = await pageData(dir);
    expect(data.cycles.map((c) => c.cycle)).toEqual([1, 2]);
    expect(data.verdict.cycle).toBe(2);
    expect(data.verdict.detail).toBe('cycle limit reached: 2 (loop.maxCycles or --max-cycles)');
    const rec = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-002.json'), 'utf8')) as { runStatus: string };
    expect(rec.runStatus).toBe('max-cycles');
  }, 60_000);

  it('a run ended by a failed fix step (loop.onFixFailure: stop): the page holds cycle 1 and says how the run ended', async () => {
    const dir = await project(['/usr/bin/python3', '-c', 'import sys; sys.exit(3)'], (c) => ({ ...c, loop: { ...c.loop, onFixFailure: 'stop' } }));
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code, r.stderr).not.toBe(0);
    const data = await pageData(dir);
    expect(data.cycles.map((c) => c.cycle)).toEqual([1]);
    expect(data.verdict.cycle).toBe(1);
    expect(data.verdict.detail).toBe('the fix command exited 3 after cycle 1 (loop.onFixFailure: stop)');
  }, 60_000);

  it('SIGINT during the fix step after cycle 1: exit 130, and the page holds cycle 1', async () => {
    const hang = 'import os, time\nopen(os.environ["PID_FILE"], "w").write(str(os.getpid()))\ntime.sleep(60)\n';
    const dir = await project(['/usr/bin/python3', '-c', hang]);
    const pidFile = join(dir, 'fix.pid');
    const cli = startCli(['run'], { cwd: dir, env: { PID_FILE: pidFile } });
    running.push(cli);
    for (let i = 0; i < 600 && !(await exists(pidFile)) && cli.child.exitCode === null; i++) await sleep(50);
    expect(await exists(pidFile), 'the fix command started').toBe(true);
    // Nothing is written per cycle any more: before the signal, no page.
    expect(await exists(join(dir, 'reports', 'index.html'))).toBe(false);
    cli.child.kill('SIGINT');
    const r = await cli.done;
    expect(r.code, r.stderr).toBe(130);
    const data = await pageData(dir);
    expect(data.cycles.map((c) => c.cycle)).toEqual([1]);
    expect(data.verdict.detail).toBe('interrupted during the fix step after cycle 1');
  }, 60_000);
});
