/**
 * What changed between cycles, through the real CLI, on a service built unlike the demo: a Python
 * http.server at the root of its own context (`svc/`), changed by a fix command between cycles.
 */
import { execFileSync } from 'node:child_process';
import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { PYTHON_SERVICE, pythonConfig, pythonJsonService, writeConfig, type ConfigInput } from '../helpers/config-fixture.js';
import { readFences, section } from '../unit/report-markdown-reader.js';
import { schemaValidator } from '../helpers/json-schema.js';
import { ISSUES_SCHEMA_FILE, RECORD_SCHEMA_FILE, REPORT_SCHEMA_FILE } from '../../src/report/json-schema.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeDir(d);
});

/** /healthz and /ready answer 200 or 500 as two constants in the source say (lines 2 and 3); the fix flips them. */
const SERVER = pythonJsonService('HEALTH_OK = True\nREADY_OK = False', 'HEALTH_OK if self.path == "/healthz" else READY_OK if self.path == "/ready" else True');

/** A fix command that, after cycle 1 only, rewrites svc/server.py (and optionally adds and removes files). */
function sourceFix(edits: Record<string, string>, extra = ''): string {
  return `import { readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
if (process.env.DEPLOY_LOOP_CYCLE !== '1') process.exit(0);
let text = readFileSync('svc/server.py', 'utf8');
for (const [from, to] of Object.entries(${JSON.stringify(edits)})) text = text.replace(from, to);
// Written beside and renamed, as an editor or agent would: the new file gets the default mode.
writeFileSync('svc/server.py.tmp', text);
renameSync('svc/server.py.tmp', 'svc/server.py');
${extra}
`;
}

function config(over: { onRegression?: 'continue' | 'stop' | 'revert'; maxCycles: number; env?: Record<string, string> }): ConfigInput {
  const base = pythonConfig({ maxCycles: over.maxCycles, fix: [process.execPath, 'fix.mjs'], ...(over.env ? { env: over.env } : {}) });
  return {
    ...base,
    smoke: {
      ...base.smoke,
      checks: [
        { name: 'health', kind: 'http', priority: 'P0', path: '/healthz', expect: { status: 200 } },
        { name: 'ready', kind: 'http', priority: 'P0', path: '/ready', expect: { status: 200 } },
      ],
    },
    loop: { ...base.loop, ...(over.onRegression ? { onRegression: over.onRegression } : {}) },
  };
}

async function project(prefix: string, fix: string, files: Record<string, string> = {}): Promise<string> {
  const dir = await scratchDir(prefix);
  dirs.push(dir);
  await writeFiles(dir, { 'svc/server.py': SERVER, 'fix.mjs': fix, ...files });
  return dir;
}

const json = async (file: string) => JSON.parse(await readFile(file, 'utf8'));
const text = (dir: string, name: string) => readFile(join(dir, 'reports', name), 'utf8');

describe('changes since the previous cycle, through the CLI', () => {
  it('a fix that changes one file and fixes one check: the file, +1 −1, the diff and the attribution sentence', async () => {
    // The context is a git work tree of its own; the fix commits its edit.
    const commit = "import { execFileSync } from 'node:child_process';\nexecFileSync('git', ['-C', 'svc', '-c', 'user.name=fix', '-c', 'user.email=fix@example.invalid', 'commit', '-qam', 'ready: answer 200']);";
    const dir = await project('changes-one', sourceFix({ 'READY_OK = False': 'READY_OK = True' }, commit));
    const git = (...args: string[]) => execFileSync('git', ['-C', join(dir, 'svc'), '-c', 'user.name=t', '-c', 'user.email=t@example.invalid', ...args], { encoding: 'utf8' }).trim();
    git('init', '-q');
    git('add', '.');
    git('commit', '-qm', 'first');
    const first = git('rev-parse', 'HEAD');
    await writeConfig(dir, config({ maxCycles: 3 }));
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const md = await text(dir, 'cycle-002.md');
    const changes = section(md, '## Changes since cycle 1');
    expect(changes).toContain('Between cycle 1 and cycle 2 the only change was `server.py` (+1 −1); these checks flipped: ready (fail → pass).');
    expect(changes).toContain('- `server.py` (+1 −1)');
    const diff = readFences(changes).blocks.find((b) => b.info === 'diff')?.content ?? '';
    expect(diff.split('\n')).toEqual(expect.arrayContaining(['--- a/server.py', '+++ b/server.py', '-READY_OK = False', '+READY_OK = True']));
    expect(diff.split('\n').filter((l) => /^[-+](?![-+])/.test(l))).toEqual(['-READY_OK = False', '+READY_OK = True']);
    const report = await json(join(dir, 'reports', 'cycle-002.json'));
    expect(report.record.changes).toMatchObject({ sinceCycle: 1, files: [{ path: 'server.py', status: 'modified', added: 1, removed: 1 }], inputs: [], suite: [] });
    expect(report.attribution).toMatchObject({ flipped: [{ check: 'ready', before: 'fail', after: 'pass' }], regressions: [], flaky: [] });
    const head = git('rev-parse', 'HEAD');
    expect(report.record.changes.commits).toEqual({ from: first, to: head, subjects: [`${head.slice(0, 7)} ready: answer 200`] });
    expect(changes).toContain(`Commits \`${first.slice(0, 12)}..${head.slice(0, 12)}\`:\n\n- ${head.slice(0, 7)} ready: answer 200`);
    expect(await text(dir, 'summary.md')).toMatch(/\| 2 \| .*\| server\.py \+1 −1 \|/);
    // No absolute path of this machine in what was written.
    expect(md + JSON.stringify(report)).not.toContain(dir);
  }, 120_000);

  it('a fix that changes only env: the input named, no file changes, no diff', async () => {
    const dir = await scratchDir('changes-env');
    dirs.push(dir);
    const fix = `import { readFileSync, writeFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';
const c = parse(readFileSync('loop.config.yaml', 'utf8'));
c.target.env.FAULT = '0';
writeFileSync('loop.config.yaml', stringify(c));
`;
    await writeFiles(dir, { 'svc/server.py': PYTHON_SERVICE, 'fix.mjs': fix });
    await writeConfig(dir, pythonConfig({ env: { FAULT: '1' }, maxCycles: 3, fix: [process.execPath, 'fix.mjs'] }));
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const report = await json(join(dir, 'reports', 'cycle-002.json'));
    expect(report.record.changes).toMatchObject({ files: [], diff: '', inputs: ['target.env.FAULT'], suite: [] });
    expect(report.attribution.text).toBe('Between cycle 1 and cycle 2 the only change was the deploy input `target.env.FAULT`; these checks flipped: health (fail → pass).');
    const changes = section(await text(dir, 'cycle-002.md'), '## Changes since cycle 1');
    expect(changes).toContain('- Deploy input `target.env.FAULT` changed (values are never recorded)');
    expect(readFences(changes).blocks).toEqual([]);
    expect(JSON.stringify(report)).not.toContain('FAULT=1');
  }, 120_000);

  it('a fix that breaks a passing check, onRegression: stop: the regression named at the top, run status regression, exit 5', async () => {
    const dir = await project('changes-stop', sourceFix({ 'READY_OK = False': 'READY_OK = True', 'HEALTH_OK = True': 'HEALTH_OK = False' }));
    await writeConfig(dir, config({ maxCycles: 3, onRegression: 'stop' }));
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(5);
    expect(r.stdout).toContain('run: regression after 2 cycle(s)');
    const md = await text(dir, 'cycle-002.md');
    const top = md.slice(0, md.indexOf('\n## '));
    expect(top).toContain('**Run ended: regression**');
    expect(top).toContain('**Regression:** the change between cycle 1 and cycle 2 (`server.py` (+2 −2)) broke a passing check: health (pass → fail).');
    const report = await json(join(dir, 'reports', 'cycle-002.json'));
    expect(report.runStatus).toBe('regression');
    expect(report.attribution.regressions).toEqual([{ check: 'health', priority: 'P0', before: 'pass', after: 'fail' }]);
    expect(report.attribution.flipped.map((f: { check: string }) => f.check)).toEqual(['ready', 'health']);
    // The run stopped: no third cycle, and the fix did not run after cycle 2.
    await expect(stat(join(dir, 'reports', 'history', 'cycle-003.json'))).rejects.toThrow();
  }, 120_000);

  it('onRegression: revert restores exactly the files the fix changed (content and mode), deletes what it added, and the loop goes on', async () => {
    const extra = "writeFileSync('svc/added.txt', 'new\\n'); rmSync('svc/extra.txt');";
    const dir = await project('changes-revert', sourceFix({ 'READY_OK = False': 'READY_OK = True', 'HEALTH_OK = True': 'HEALTH_OK = False' }, extra), {
      'svc/extra.txt': 'kept by cycle 1\n',
      'svc/untouched.txt': 'the fix never touches this\n',
    });
    await chmod(join(dir, 'svc', 'server.py'), 0o750);
    const untouchedBefore = (await stat(join(dir, 'svc', 'untouched.txt'))).mtimeMs;
    await writeConfig(dir, config({ maxCycles: 3, onRegression: 'revert' }));
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(4);
    const rec2 = await json(join(dir, 'reports', 'history', 'cycle-002.json'));
    expect(rec2.revert).toEqual({
      afterCycle: 2,
      toCycle: 1,
      files: [{ path: 'added.txt', action: 'deleted' }, { path: 'extra.txt', action: 'restored' }, { path: 'server.py', action: 'restored' }],
    });
    expect(await readFile(join(dir, 'svc', 'server.py'), 'utf8')).toBe(SERVER);
    expect((await stat(join(dir, 'svc', 'server.py'))).mode & 0o777).toBe(0o750);
    expect(await readFile(join(dir, 'svc', 'extra.txt'), 'utf8')).toBe('kept by cycle 1\n');
    await expect(stat(join(dir, 'svc', 'added.txt'))).rejects.toThrow();
    expect((await stat(join(dir, 'svc', 'untouched.txt'))).mtimeMs).toBe(untouchedBefore);
    const md2 = section(await text(dir, 'cycle-002.md'), '### Reverted after cycle 2 (loop.onRegression: revert)');
    for (const line of ['- `added.txt`: deleted (the change had added it)', '- `extra.txt`: restored from cycle 1', '- `server.py`: restored from cycle 1']) expect(md2).toContain(line);
    // The loop went on: cycle 3 deployed cycle 1's context again.
    const rec1 = await json(join(dir, 'reports', 'history', 'cycle-001.json'));
    const rec3 = await json(join(dir, 'reports', 'history', 'cycle-003.json'));
    expect(rec3.changes.contextDigestAfter).toBe(rec2.changes.contextDigestBefore);
    expect(rec3.build.digest).toBe(rec1.build.digest);
    expect(rec3.smoke.results.find((c: { name: string }) => c.name === 'health').status).toBe('pass');
    // The issues file the fix read after cycle 2 carries the same changes and attribution as the report.
    const report2 = await json(join(dir, 'reports', 'cycle-002.json'));
    const issues2 = await json(join(dir, 'reports', 'issues-002.json'));
    expect(issues2.changes).toEqual(report2.record.changes);
    expect(issues2.attribution).toEqual(report2.attribution);
    expect(issues2.attribution.regressions.map((f: { check: string }) => f.check)).toEqual(['health']);
    // What the run wrote reads back against the published schemas.
    expect(schemaValidator(ISSUES_SCHEMA_FILE)(issues2)).toEqual([]);
    expect(schemaValidator(REPORT_SCHEMA_FILE)(report2)).toEqual([]);
    expect(schemaValidator(RECORD_SCHEMA_FILE)(rec2)).toEqual([]);
  }, 150_000);

  it('onRegression: revert refuses, naming the file, when a file the fix changed changed again since; the loop goes on', async () => {
    // The broken version appends to its own source in the context when it starts (SRC names it).
    const breakIt = { 'HEALTH_OK = True': 'HEALTH_OK = False\nopen(os.environ["SRC"], "a").write("# touched by the running revision\\n")' };
    const dir = await project('changes-refuse', sourceFix(breakIt));
    await writeConfig(dir, config({ maxCycles: 3, onRegression: 'revert', env: { SRC: join(dir, 'svc', 'server.py') } }));
    const r = await runCli(['run', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(4);
    const rec2 = await json(join(dir, 'reports', 'history', 'cycle-002.json'));
    expect(rec2.revert.files).toEqual([]);
    expect(rec2.revert.refused).toMatch(/^server\.py changed again since cycle 2's build context was listed/);
    expect(await text(dir, 'cycle-002.md')).toContain('Nothing was reverted: server.py changed again since cycle 2');
    expect(await readFile(join(dir, 'svc', 'server.py'), 'utf8')).toContain('# touched by the running revision');
    await stat(join(dir, 'reports', 'history', 'cycle-003.json'));
  }, 150_000);
});
