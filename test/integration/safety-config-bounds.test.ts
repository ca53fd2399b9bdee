/**
 * Hostile configs are refused within a bound, measured from outside: the real CLI (`validate`) in a
 * child process must exit 2 with a config error naming the file (no stack trace), and a child that
 * only loads the config must refuse it within 200 MB of peak memory (maxRSS, read by the child at
 * exit). A safety bound, not a speed benchmark (timing lives in `npm run bench`; a loader that stalled
 * would hit the test's own timeout): before, the alias bomb and an undefined
 * alias crashed with exit 70, a 50 MB file ran out of memory after 72 s and /dev/zero took 750 MB.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, removeDir, runCli, scratchDir } from '../helpers/cli.js';

const BOMB = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
  'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
  'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
  '',
].join('\n');

/** About 50 MB of valid checks: the size that ran out of memory. */
function fiftyMegabytes(): string {
  const head = 'apiVersion: deploy-loop/v1\nservice: big\nbuild: {kind: command}\ntarget: {kind: local, command: [node, s.js]}\nsmoke:\n  checks:\n';
  const block = Array.from({ length: 1000 }, (_, i) => `    - {name: c${i}, kind: http, path: /p${i}}\n`).join('');
  const parts = [head];
  let size = head.length;
  for (let n = 0; size < 50 * 1024 * 1024; n++) {
    const b = block.replaceAll('{name: c', `{name: b${n}c`);
    parts.push(b);
    size += b.length;
  }
  return parts.join('');
}

/** Loads one config in a fresh node and reports how long the refusal took and the peak memory. */
const PROBE = `
const { loadConfig } = await import(${JSON.stringify(join(ROOT, 'dist', 'config', 'load.js'))});
const started = performance.now();
let outcome;
try { await loadConfig(process.argv.at(-1), {}); outcome = { kind: 'loaded' }; }
catch (err) { outcome = { kind: err.constructor.name, exitCode: err.exitCode, message: err.message }; }
const ms = performance.now() - started;
process.stdout.write(JSON.stringify({ ...outcome, ms, maxRssKiB: process.resourceUsage().maxRSS }));
`;

interface Probe {
  kind: string;
  exitCode?: number;
  message?: string;
  ms: number;
  maxRssKiB: number;
}

function probe(dir: string, file: string): Promise<Probe> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE, file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      try {
        resolve(JSON.parse(out) as Probe);
      } catch {
        reject(new Error(`probe exited ${code}: ${err}`));
      }
    });
  });
}

let dir = '';
const files: Record<string, string> = {};
beforeAll(async () => {
  dir = await scratchDir('config-bounds');
  const write = async (name: string, body: string) => {
    files[name] = join(dir, name);
    await writeFile(files[name] as string, body);
  };
  await write('bomb.yaml', BOMB);
  await write('undefined-alias.yaml', 'apiVersion: deploy-loop/v1\nservice: *nope\n');
  await write('big.yaml', fiftyMegabytes());
  await write('brackets.yaml', '['.repeat(1000 * 1024));
  files['/dev/zero'] = '/dev/zero';
}, 60_000);
afterAll(async () => {
  if (dir) await removeDir(dir);
});

const CASES: [string, RegExp][] = [
  ['bomb.yaml', /bomb\.yaml:2:\d+: b\[0\]: the aliases expand to more than 100 copies/],
  ['undefined-alias.yaml', /undefined-alias\.yaml:2:10: service: alias \*nope refers to no anchor/],
  ['big.yaml', /big\.yaml: the file is larger than 1 MiB, the limit for a config \(set DEPLOY_LOOP_CONFIG_MAX_BYTES=BYTES to raise it\)/],
  ['brackets.yaml', /brackets\.yaml:1:65: nesting deeper than 64 levels/],
  ['/dev/zero', /\/dev\/zero: the file is larger than 1 MiB/],
];

describe('hostile configs, refused within a bound', () => {
  it.each(CASES)('validate -c %s exits 2 with a config error and no stack trace', async (name, message) => {
    const r = await runCli(['validate', '-c', files[name] as string], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/internal error|\n\s+at |RangeError|ReferenceError|heap out of memory/);
    expect(r.stdout).toBe('');
  }, 60_000);

  it.each(CASES)('loading %s is refused within 200 MB (a child process, maxRSS)', async (name) => {
    const p = await probe(dir, files[name] as string);
    expect(p).toMatchObject({ kind: 'ConfigError', exitCode: 2 });
    expect(p.maxRssKiB).toBeLessThan(200 * 1024);
  }, 60_000);
});
