/**
 * A revision that crashes at start (the most common first failure of a new service): its traceback
 * is in the deploy failure's output, not in a check's window, and the issue's evidence chain still
 * ends at the user's file:line with its source lines. A Python service at the root of its own
 * context whose settings module raises before the server listens; through the real CLI.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CycleReportJson } from '../../src/model/report.js';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { pythonConfig, writeConfig, type ConfigInput } from '../helpers/config-fixture.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await removeDir(d);
});

/** Line 4 raises when DATABASE_URL is unset. */
const SETTINGS = `import os
def database_url():
    if not os.environ.get("DATABASE_URL"):
        raise RuntimeError("DATABASE_URL is not set")
    return os.environ["DATABASE_URL"]
`;

const SERVER = `import http.server, os
from settings import database_url
DB = database_url()
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), http.server.SimpleHTTPRequestHandler).serve_forever()
`;

function config(): ConfigInput {
  const base = pythonConfig({ maxCycles: 1 });
  return { ...base, build: { kind: 'command', context: '.' } };
}

describe('a revision that crashes at start', () => {
  it("chains the deploy issue to settings.py:4, read from the build that ran, with no build-copy or absolute path", async () => {
    const dir = await scratchDir('fix-agent-startup');
    dirs.push(dir);
    await writeFiles(dir, { 'server.py': SERVER, 'settings.py': SETTINGS });
    await writeConfig(dir, config());
    const r = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr.slice(-3000)).toBe(3);

    const rep = JSON.parse(await readFile(join(dir, 'reports', 'cycle-001.json'), 'utf8')) as CycleReportJson;
    expect(rep.verdict).toBe('deploy-failed');
    const issue = rep.issues.find((i) => i.check === 'deploy')!;
    const chain = issue.chain!;
    expect(chain.map((l) => l.kind)).toEqual(['symptom', 'log', 'frame']);
    expect(chain[1]!.text).toMatch(/RuntimeError: DATABASE_URL is not set/);
    expect(chain[2]).toMatchObject({ source: 'build context', file: 'settings.py', line: 4 });
    expect(chain[2]!.excerpt).toEqual(['2| def database_url():', '3|     if not os.environ.get("DATABASE_URL"):', '4|         raise RuntimeError("DATABASE_URL is not set")', '5|     return os.environ["DATABASE_URL"]']);
    const md = await readFile(join(dir, 'reports', 'cycle-001.md'), 'utf8');
    expect(md).toContain('`settings.py:4`, the innermost frame in your source');
    expect(md).not.toContain(dir);
  });

  it('chains a failed build command to the line of the user\'s script it failed at (build folder mapped back to the context)', async () => {
    const dir = await scratchDir('fix-agent-build');
    dirs.push(dir);
    const CHECK = 'import json\nwith open("settings.json") as f:\n    cfg = json.load(f)\nassert cfg["port"] > 0, "port must be positive"\n';
    await writeFiles(dir, { 'server.py': SERVER, 'settings.py': SETTINGS, 'check.py': CHECK, 'settings.json': '{"port": 0}\n' });
    const base = config();
    await writeConfig(dir, { ...base, build: { kind: 'command', context: '.', command: ['/usr/bin/python3', 'check.py'] } });
    const r = await runCli(['cycle', '--log-format', 'json'], { cwd: dir });
    expect(r.code, r.stderr.slice(-3000)).toBe(3);
    const rep = JSON.parse(await readFile(join(dir, 'reports', 'cycle-001.json'), 'utf8')) as CycleReportJson;
    expect(rep.verdict).toBe('build-failed');
    const chain = rep.issues.find((i) => i.check === 'build')!.chain!;
    expect(chain[2]).toMatchObject({ source: 'build context', file: 'check.py', line: 4 });
    expect(chain[2]!.excerpt).toContain('4| assert cfg["port"] > 0, "port must be positive"');
    expect(JSON.stringify(rep.issues)).not.toContain('.deploy-loop/builds');
  });
});
