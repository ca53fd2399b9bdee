/**
 * Config values reach programs as argument arrays, never through a shell: build and fix commands
 * whose arguments are shell syntax receive them literally and nothing they spell out runs. A check
 * path full of metacharacters is only ever a URL. A reports.dir leaving the project is exit 2.
 */
import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';

const NASTY = ['; touch pwned-semi', '$(touch pwned-subst)', '`touch pwned-tick`', '&& touch pwned-and', '| touch pwned-pipe', "'quoted' \"double\" $HOME"];
const MARKERS = ['pwned-semi', 'pwned-subst', 'pwned-tick', 'pwned-and', 'pwned-pipe'];

/** Writes its argv (after the script name) as JSON to the file named by its first argument. */
const ARGV = `import { writeFileSync } from 'node:fs';
const [out, ...rest] = process.argv.slice(2);
writeFileSync(out, JSON.stringify(rest));
`;
const SERVER = `import http from 'node:http';
http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('{"ok":true}');
  res.statusCode = 404; res.end(JSON.stringify({ url: req.url }));
}).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

function config(dir: string, reportsDir?: string): string {
  const at = (f: string) => JSON.stringify(join(dir, f));
  const node = JSON.stringify(process.execPath);
  const args = NASTY.map((a) => JSON.stringify(a)).join(', ');
  return `apiVersion: deploy-loop/v1
service: shelly
build:
  kind: command
  context: app
  command: [${node}, ${at('argv.mjs')}, ${at('build-argv.json')}, ${args}]
target:
  kind: local
  command: [${node}, server.mjs]
  readiness: { path: /healthz, timeoutMs: 5000 }
smoke:
  checks:
    - name: health
      kind: http
      priority: P0
      path: /healthz
    - name: nasty-path
      kind: http
      priority: P0
      path: "/x;touch%20pwned-path$(touch pwned-path2)\`touch pwned-path3\`"
loop:
  maxCycles: 2
  fix:
    command: [${node}, ${at('argv.mjs')}, ${at('fix-argv.json')}, ${args}]
${reportsDir ? `reports:\n  dir: ${JSON.stringify(reportsDir)}\n` : ''}`;
}

const exists = (p: string) => access(p).then(() => true, () => false);
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

describe('shell metacharacters in config values', () => {
  it('reach build and fix commands literally and run nothing', async () => {
    const dir = await scratchDir('safety-shell');
    dirs.push(dir);
    await writeFiles(dir, { 'argv.mjs': ARGV, 'app/server.mjs': SERVER, 'loop.config.yaml': config(dir) });
    const r = await runCli(['run'], { cwd: dir });
    // nasty-path gets a 404 every cycle: the loop runs its fix and ends at the cycle limit.
    expect(r.code).toBe(4);
    expect(JSON.parse(await readFile(join(dir, 'build-argv.json'), 'utf8'))).toEqual(NASTY);
    expect(JSON.parse(await readFile(join(dir, 'fix-argv.json'), 'utf8'))).toEqual(NASTY);
    for (const m of [...MARKERS, 'pwned-path', 'pwned-path2', 'pwned-path3']) {
      for (const where of [dir, join(dir, 'app')]) expect(await exists(join(where, m)), `${m} in ${where}`).toBe(false);
    }
    const rec = JSON.parse(await readFile(join(dir, 'reports', 'history', 'cycle-001.json'), 'utf8'));
    const nasty = rec.smoke.results.find((c: { name: string }) => c.name === 'nasty-path');
    expect(nasty.failure.class).toBe('http-4xx');
  }, 60_000);

  it('refuses a reports.dir outside the project with exit 2, naming the field', async () => {
    const dir = await scratchDir('safety-shell');
    dirs.push(dir);
    await writeFiles(dir, { 'argv.mjs': ARGV, 'app/server.mjs': SERVER, 'loop.config.yaml': config(dir, '../../escaped-reports') });
    const r = await runCli(['run', '-c', '../loop.config.yaml'], { cwd: join(dir, 'app') });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/reports\.dir: "\.\.\/\.\.\/escaped-reports" resolves to .*outside the config's folder/);
    expect(await exists(join(dir, '..', '..', 'escaped-reports'))).toBe(false);
  }, 30_000);
});
