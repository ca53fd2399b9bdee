/**
 * renderHtmlReport without a browser: self-contained (nothing to fetch), escaped, the same numbers
 * as the JSON report, and within 10 MB at 50 cycles × 10,000 checks. The browser tests
 * (test/integration/html-report.test.ts) check that it draws and behaves.
 */
import { describe, expect, it } from 'vitest';
import type { CycleRecord } from '../../src/model/record.js';
import { renderHtmlReport } from '../../src/report/html.js';
import type { HtmlReportData } from '../../src/report/html-data.js';
import { renderCycleJson } from '../../src/report/json.js';
import { HOSTILE, hostileCycle, largeHistory } from './html-fixtures.js';
import { firstCycleGateFailed, secondCycleDeployFailed, secondCyclePassed, thirdCyclePassedAfterDeployFailure } from './report-fixtures.js';

/** The JSON the page embeds (the summary and each cycle's rows), read back as the browser's JSON.parse would. */
export function embeddedData(html: string): HtmlReportData {
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) throw new Error('no embedded report data');
  const data = JSON.parse(m[1] as string) as HtmlReportData;
  const rows = new Map<number, Pick<HtmlReportData['cycles'][number], 'checks' | 'failures'>>();
  for (const r of html.matchAll(/<script type="application\/json" class="cycle-rows" data-cycle="(\d+)">([\s\S]*?)<\/script>/g)) {
    rows.set(Number(r[1]), JSON.parse(r[2] as string));
  }
  return { ...data, cycles: data.cycles.map((c) => ({ ...c, ...rows.get(c.cycle)! })) };
}

/** Cells of the static gate table of one cycle, by priority and field, from their data-value attributes. */
function gateTable(html: string, cycle: number): Record<string, Record<string, string>> {
  const m = new RegExp(`<table class="gate" data-cycle="${cycle}"[^>]*>([\\s\\S]*?)</table>`).exec(html);
  if (!m) throw new Error(`no gate table for cycle ${cycle}`);
  const out: Record<string, Record<string, string>> = {};
  for (const row of (m[1] as string).matchAll(/<tr data-priority="(P\d)"[^>]*>([\s\S]*?)<\/tr>/g)) {
    const cells: Record<string, string> = {};
    for (const c of (row[2] as string).matchAll(/data-field="(\w+)" data-value="([^"]*)"/g)) cells[c[1] as string] = c[2] as string;
    out[row[1] as string] = cells;
  }
  return out;
}

const demo = (): CycleRecord[] => [firstCycleGateFailed(), secondCyclePassed()];

describe('renderHtmlReport', () => {
  it('is one file that loads nothing: no src or href to anything but itself, and a policy that forbids loads', () => {
    const html = renderHtmlReport(demo());
    expect(html).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none';`);
    const refs = [...html.matchAll(/\s(?:src|href)="([^"]*)"/g)].map((m) => m[1]);
    expect(refs.every((r) => r === 'data:,' || r?.startsWith('#'))).toBe(true);
    expect(html).toContain('uPlot');
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it('states the run verdict from the last cycle', () => {
    expect(renderHtmlReport(demo())).toMatch(/<p id="run-verdict" class="verdict ok" data-passed="true">gate passed/);
    const failed = renderHtmlReport([firstCycleGateFailed()]);
    expect(failed).toMatch(/<p id="run-verdict" class="verdict bad" data-passed="false">gate failed/);
    const ended = renderHtmlReport([{ ...firstCycleGateFailed(), runStatus: 'max-cycles', runStatusDetail: 'maxCycles 1 reached' }]);
    expect(ended).toContain('run ended at max cycles without passing');
    expect(ended).toContain('maxCycles 1 reached');
  });

  it('agrees with the JSON report: gate tallies, verdicts, check counts and failures per cycle', () => {
    const records = [firstCycleGateFailed(), secondCycleDeployFailed(), thirdCyclePassedAfterDeployFailure()];
    const html = renderHtmlReport(records);
    const data = embeddedData(html);
    records.forEach((rec, i) => {
      const json = renderCycleJson(rec, records.slice(0, i));
      const c = data.cycles[i]!;
      expect(c.cycle).toBe(json.cycle);
      expect(c.verdict).toBe(json.verdict);
      expect(c.verdictText).toBe(json.verdictText);
      expect(c.gate).toEqual(json.gate);
      expect(c.checks.count).toBe(json.record.smoke.results.length);
      expect(c.failures.map((f) => data.names[nameAt(c, f.row)])).toEqual(json.record.smoke.results.filter((r) => r.failure).map((r) => r.name));
      const table = gateTable(html, json.cycle);
      for (const t of json.gate.tallies) {
        expect(table[t.priority]).toEqual({
          total: String(t.total),
          passed: String(t.passed),
          failed: String(t.failed),
          flaky: String(t.flaky ?? 0),
          passRate: t.passRate === null ? '' : String(t.passRate),
          threshold: t.threshold === null ? '' : String(t.threshold),
          ok: String(t.ok),
        });
      }
    });
  });

  it('keeps the 1011 evidence of cycle 1 in full', () => {
    const data = embeddedData(renderHtmlReport(demo()));
    const agent = data.cycles[0]!.failures.find((f) => data.names[nameAt(data.cycles[0]!, f.row)] === 'agent-pipeline');
    expect(agent).toMatchObject({ class: 'ws-1011-internal-error', location: 'loop.config.yaml:52', evidence: { closeCode: 1011, closeReason: 'internal error' } });
  });

  it('escapes every string from a record: markup from the service never becomes markup', () => {
    const html = renderHtmlReport([hostileCycle()]);
    expect(html).not.toContain(HOSTILE);
    expect(html).not.toContain('<script>window.__pwned');
    expect(html).not.toContain('<img src=x');
    // Only our own script elements close: the summary, one cycle's rows, uPlot and the page script.
    expect(html.match(/<\/script>/g)).toHaveLength(4);
    const data = embeddedData(html);
    expect(data.cycles[0]!.failures[0]!.message).toBe(HOSTILE);
    expect(html).toContain('&#60;/script&#62;&#60;script&#62;window.__pwned=1');
  });

  it('stays under 10 MB at 50 cycles × 10,000 checks', () => {
    const html = renderHtmlReport(largeHistory(50, 10_000));
    const mb = Buffer.byteLength(html) / 1e6;
    console.log(`index.html at 50 cycles × 10,000 checks: ${mb.toFixed(2)} MB`);
    expect(mb).toBeLessThan(10);
    const data = embeddedData(html);
    expect(data.cycles).toHaveLength(50);
    expect(data.cycles.every((c) => c.checks.count === 10_000)).toBe(true);
  }, 120_000);
});

function nameAt(c: HtmlReportData['cycles'][number], row: number): number {
  let k = 0;
  for (let i = 0; i < c.checks.nameRuns.length; i += 2) {
    const start = c.checks.nameRuns[i]!;
    const len = c.checks.nameRuns[i + 1]!;
    if (row < k + len) return start + (row - k);
    k += len;
  }
  throw new Error(`row ${row} beyond ${k}`);
}
