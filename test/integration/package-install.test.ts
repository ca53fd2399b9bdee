/**
 * The package as a user gets it: `npm pack`, installed into an empty folder outside this repository
 * (dependencies from the npm cache), then `init`, `validate` and a local `cycle` through the
 * installed bin against a Python service. Also what the tarball holds and the CI examples it ships.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ROOT, runCli } from '../helpers/cli.js';
import { patchText } from '../helpers/config-fixture.js';

const run = promisify(execFile);
// npm runs under the repository's Node (>= 22), found first on PATH.
const env = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false' };

let dir: string;
let tarball: string;
let listed: string[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'deploy-loop-pack-'));
  // dist/ is built by the test run's global setup; prepack (the same build) is checked below.
  const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT, env, maxBuffer: 32 * 1024 * 1024 });
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  tarball = join(dir, info!.filename);
  listed = info!.files.map((f) => f.path);
}, 120_000);
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the published package', () => {
  it('builds on prepack and declares what a registry page shows', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown> & { scripts: Record<string, string> };
    expect(pkg.scripts.prepack).toBe(pkg.scripts.build);
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(Array.isArray(pkg.keywords) && pkg.keywords.length > 0).toBe(true);
    // No public repository exists yet: no URL is better than a made-up one. Once there is, each must be https.
    const url = (v: unknown): string | undefined => (typeof v === 'string' ? v : (v as { url?: string } | undefined)?.url);
    for (const key of ['repository', 'homepage', 'bugs']) if (pkg[key] !== undefined) expect(url(pkg[key]), key).toMatch(/^(git\+)?https:\/\//);
    expect(pkg.exports).toMatchObject({ './schema/*': './schema/*', './package.json': './package.json' });
  });

  it('holds the build, the schemas, the examples, the README and the LICENSE, and nothing of the tests', () => {
    for (const f of ['LICENSE', 'README.md', 'package.json', 'bin/deploy-loop.js', 'dist/cli.js', 'dist/report/html.js', 'schema/loop.config.schema.json', 'examples/github-actions.yml', 'examples/gitlab-ci.yml', 'examples/chat-service/server.mjs']) {
      expect(listed, f).toContain(f);
    }
    expect(listed.filter((f) => f.startsWith('test/') || f.startsWith('src/') || f.includes('node_modules/'))).toEqual([]);
  });

  it('installs into an empty folder and runs init, validate and a local cycle from there', async () => {
    const project = join(dir, 'consumer');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), '{ "name": "consumer", "private": true }\n');
    writeFileSync(join(project, '.gitignore'), 'node_modules/\n');
    const install = (flag: string) => run('npm', ['install', flag, '--no-audit', '--no-fund', '--save-dev', tarball], { cwd: project, env, maxBuffer: 32 * 1024 * 1024 });
    // Offline when the cache holds every packument; otherwise the cache still serves the tarballs.
    await install('--offline').catch(() => install('--prefer-offline'));
    const bin = join(project, 'node_modules', '.bin', 'deploy-loop');
    expect(existsSync(bin)).toBe(true);
    const cli = (args: string[]) =>
      run(process.execPath, [bin, ...args], { cwd: project, env: { ...env, CI: 'true' } }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );

    const init = await cli(['init', '--service', 'pack-consumer']);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain(`added .deploy-loop/ and reports/ to ${join(project, '.gitignore')}`);
    const config = readFileSync(join(project, 'loop.config.yaml'), 'utf8');
    // The modeline names the installed package's schema, relative to the config.
    expect(config.split('\n')[0]).toBe('# yaml-language-server: $schema=./node_modules/deploy-loop/schema/loop.config.schema.json');
    expect(existsSync(join(project, 'node_modules/deploy-loop/schema/loop.config.schema.json'))).toBe(true);

    // A Python service in a folder of its own, started by the local target with PORT set.
    mkdirSync(join(project, 'app'));
    writeFileSync(
      join(project, 'app', 'server.py'),
      [
        'import http.server, os',
        'class H(http.server.BaseHTTPRequestHandler):',
        '    def do_GET(self):',
        '        body = b\'{"ok": true}\'',
        '        self.send_response(200 if self.path == "/healthz" else 404)',
        '        self.send_header("content-type", "application/json")',
        '        self.send_header("content-length", str(len(body)))',
        '        self.end_headers()',
        '        self.wfile.write(body)',
        '    def log_message(self, *a): pass',
        'http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()',
        '',
      ].join('\n'),
    );
    writeFileSync(join(project, 'loop.config.yaml'), patchText(patchText(config, '  context: .\n', '  context: app\n'), 'command: [node, server.js]', 'command: [python3, server.py]'));

    const validate = await cli(['validate']);
    expect(validate.code, validate.stderr).toBe(0);
    expect(validate.stdout).toContain('service pack-consumer, build command, target local');

    const cycle = await cli(['cycle']);
    expect(cycle.code, cycle.stderr).toBe(0);
    const rec = JSON.parse(readFileSync(join(project, 'reports', 'history', 'cycle-001.json'), 'utf8')) as { verdict: string };
    expect(rec.verdict).toBe('passed');
    expect(readFileSync(join(project, 'reports', 'index.html'), 'utf8')).toContain('uPlot');
  }, 240_000);
});

describe('the CI examples it ships', () => {
  const gh = parse(readFileSync(join(ROOT, 'examples/github-actions.yml'), 'utf8')) as { jobs: Record<string, { steps: { uses?: string; run?: string; with?: Record<string, unknown> }[] }> };
  const uses = Object.values(gh.jobs).flatMap((j) => j.steps.map((s) => s.uses).filter((u): u is string => u !== undefined));

  it('GitHub: current majors of every action, JUnit published, reports uploaded, and a job on the local target', () => {
    // Looked up when written (release threads of each action): bump these together with the file.
    const current: Record<string, string> = {
      'actions/checkout': 'v7',
      'actions/setup-node': 'v7',
      'actions/upload-artifact': 'v7',
      'google-github-actions/auth': 'v3',
      'google-github-actions/setup-gcloud': 'v3',
      'dorny/test-reporter': 'v3',
    };
    for (const u of uses) {
      const [name, ref] = u.split('@');
      expect(current[name!], `${u} is not a known action`).toBeDefined();
      expect(ref, name).toBe(current[name!]);
    }
    expect(new Set(uses.map((u) => u.split('@')[0]))).toEqual(new Set(Object.keys(current)));
    for (const job of Object.values(gh.jobs)) {
      expect(job.steps.some((s) => s.uses?.startsWith('dorny/test-reporter') && s.with?.path === 'reports/junit.xml')).toBe(true);
      expect(job.steps.some((s) => s.uses?.startsWith('actions/upload-artifact') && s.with?.path === 'reports/')).toBe(true);
      expect(job.steps.some((s) => s.run === 'npm ci')).toBe(true);
    }
    const local = gh.jobs.local!;
    expect(local.steps.some((s) => s.uses?.startsWith('google-github-actions/'))).toBe(false);
    expect(local.steps.some((s) => s.run?.includes('deploy-loop cycle --config loop.local.yaml'))).toBe(true);
  });

  it('GitLab: the JUnit file under artifacts:reports:junit, kept whatever the verdict', () => {
    const gl = parse(readFileSync(join(ROOT, 'examples/gitlab-ci.yml'), 'utf8'), { merge: true }) as Record<string, { artifacts?: { when?: string; reports?: { junit?: string }; paths?: string[] } }>;
    for (const job of ['deploy-loop-local', 'deploy-loop-cloudrun']) {
      expect(gl[job]?.artifacts, job).toMatchObject({ when: 'always', paths: ['reports/'], reports: { junit: 'reports/junit.xml' } });
    }
  });

  it('the shipped emulated Cloud Run example validates', async () => {
    // Its build context is the demo copy `npm start` prepares (validate checks the folder exists).
    mkdirSync(join(ROOT, '.deploy-loop', 'demo', 'chat-service'), { recursive: true });
    const r = await runCli(['validate', '-c', 'examples/cloudrun-emulated.yaml'], { cwd: ROOT });
    expect(r.code, r.stderr).toBe(0);
  });
});
