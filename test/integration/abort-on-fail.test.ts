/**
 * gate.thresholds[].abortOnFail through the real CLI on the local target: a failing P0 stops the
 * smoke run while a 5-second check is still in flight, the cut check is recorded as skipped, the
 * stop is named in the record, the gate and the report; without abortOnFail the same suite runs out.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';
import type { CycleReportJson } from '../../src/report/json.js';
import { REPORT_SCHEMA_FILE } from '../../src/report/json-schema.js';
import { schemaValidator } from '../helpers/json-schema.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
});

function config(abortOnFail: boolean): string {
  return `${tinyConfig({ slowCheck: true })}gate:
  thresholds:
    - expr: rate(fail) == 0
      priority: P0
      abortOnFail: ${abortOnFail}
`;
}

async function cycleOnce(prefix: string, abortOnFail: boolean): Promise<{ code: number | null; md: string; json: CycleReportJson }> {
  const dir = await scratchDir(prefix);
  dirs.push(dir);
  // ws1011: the P0 agent check fails at once, while the P1 /slow check takes 5 s to answer.
  await writeTinyProject(dir, 'ws1011', config(abortOnFail));
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
