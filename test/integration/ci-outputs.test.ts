import { access, readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject, type Mode } from '../helpers/tiny-service.js';
import { schemaValidator } from '../helpers/json-schema.js';
import { OUTCOME_SCHEMA_FILE } from '../../src/report/json-schema.js';
import { type RunOutcomeJson } from '../../src/model/run-outcome.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

async function project(mode: Mode): Promise<string> {
  const dir = await scratchDir('ci-outputs');
  dirs.push(dir);
  await writeTinyProject(dir, mode, tinyConfig({ maxCycles: 1 }));
  return dir;
}

/** The config line of a check, as a person would find it. */
async function lineOf(dir: string, check: string): Promise<number> {
  const lines = (await readFile(join(dir, 'loop.config.yaml'), 'utf8')).split('\n');
  return lines.findIndex((l) => l.includes(`- name: ${check}`)) + 1;
}

describe('CI outputs', () => {
  it('--json writes the outcome with the last report, valid against its schema; --junit a copy of the JUnit report', async () => {
    const dir = await project('ws1011');
    const r = await runCli(['cycle', '--json', 'out/outcome.json', '--junit', 'out/junit.xml'], { cwd: dir });
    expect(r.code).toBe(1);
    const outcome = JSON.parse(await readFile(join(dir, 'out', 'outcome.json'), 'utf8')) as RunOutcomeJson;
    expect(schemaValidator(OUTCOME_SCHEMA_FILE)(outcome)).toEqual([]);
    expect(outcome.status).toBe('cycle-finished');
    expect(outcome.cycles.map((c) => [c.cycle, c.verdict, c.gate.passed])).toEqual([[1, 'gate-failed', false]]);
    // Paths relative to the working directory, the form a later CI step (same folder) reads.
    expect(outcome.reportsDir).toBe('reports');
    expect(outcome.cycles[0]?.reports).toEqual({
      markdown: 'reports/cycle-001.md',
      json: 'reports/cycle-001.json',
      junit: 'reports/cycle-001.junit.xml',
      record: 'reports/history/cycle-001.json',
      summary: 'reports/summary.md',
    });
    // The embedded report is the report file, field for field.
    expect(outcome.lastReport).toEqual(JSON.parse(await readFile(join(dir, 'reports', 'cycle-001.json'), 'utf8')));
    expect(outcome.lastReport?.issues[0]).toMatchObject({ check: 'agent', class: 'ws-1011-internal-error' });
    expect(await readFile(join(dir, 'out', 'junit.xml'), 'utf8')).toBe(await readFile(join(dir, 'reports', 'cycle-001.junit.xml'), 'utf8'));
  });

  it('--json from outside the project: every path relative to where deploy-loop ran, each one there, none absolute', async () => {
    // The project in a subfolder, run from its parent with -c (not the demo's layout).
    const parent = await scratchDir('ci-outputs-parent');
    dirs.push(parent);
    await writeTinyProject(join(parent, 'svc'), 'ws1011', tinyConfig({ maxCycles: 1 }));
    const r = await runCli(['cycle', '-c', 'svc/loop.config.yaml', '--json', 'out/outcome.json'], { cwd: parent });
    expect(r.code, r.stderr).toBe(1);
    const text = await readFile(join(parent, 'out', 'outcome.json'), 'utf8');
    const outcome = JSON.parse(text) as RunOutcomeJson;
    expect(schemaValidator(OUTCOME_SCHEMA_FILE)(outcome)).toEqual([]);
    expect(outcome.reportsDir).toBe('svc/reports');
    const reports = outcome.cycles[0]!.reports;
    expect(reports.json).toBe('svc/reports/cycle-001.json');
    for (const path of Object.values(reports)) {
      expect(isAbsolute(path), path).toBe(false);
      await expect(access(join(parent, path)), path).resolves.toBeUndefined();
    }
    expect(text).not.toContain(parent);
  });

  it('cycle appends a step summary and prints an annotation for the failing P0 check', async () => {
    const dir = await project('ws1011');
    const summary = join(dir, 'step-summary.md');
    await writeFile(summary, '# earlier step\n\n');
    const r = await runCli(['cycle'], { cwd: dir, env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary } });
    expect(r.code).toBe(1);

    const errors = r.stdout.split('\n').filter((l) => l.startsWith('::error '));
    expect(errors).toHaveLength(1);
    const m = /^::error file=([^,]+),line=(\d+),title=([^:]+)::(.*)$/.exec(errors[0]!);
    expect(m, errors[0]).not.toBeNull();
    expect(m![1]).toBe('loop.config.yaml');
    expect(Number(m![2])).toBe(await lineOf(dir, 'agent'));
    expect(decodeURIComponent(m![3]!)).toBe('[P0] agent: ws-1011-internal-error');
    expect(m![4]).toMatch(/^cycle 1: .*1011/);

    const text = await readFile(summary, 'utf8');
    expect(text.startsWith('# earlier step\n\n')).toBe(true);
    expect(text).toContain('# tiny — cycle 1');
    expect(text).toContain('**Verdict: gate failed**');
    expect(text).toContain('## Gate');
    // Issues are grouped by root cause: the group heading names the class and cause, then the check.
    expect(text).toMatch(/## Remaining issues\n\n### 1\. \[P0\] ws-1011-internal-error: close 1011 "pipeline error" — agent\n\n#### \[P0\] agent/);
  });

  it('run writes the run status into the step summary; a passing cycle annotates nothing', async () => {
    const dir = await project('ok');
    const summary = join(dir, 'step-summary.md');
    const r = await runCli(['run'], { cwd: dir, env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary } });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('::error');
    const text = await readFile(summary, 'utf8');
    expect(text).toMatch(/^\*\*deploy-loop run: passed\*\* after 1 cycle\(s\)\./);
    expect(text).toContain('**Verdict: gate passed**');
    expect(text).toContain('No remaining failures.');
  });

  it('outside GitHub Actions nothing CI-specific is written', async () => {
    const dir = await project('ws1011');
    const r = await runCli(['cycle'], { cwd: dir, env: { GITHUB_ACTIONS: '', GITHUB_STEP_SUMMARY: '' } });
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('::error');
  });
});
