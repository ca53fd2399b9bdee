/**
 * The spine through the real CLI, on a service the demo is not (Python's http.server, configs as
 * typed data): a provider error is a record and a report, never a crash; a fix that edits the
 * config is applied to the next cycle, or refused by name when it cannot apply within a run.
 */
import { createServer, type Server } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { PYTHON_SERVICE, pythonConfig, writeConfig } from '../helpers/config-fixture.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeDir(d);
});

async function project(prefix: string): Promise<string> {
  const dir = await scratchDir(prefix);
  dirs.push(dir);
  await writeFiles(dir, { 'svc/server.py': PYTHON_SERVICE });
  return dir;
}

function listen(): Promise<{ server: Server; port: number }> {
  return new Promise((res, rej) => {
    const server = createServer(() => undefined);
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (addr && typeof addr === 'object') res({ server, port: addr.port });
    });
  });
}

/** A fix command that edits the config: `node fix.mjs` sets one field with the yaml package. */
function configEditingFix(edit: string): string {
  return `import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
const c = parse(readFileSync('loop.config.yaml', 'utf8'));
${edit}
writeFileSync('loop.config.yaml', stringify(c));
`;
}

const json = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

describe('every failure is a record', () => {
  it('a service port already taken: exit 3, the error verdict with a P0 result naming the step, reports written, no journal left', async () => {
    const dir = await project('spine-port');
    const { server, port } = await listen();
    try {
      await writeConfig(dir, pythonConfig({ port }));
      const r = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
      expect(r.code, r.stderr).toBe(3);
      expect(r.stderr).not.toContain('internal error');
      const history = join(dir, 'reports', 'history');
      expect((await readdir(history)).filter((n) => n.includes('started'))).toEqual([]);
      const rec = await json(join(history, 'cycle-001.json'));
      expect(rec.verdict).toBe('error');
      expect(rec.steps.map((s: { name: string; status: string }) => `${s.name}:${s.status}`)).toEqual(['read-traffic:done', 'build:done', 'deploy:error']);
      const deployResult = rec.smoke.results.find((x: { name: string }) => x.name === 'deploy');
      expect(deployResult).toMatchObject({ priority: 'P0', status: 'error', failure: { class: 'deploy-failure' } });
      expect(deployResult.failure.message).toContain(String(port));
      expect(rec.gate.reasons[0]).toMatch(/^the deploy step failed with an error: deploying the candidate revision: .*; the smoke suite did not run$/);
      expect(rec.gate.reasons.join('\n')).not.toMatch(/no P\d check ran/);
      const md = await readFile(join(dir, 'reports', 'cycle-001.md'), 'utf8');
      expect(md).toContain(String(port));
    } finally {
      server.close();
    }
    // The next run finds nothing unfinished: the failed cycle was recorded, not "killed".
    const again = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
    expect(again.stdout + again.stderr).not.toMatch(/did not finish|was killed/);
    expect((await json(join(dir, 'reports', 'history', 'cycle-002.json'))).cycle).toBe(2);
  }, 60_000);
});

describe('a fix that edits the config', () => {
  it('is applied to the next cycle: a target.env fault cleared by the fix makes cycle 2 pass, and the flip is not called flaky', async () => {
    const dir = await project('spine-env');
    await writeFiles(dir, { 'fix.mjs': configEditingFix("c.target.env.FAULT = '0';") });
    await writeConfig(dir, pythonConfig({ env: { FAULT: '1' }, maxCycles: 3, fix: [process.execPath, 'fix.mjs'] }));
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cycle 1: gate-failed[\s\S]*cycle 2: passed/);
    const report = await json(join(dir, 'reports', 'cycle-002.json'));
    expect(report.comparison.changedInputs).toEqual(['target.env.FAULT']);
    expect(report.comparison.newlyPassing.map((c: { name: string }) => c.name)).toEqual(['health']);
    expect(report.comparison.flaky).toEqual([]);
    // The code did not change: the same build digest, other deploy inputs.
    expect(report.record.build.digest).toBe((await json(join(dir, 'reports', 'history', 'cycle-001.json'))).build.digest);
    expect(JSON.stringify(report)).not.toContain('FAULT=1');
  }, 90_000);

  it('is refused by name when it cannot apply within a run (target.port), exit 2, the cycle already recorded', async () => {
    const dir = await project('spine-port-edit');
    await writeFiles(dir, { 'fix.mjs': configEditingFix('c.target.port = 1;') });
    await writeConfig(dir, pythonConfig({ env: { FAULT: '1' }, maxCycles: 3, fix: [process.execPath, 'fix.mjs'] }));
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/loop\.config\.yaml.*target\.port: changed after cycle 1, but it cannot change within a run/);
    expect(r.stderr).toContain('restart the run to apply it');
    expect(await readdir(join(dir, 'reports', 'history'))).toEqual(['cycle-001.json']);
  }, 90_000);
});
