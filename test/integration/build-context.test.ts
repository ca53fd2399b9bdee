/**
 * The build context as users lay it out, through the real CLI: a project folder that is its own
 * context (`init` writes `context: .`), a Python service at the root with a `.dockerignore`, and an
 * unchanged context that the next cycle reuses instead of copying again.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBuilder } from '../../src/build/index.js';
import { parseConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';
import { configYaml, type ConfigInput } from '../helpers/config-fixture.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

/** A fresh folder outside this repository, as a user's project would be (no package.json above it). */
async function freshFolder(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  dirs.push(dir);
  return dir;
}

/** Every path below `dir`, relative, sorted. */
async function tree(dir: string): Promise<string[]> {
  return ((await readdir(dir, { recursive: true })) as string[]).map((p) => p.split('\\').join('/')).sort();
}

async function record(dir: string, cycle: number): Promise<{ verdict: string; build: { image: string; digest?: string }; dir: string }> {
  const rec = JSON.parse(await readFile(join(dir, 'reports', 'history', `cycle-${String(cycle).padStart(3, '0')}.json`), 'utf8'));
  return { ...rec, dir };
}

/** The record holds the build folder relative to the config's folder (reports carry no absolute paths). */
function buildDir(rec: { build: { image: string }; dir: string }): string {
  expect(rec.build.image).toMatch(/^dir:\.deploy-loop\//);
  return resolve(rec.dir, rec.build.image.slice('dir:'.length));
}

/** Log lines (JSON, as the CLI writes them under CI) whose message contains `text`. */
function logLines(stderr: string, text: string): Array<Record<string, unknown>> {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => typeof l.msg === 'string' && l.msg.includes(text));
}

const NODE_SERVER = `const http = require('node:http');
http.createServer((req, res) => {
  res.setHeader('content-type', 'application/json');
  if (req.url === '/healthz') return res.end(JSON.stringify({ ok: true }));
  res.statusCode = 404;
  res.end('{}');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

const PY_SERVER = `import http.server, json, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/healthz":
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps({"ok": True, "hasData": os.path.isdir("data")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;

describe('a project folder that is its own build context', () => {
  it('init, then cycle: exit 0, reports written, and the snapshot never holds the builds folder', async () => {
    const dir = await freshFolder('own-context');
    await writeFile(join(dir, 'server.js'), NODE_SERVER);
    const init = await runCli(['init', '--service', 'own-context', '--health-path', '/healthz'], { cwd: dir });
    expect(init.code, init.stderr).toBe(0);
    expect(await readFile(join(dir, 'loop.config.yaml'), 'utf8')).toMatch(/context: \.\n/);

    const r = await runCli(['cycle'], { cwd: dir });
    expect(r.stderr).not.toContain('ERR_FS_CP_EINVAL');
    expect(r.stderr).not.toContain('internal error');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/cycle 1: passed/);
    for (const f of ['cycle-001.md', 'cycle-001.json', 'latest.json', 'history/cycle-001.json']) {
      await expect(stat(join(dir, 'reports', f)), f).resolves.toBeTruthy();
    }
    const rec = await record(dir, 1);
    expect(rec.verdict).toBe('passed');
    const snap = buildDir(rec);
    expect(relative(dir, snap).split('/').slice(0, 3)).toEqual(['.deploy-loop', 'builds', 'own-context']);
    const files = await tree(snap);
    expect(files).toContain('server.js');
    expect(files.filter((f) => f.startsWith('.deploy-loop'))).toEqual([]);
  });

  it('a Python service at the root: .dockerignore keeps a big folder out of the snapshot', async () => {
    const dir = await freshFolder('py-root');
    const big = Buffer.alloc(4 * 1024 * 1024, 7);
    await writeFiles(dir, {
      'app.py': PY_SERVER,
      '.dockerignore': '# as docker build reads it\ndata\n*.log\n!keep.log\n',
      'keep.log': 'kept by the ! exception',
      'debug.log': 'left out',
      'loop.config.yaml': `apiVersion: deploy-loop/v1
service: py-root
build:
  kind: command
  context: .
  command: [/usr/bin/python3, -m, py_compile, app.py]
target:
  kind: local
  command: [/usr/bin/python3, app.py]
  readiness: { path: /healthz, timeoutMs: 10000 }
smoke:
  checks:
    - name: health
      kind: http
      priority: P0
      path: /healthz
      expect: { status: 200, json: { ok: true, hasData: false } }
`,
    });
    for (let i = 0; i < 4; i++) await writeFiles(dir, { [`data/part-${i}.bin`]: big.toString('latin1') });

    const r = await runCli(['cycle'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const rec = await record(dir, 1);
    expect(rec.verdict).toBe('passed');
    const files = await tree(buildDir(rec));
    expect(files).toContain('app.py');
    expect(files).toContain('keep.log');
    expect(files).toContain('.dockerignore');
    // The build command ran inside the snapshot.
    expect(files.some((f) => f.startsWith('__pycache__/app.'))).toBe(true);
    expect(files.filter((f) => f.startsWith('data') || f === 'debug.log' || f.startsWith('.deploy-loop'))).toEqual([]);
    const [snapshotted] = logLines(r.stderr, 'build context snapshotted');
    expect(snapshotted?.bytes).toBeLessThan(1024 * 1024);
  });
});

describe('an unchanged build context', () => {
  it('is reused by the next cycle, not copied again; a change makes a new build', async () => {
    const dir = await scratchDir('build-reuse');
    dirs.push(dir);
    await writeTinyProject(dir, 'ok', tinyConfig({ maxCycles: 1 }));
    const r1 = await runCli(['cycle'], { cwd: dir });
    expect(r1.code, r1.stderr).toBe(0);
    const rec1 = await record(dir, 1);
    const snap = buildDir(rec1);
    const before = await Promise.all(['server.mjs', 'mode.txt'].map((f) => stat(join(snap, f))));

    const r2 = await runCli(['cycle'], { cwd: dir });
    expect(r2.code, r2.stderr).toBe(0);
    const rec2 = await record(dir, 2);
    expect(rec2.verdict).toBe('passed');
    expect(buildDir(rec2)).toBe(snap);
    expect(rec2.build.digest).toBe(rec1.build.digest);
    // Not copied again: the very same files, same inodes and mtimes.
    const after = await Promise.all(['server.mjs', 'mode.txt'].map((f) => stat(join(snap, f))));
    expect(after.map((s) => [s.ino, s.mtimeMs])).toEqual(before.map((s) => [s.ino, s.mtimeMs]));
    expect(logLines(r2.stderr, 'build context snapshotted')).toEqual([]);
    expect(logLines(r2.stderr, 'build context unchanged since cycle 1: build reused, nothing copied')).toHaveLength(1);
    expect((await readdir(join(dir, '.deploy-loop', 'builds', 'tiny'))).filter((n) => n.startsWith('c'))).toHaveLength(1);

    await writeFile(join(dir, 'app', 'extra.txt'), 'new file');
    const r3 = await runCli(['cycle'], { cwd: dir });
    expect(r3.code, r3.stderr).toBe(0);
    const rec3 = await record(dir, 3);
    expect(buildDir(rec3)).not.toBe(snap);
    expect(buildDir(rec3)).toMatch(/\/c003-[0-9a-f]{12}$/);
    expect(await tree(buildDir(rec3))).toContain('extra.txt');
    expect(logLines(r3.stderr, 'build context snapshotted')).toHaveLength(1);
  });
});

describe('what the loop passes the command builder', () => {
  it('leaves the config file and the reports folder out, so a new report does not change the digest, and says since when it is unchanged', async () => {
    const dir = await scratchDir('build-own-files');
    dirs.push(dir);
    const ownFiles: ConfigInput = {
      apiVersion: 'deploy-loop/v1',
      service: 'own-files',
      build: { kind: 'command', context: '.' },
      target: { kind: 'local', command: ['node', 'server.js'] },
      smoke: { checks: [{ name: 'health', kind: 'http', priority: 'P0', path: '/' }] },
    };
    const yaml = configYaml(ownFiles);
    await writeFiles(dir, { 'server.js': NODE_SERVER, 'loop.config.yaml': yaml, 'reports/history/cycle-001.json': '{}' });
    const { config } = parseConfigText(yaml, join(dir, 'loop.config.yaml'));
    const builder = createBuilder(config.build, {
      service: config.service,
      baseDir: dir,
      configFile: join(dir, 'loop.config.yaml'),
      reportsDir: join(dir, 'reports'),
    });
    const ctx = (cycle: number) => ({ signal: new AbortController().signal, log: silentLogger(), cycle });
    const b1 = await builder.build(ctx(1));
    if (!b1.ok) throw new Error(b1.message);
    expect(await tree(b1.image.dir!)).toEqual(['server.js']);
    expect(b1.image.snapshot).toMatchObject({ reused: false, files: 1 });
    expect(b1.image.snapshot?.unchangedSinceCycle).toBeUndefined();

    await writeFiles(dir, { 'reports/history/cycle-002.json': '{}', 'reports/cycle-001.md': '# report' });
    const b2 = await builder.build(ctx(2));
    if (!b2.ok) throw new Error(b2.message);
    expect(b2.image.dir).toBe(b1.image.dir);
    expect(b2.image.snapshot).toEqual({ ...b1.image.snapshot, reused: true, builtInCycle: 1, unchangedSinceCycle: 1 });

    const b3 = await builder.build(ctx(3));
    expect(b3.ok && b3.image.snapshot).toMatchObject({ reused: true, builtInCycle: 1, unchangedSinceCycle: 1 });

    // Same files, another build command: a new build (the command ran in it), the context still unchanged.
    const withCommand = parseConfigText(
      configYaml({ ...ownFiles, build: { kind: 'command', context: '.', command: [process.execPath, '-e', "require('fs').writeFileSync('built.txt', 'yes')"] } }),
      join(dir, 'loop.config.yaml'),
    ).config;
    const b4 = await createBuilder(withCommand.build, { service: config.service, baseDir: dir, configFile: join(dir, 'loop.config.yaml'), reportsDir: join(dir, 'reports') }).build(ctx(4));
    if (!b4.ok) throw new Error(b4.message);
    expect(b4.image.dir).not.toBe(b1.image.dir);
    expect(b4.image.dir).toMatch(/\/c004-[0-9a-f]{12}$/);
    expect(b4.image.digest).not.toBe(b1.image.digest);
    expect(b4.image.snapshot).toMatchObject({ digest: b1.image.snapshot?.digest, reused: false, unchangedSinceCycle: 1 });
    expect(await tree(b4.image.dir!)).toEqual(['built.txt', 'server.js']);
    await rm(join(dir, '.deploy-loop'), { recursive: true });
  });
});
