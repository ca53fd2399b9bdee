import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, removeDir, runCli, scratchDir, startCli } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';
import { patchText } from '../helpers/config-fixture.js';
import { schemaValidator } from '../helpers/json-schema.js';
import { ISSUES_SCHEMA_FILE, OUTCOME_SCHEMA_FILE, RECORD_SCHEMA_FILE, REPORT_SCHEMA_FILE } from '../../src/report/json-schema.js';

const dirs: string[] = [];
async function project(mode: Parameters<typeof writeTinyProject>[1], config: string): Promise<string> {
  const dir = await scratchDir('loop-cli');
  dirs.push(dir);
  await writeTinyProject(dir, mode, config);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

describe('deploy-loop run', () => {
  it('fails on a 1011 P0, runs the fix, passes the next cycle and exits 0', async () => {
    const dir = await project('ws1011', tinyConfig({ fix: true }));
    const r = await runCli(['run'], { cwd: dir });
    expect(r.stderr).not.toContain('internal error');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/cycle 1: gate-failed/);
    expect(r.stdout).toMatch(/cycle 2: passed/);
    const md1 = await readFile(join(dir, 'reports', 'cycle-001.md'), 'utf8');
    expect(md1).toContain('1011');
    expect(md1).toContain('ws-1011-internal-error');
    const rec2 = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-002.json'), 'utf8'));
    expect(rec2.verdict).toBe('passed');
    expect(rec2.fix.exitCode).toBe(0);
    expect(rec2.fix.afterCycle).toBe(1);
    expect(rec2.fix.outputTail.join('\n')).toContain('fixed mode after cycle 1');
    expect(rec2.traffic.action).toBe('promoted');
    expect(rec2.traffic.after).toEqual([{ revision: rec2.deploy.revision, percent: 100 }]);
    const issues = JSON.parse(await readFile(join(dir, 'reports', 'issues-001.json'), 'utf8'));
    expect(issues.issues[0]).toMatchObject({ priority: 'P0', class: 'ws-1011-internal-error' });
    // Additive: the same issues grouped by root cause, and the flaky P0 checks (none here).
    expect(issues.groups[0]).toMatchObject({ rank: 1, priority: 'P0', class: 'ws-1011-internal-error' });
    expect(issues.groups.flatMap((g: { checks: { check: string }[] }) => g.checks.map((c) => c.check)).sort()).toEqual(
      issues.issues.map((i: { check: string }) => i.check).sort(),
    );
    expect(issues.flaky).toEqual([]);
    // What the run wrote reads back against the published schemas.
    expect(schemaValidator(ISSUES_SCHEMA_FILE)(issues)).toEqual([]);
    const validReport = schemaValidator(REPORT_SCHEMA_FILE);
    const validRecord = schemaValidator(RECORD_SCHEMA_FILE);
    for (const n of ['cycle-001', 'cycle-002', 'latest']) {
      expect(validReport(JSON.parse(await readFile(join(dir, 'reports', `${n}.json`), 'utf8'))), `${n}.json`).toEqual([]);
    }
    for (const n of ['cycle-001', 'cycle-002']) {
      expect(validRecord(JSON.parse(await readFile(join(dir, 'reports', 'history', `${n}.json`), 'utf8'))), `history/${n}.json`).toEqual([]);
    }
  });

  it('exits 4 when the cycle limit is reached without passing, and keeps counting cycles across runs', async () => {
    const dir = await project('ws1011', tinyConfig({ maxCycles: 2 }));
    const r = await runCli(['run'], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/cycle 2: gate-failed/);
    const again = await runCli(['run', '--max-cycles', '1'], { cwd: dir });
    expect(again.code).toBe(4);
    expect(again.stdout).toMatch(/cycle 3: gate-failed/);
    const names = await readdir(join(dir, 'reports', 'history'));
    expect(names.sort()).toEqual(['cycle-001.json', 'cycle-002.json', 'cycle-003.json']);
  });
});

describe('deploy-loop cycle', () => {
  it('exits 0 when the gate passes', async () => {
    const dir = await project('ok', tinyConfig());
    const r = await runCli(['cycle'], { cwd: dir });
    expect(r.code).toBe(0);
  });

  it('exits 1 when the gate fails', async () => {
    const dir = await project('ws1011', tinyConfig({ fix: true }));
    const r = await runCli(['cycle'], { cwd: dir });
    expect(r.code).toBe(1);
    // `cycle` never runs the fix command.
    expect(await readFile(join(dir, 'app', 'mode.txt'), 'utf8')).toBe('ws1011');
  });

  it('exits 3 and reports a P0 deploy failure with the exit code and log tail when the revision crashes at start', async () => {
    const dir = await project('crash', tinyConfig());
    const r = await runCli(['cycle'], { cwd: dir });
    expect(r.code).toBe(3);
    const rec = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8'));
    expect(rec.verdict).toBe('deploy-failed');
    expect(rec.deploy.exitCode).toBe(3);
    expect(rec.deploy.logTail.join('\n')).toContain('boom: config file unreadable');
    expect(rec.smoke.results[0]).toMatchObject({ name: 'deploy', priority: 'P0', status: 'fail', failure: { class: 'deploy-failure' } });
    const md = await readFile(join(dir, 'reports', 'cycle-001.md'), 'utf8');
    expect(md).toContain('boom: config file unreadable');
  });

  it('exits 3 when the build command fails, with its output in the report', async () => {
    const dir = await project('ok', tinyConfig({ buildCommand: [process.execPath, '-e', "console.error('tsc: error TS2322'); process.exit(2)"] }));
    const r = await runCli(['cycle'], { cwd: dir });
    expect(r.code).toBe(3);
    const rec = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8'));
    expect(rec.verdict).toBe('build-failed');
    expect(rec.build.exitCode).toBe(2);
    expect(rec.build.outputTail.join('\n')).toContain('error TS2322');
  });

  it('exits 130 on SIGINT during the smoke stage and records the cycle as interrupted', async () => {
    const dir = await project('ok', tinyConfig({ slowCheck: true }));
    const { child, done } = startCli(['cycle', '--log-format', 'json'], { cwd: dir });
    await new Promise<void>((res, rej) => {
      let buf = '';
      child.stderr?.on('data', (d: Buffer) => {
        buf += d.toString();
        if (buf.includes('candidate ready')) setTimeout(() => res(), 300);
      });
      child.on('close', () => rej(new Error(`exited before the smoke stage: ${buf}`)));
    });
    const started = Date.now();
    child.kill('SIGINT');
    const r = await done;
    expect(r.code).toBe(130);
    // The 5 s request is aborted, not waited for.
    expect(Date.now() - started).toBeLessThan(4500);
    const rec = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8'));
    expect(rec.verdict).toBe('interrupted');
    expect(rec.traffic.after).toEqual([]);
  });
});

describe('usage and configuration errors', () => {
  it('exits 2 naming file, line and field for an invalid config', async () => {
    const dir = await project('ok', patchText(tinyConfig(), 'priority: P0', 'priority: P7'));
    const r = await runCli(['validate'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/loop\.config\.yaml:\d+:\d+: smoke\.checks\[0\]\.priority/);
  });

  it('exits 2 for a missing config file, an unknown command and a bad flag value', async () => {
    const dir = await project('ok', tinyConfig());
    expect((await runCli(['validate', '-c', 'nope.yaml'], { cwd: dir })).code).toBe(2);
    expect((await runCli(['deploy'], { cwd: dir })).code).toBe(2);
    expect((await runCli(['run', '--max-cycles', 'x'], { cwd: dir })).code).toBe(2);
    expect((await runCli(['run', '--bogus'], { cwd: dir })).code).toBe(2);
  });

  it('validate summarises a valid config, --help exits 0', async () => {
    const dir = await project('ok', tinyConfig());
    const v = await runCli(['validate'], { cwd: dir });
    expect(v.code).toBe(0);
    expect(v.stdout).toContain('2 checks (P0: 2)');
    const h = await runCli(['--help'], { cwd: dir });
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Exit codes');
  });

  it('schema prints the committed config, report and record schemas, and names the choices for an unknown one', async () => {
    const dir = await project('ok', tinyConfig());
    const files = { config: 'schema/loop.config.schema.json', report: REPORT_SCHEMA_FILE, record: RECORD_SCHEMA_FILE, issues: ISSUES_SCHEMA_FILE, outcome: OUTCOME_SCHEMA_FILE };
    for (const [which, file] of Object.entries(files)) {
      const r = await runCli(['schema', which], { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toBe(await readFile(join(ROOT, file), 'utf8'));
    }
    expect((await runCli(['schema'], { cwd: dir })).stdout).toBe(await readFile(join(ROOT, files.config), 'utf8'));
    const bad = await runCli(['schema', 'reports'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unknown schema "reports"');
    expect(bad.stderr).toContain('deploy-loop schema config | report | record | issues | outcome');
    const extra = await runCli(['validate', 'extra'], { cwd: dir });
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain('unexpected argument "extra"');
  });

  it('report re-renders the markdown of a recorded cycle from history', async () => {
    const dir = await project('ws1011', tinyConfig());
    await runCli(['cycle'], { cwd: dir });
    const md = await readFile(join(dir, 'reports', 'cycle-001.md'), 'utf8');
    await writeFile(join(dir, 'reports', 'cycle-001.md'), 'stale');
    const r = await runCli(['report', '--cycle', '1'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(md);
    const all = await runCli(['report'], { cwd: dir });
    expect(all.code).toBe(0);
    expect(await readFile(join(dir, 'reports', 'cycle-001.md'), 'utf8')).toBe(md);
  });

  it('report keeps fields it does not know in the records it rewrites, and names a record it cannot read', async () => {
    const dir = await project('ws1011', tinyConfig());
    await runCli(['cycle'], { cwd: dir });
    const historyFile = (n: number) => join(dir, 'reports', 'history', `cycle-00${n}.json`);
    // A field from a newer deploy-loop, and a cycle 2 whose verdict is not one this version knows.
    const rec = JSON.parse(await readFile(historyFile(1), 'utf8'));
    await writeFile(historyFile(1), JSON.stringify({ ...rec, fromTheFuture: { kept: true } }));
    const spoiled = JSON.stringify({ ...rec, cycle: 2, verdict: 'great' });
    await writeFile(historyFile(2), spoiled);

    const all = await runCli(['report'], { cwd: dir });
    expect(all.code).toBe(0);
    expect(all.stderr).toContain(`warning: ${historyFile(2)}: not a valid cycle record (schema/cycle-record.schema.json): verdict: Invalid option`);
    expect(JSON.parse(await readFile(historyFile(1), 'utf8')).fromTheFuture).toEqual({ kept: true });
    expect(await readFile(historyFile(2), 'utf8')).toBe(spoiled);

    const one = await runCli(['report', '--cycle', '2'], { cwd: dir });
    expect(one.code).toBe(2);
    expect(one.stderr).toContain(`cycle 2's record cannot be rendered: ${historyFile(2)}: not a valid cycle record`);
    expect(one.stderr).toContain('hint: fix or restore that file; nothing was written');
  });
});
