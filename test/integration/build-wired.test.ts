/** TRIAL ONLY (not committed): what the build tests assert once the loop and the local target are wired. */
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli } from '../helpers/cli.js';

const dirs: string[] = [];
afterEach(async () => { await Promise.all(dirs.splice(0).map(removeDir)); });

const NODE_SERVER = `const http = require('node:http');
http.createServer((req, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ ok: true })); }).listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
`;

describe('wired', () => {
  it('init layout: the config and reports stay out, cycle 2 reuses cycle 1 and the record says so; pins are released', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wired-'));
    dirs.push(dir);
    await writeFile(join(dir, 'server.js'), NODE_SERVER);
    expect((await runCli(['init', '--service', 'wired'], { cwd: dir })).code).toBe(0);
    const r1 = await runCli(['cycle'], { cwd: dir });
    expect(r1.code, r1.stderr).toBe(0);
    const r2 = await runCli(['cycle'], { cwd: dir });
    expect(r2.code, r2.stderr).toBe(0);
    const rec1 = JSON.parse(await readFile(join(dir, 'reports/history/cycle-001.json'), 'utf8'));
    const rec2 = JSON.parse(await readFile(join(dir, 'reports/history/cycle-002.json'), 'utf8'));
    expect(rec2.build.image).toBe(rec1.build.image);
    expect(rec2.build.snapshot).toMatchObject({ reused: true, builtInCycle: 1, unchangedSinceCycle: 1 });
    expect(rec1.build.snapshot).toMatchObject({ reused: false, files: 1 });
    expect(rec1.build.image).toMatch(/^dir:\.deploy-loop\/builds\/wired\//);
    expect(await readdir(join(dir, rec1.build.image.slice(4)))).toEqual(['server.js']);
    expect(await readdir(join(dir, '.deploy-loop/builds/wired/.pins'))).toEqual([]);
  });
});
