/**
 * gate.thresholds[].abortOnFail through the real CLI on the local target: a failing P0 stops the
 * smoke run while a 5-second check is still in flight, the cut check is recorded as skipped, the
 * stop is named in the record, the gate and the report; without abortOnFail the same suite runs out.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir, writeFiles } from '../helpers/cli.js';
import { tinyConfigInput, writeTinyProject } from '../helpers/tiny-service.js';
import { configYaml, type TinyConfig } from '../helpers/config-fixture.js';
import { ISSUES_SCHEMA_FILE, REPORT_SCHEMA_FILE } from '../../src/report/json-schema.js';
import { schemaValidator } from '../helpers/json-schema.js';
import { type CycleReportJson } from '../../src/model/report.js';
import { type FixIssuesFile } from '../../src/model/fix-issues.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

function config(abortOnFail: boolean): TinyConfig {
  return { ...tinyConfigInput({ slowCheck: true }), gate: { thresholds: [{ expr: 'rate(fail) == 0', priority: 'P0', abortOnFail }] } };
}

async function cycleOnce(prefix: string, abortOnFail: boolean): Promise<{ code: number | null; md: string; json: CycleReportJson }> {
  const dir = await scratchDir(prefix);
  dirs.push(dir);
  // ws1011: the P0 agent check fails at once, while the P1 /slow check takes 5 s to answer.
  await writeTinyProject(dir, 'ws1011', configYaml(config(abortOnFail)));
  const r = await runCli(['cycle'], { cwd: dir });
  expect(r.stderr).not.toContain('internal error');
  const base = join(dir, 'reports', 'cycle-001');
  return { code: r.code, md: await readFile(`${base}.md`, 'utf8'), json: JSON.parse(await readFile(`${base}.json`, 'utf8')) as CycleReportJson };
}

describe('abortOnFail', () => {
  it('stops the smoke run at the first failing P0 and cuts the check in flight', async () => {
    const { code, md, json } = await cycleOnce('abort', true);
    expect(code).toBe(1);
    const smoke = json.record.smoke;
    const status = Object.fromEntries(smoke.results.map((r) => [r.name, r.status]));
    expect(status).toEqual({ health: 'pass', agent: 'fail', slow: 'skipped' });
    expect(smoke.stoppedEarly).toMatchObject({ expr: 'rate(fail) == 0', scope: 'P0 checks', samples: expect.any(Number), skipped: 1 });
    expect(smoke.stoppedEarly?.value).toBeGreaterThan(0);
    // The slow route answers after 5 s; the run did not wait for it.
    expect(smoke.durationMs).toBeLessThan(4000);
    expect(json.gate.passed).toBe(false);
    expect(json.gate.reasons.some((r) => r.startsWith('abortOnFail threshold rate(fail) == 0 (P0 checks) failed after'))).toBe(true);
    expect(md).toMatch(/\*\*Smoke run stopped early:\*\* abortOnFail threshold rate\(fail\) == 0 \(P0 checks\) failed after \d results?, measured \d+(\.\d)?%: the smoke run stopped and 1 check did not finish\./);
    expect(json.record.traffic.action).not.toBe('promoted');
    expect(schemaValidator(REPORT_SCHEMA_FILE)(json)).toEqual([]);
  });

  it('runs every check when the failing threshold is not abortOnFail', async () => {
    const { code, json } = await cycleOnce('noabort', false);
    expect(code).toBe(1);
    const smoke = json.record.smoke;
    expect(smoke.results.find((r) => r.name === 'slow')?.status).toBe('pass');
    expect(smoke.stoppedEarly).toBeUndefined();
    expect(smoke.durationMs).toBeGreaterThanOrEqual(4900);
    expect(json.gate.reasons).toContain('threshold rate(fail) == 0 (P0 checks) failed: measured 50%');
  });
});

describe('abortOnFail and the fix step', () => {
  it('the issues file tells the fix command which threshold stopped the run and how many checks did not run', async () => {
    const dir = await scratchDir('abort-fix');
    dirs.push(dir);
    // The fix command keeps a copy of the issues file it was given, then repairs the service.
    const fix = `import { copyFileSync, writeFileSync } from 'node:fs';
copyFileSync(process.env.DEPLOY_LOOP_ISSUES_JSON, 'issues-seen.json');
writeFileSync('app/mode.txt', 'ok');
`;
    const base = config(true);
    await writeTinyProject(dir, 'ws1011', configYaml({ ...base, loop: { ...base.loop, maxCycles: 2, fix: { command: [process.execPath, 'keep-issues.mjs'] } } }));
    await writeFiles(dir, { 'keep-issues.mjs': fix });
    const r = await runCli(['run'], { cwd: dir });
    expect(r.stderr).not.toContain('internal error');
    expect(r.stdout).toMatch(/cycle 1: gate-failed/);
    const seen = JSON.parse(await readFile(join(dir, 'issues-seen.json'), 'utf8')) as FixIssuesFile;
    expect(schemaValidator(ISSUES_SCHEMA_FILE)(seen)).toEqual([]);
    expect(seen.stoppedEarly).toMatchObject({ expr: 'rate(fail) == 0', scope: 'P0 checks', skipped: 1 });
    expect(seen.issues.map((i) => i.check)).toEqual(['agent']);
  });
});

describe('deploy-loop smoke --url', () => {
  /** The tiny service's routes in this process: health passes, /slow takes 5 s, the agent socket closes 1011. */
  async function service(): Promise<{ url: string; close: () => Promise<void> }> {
    const server: Server = createServer((req, res) => {
      if (req.url === '/healthz') return void res.end('{"ok":true}');
      if (req.url === '/slow') return void setTimeout(() => res.end('{}'), 5000);
      res.statusCode = 404;
      res.end();
    });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.on('message', () => ws.close(1011, 'pipeline error')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: async () => {
        for (const c of wss.clients) c.terminate();
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      },
    };
  }

  it('runs the suite against any URL and stops it at a failing abortOnFail threshold, exit 1', async () => {
    const svc = await service();
    try {
      const dir = await scratchDir('smoke-url');
      dirs.push(dir);
      await writeFiles(dir, { 'loop.config.yaml': configYaml(config(true)) });
      const started = Date.now();
      const r = await runCli(['smoke', '--url', svc.url], { cwd: dir });
      expect(Date.now() - started).toBeLessThan(4500);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/^pass {2}P0 health \(\d+ ms\)$/m);
      expect(r.stdout).toMatch(/^fail {2}P0 agent .*ws-1011-internal-error/m);
      expect(r.stdout).toMatch(/^skipped P1 slow$/m);
      expect(r.stdout).toMatch(/^gate: failed: .*abortOnFail threshold rate\(fail\) == 0 \(P0 checks\) failed after \d results?/m);

      await writeFiles(dir, { 'loop.config.yaml': configYaml(config(false)) });
      const full = await runCli(['smoke', '--url', svc.url], { cwd: dir });
      expect(full.code).toBe(1);
      expect(full.stdout).toMatch(/^pass {2}P1 slow/m);
      expect(full.stdout).not.toContain('abortOnFail');

      const bad = await runCli(['smoke', '--url', 'not a url'], { cwd: dir });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--url is not a URL: "not a url"');
    } finally {
      await svc.close();
    }
  });
});
