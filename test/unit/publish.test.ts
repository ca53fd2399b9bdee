/**
 * Publishing a cycle: the record is durable before any report exists (a record that cannot be
 * written leaves no report behind), the reports equal the renderers' output, and the HTML page is
 * written only when asked, from the last record's service.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { historyDir, readHistory, recordFileName } from '../../src/loop/history.js';
import { publishCycle, publishHtmlReport } from '../../src/loop/publish.js';
import type { CycleRecord } from '../../src/model/record.js';
import { renderCycleReports } from '../../src/report/cycle-reports.js';
import { gateOf, record, result } from './report-fixtures.js';

function cycle(n: number, service?: string): CycleRecord {
  const results = [result({ name: 'health', priority: 'P0' }), result({ name: `only-in-${n}`, priority: 'P1', status: n % 2 ? 'fail' : 'pass' })];
  return record({ cycle: n, startedAt: `2026-01-0${n}T10:00:00.000Z`, smoke: { durationMs: 10, results }, gate: gateOf(results), ...(service ? { service } : {}) });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'publish-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('publishCycle', () => {
  it('writes the record, then the reports the renderers give, and no page with html: false', async () => {
    const one = cycle(1);
    const two = cycle(2);
    await publishCycle(dir, one, [], { html: false });
    const published = await publishCycle(dir, two, [one], { html: false });
    const { records } = await readHistory(dir);
    expect(records.map((r) => r.cycle)).toEqual([1, 2]);
    const expected = renderCycleReports(two, [one]);
    expect(await readFile(published.markdown, 'utf8')).toBe(expected.markdown);
    expect(await readFile(published.json, 'utf8')).toBe(expected.json);
    expect(await readFile(published.junit, 'utf8')).toBe(expected.junit);
    expect(await readFile(join(dir, 'latest.md'), 'utf8')).toBe(expected.markdown);
    expect(await readFile(join(dir, 'latest.json'), 'utf8')).toBe(expected.json);
    expect(await readdir(dir)).not.toContain('index.html');
  });

  it('a record that cannot be written fails the publish and leaves no report behind', async () => {
    // A folder where cycle 1's record goes: the rename over it fails.
    await mkdir(join(historyDir(dir), recordFileName(1)), { recursive: true });
    await expect(publishCycle(dir, cycle(1), [])).rejects.toThrow();
    expect((await readdir(dir)).filter((n) => !n.startsWith('.')).sort()).toEqual(['history']);
  });

  it('publishHtmlReport writes the page of the last record’s service, holding its last cycle', async () => {
    const file = await publishHtmlReport(dir, [cycle(1), cycle(2, 'other-service'), cycle(3)]);
    const html = await readFile(file, 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!) as { cycles: { cycle: number }[]; verdict: { cycle: number } };
    expect(data.cycles.map((c) => c.cycle)).toEqual([1, 3]);
    expect(data.verdict.cycle).toBe(3);
  });
});
