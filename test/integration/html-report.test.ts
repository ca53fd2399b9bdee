/**
 * reports/index.html in a real browser (Debian's headless Chromium through playwright-core), loaded
 * from disk with every network request refused: both charts drew, filters filter, evidence opens in
 * place, nothing reached the console as an error, markup from the service stays text, and the page's
 * numbers agree with the JSON report. One run of the real CLI writes the page; one test saves a
 * screenshot to .ci/html-report.png for people to look at.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { CycleRecord } from '../../src/model/record.js';
import { renderHtmlReport } from '../../src/report/html.js';
import { renderCycleJson } from '../../src/report/json.js';
import { ROOT, removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';
import { HOSTILE, hostileCycle, largeHistory } from '../unit/html-fixtures.js';
import { firstCycleGateFailed, secondCycleDeployFailed, secondCyclePassed, thirdCyclePassedAfterDeployFailure } from '../unit/report-fixtures.js';
import { browserSkipReason, canvasPixels, launch, openOffline } from './html-browser.js';

if (browserSkipReason) console.warn(`HTML report browser tests skipped: ${browserSkipReason}`);

const P0_RED: [number, number, number] = [0xd6, 0x27, 0x28];
const SMOKE_GREEN: [number, number, number] = [0x2c, 0xa0, 0x2c];

describe.skipIf(browserSkipReason !== undefined)('reports/index.html in headless Chromium', () => {
  let browser: Browser;
  let dir: string;
  const pages: Page[] = [];

  beforeAll(async () => {
    browser = await launch();
    mkdirSync(join(ROOT, '.test-tmp'), { recursive: true });
    dir = mkdtempSync(join(ROOT, '.test-tmp', 'html-'));
  });
  afterAll(async () => {
    await Promise.all(pages.map((p) => p.close().catch(() => {})));
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function open(records: CycleRecord[], name: string, viewport?: { width: number; height: number }) {
    const file = join(dir, `${name}.html`);
    writeFileSync(file, renderHtmlReport(records));
    const opened = await openOffline(browser, file, viewport);
    pages.push(opened.page);
    return { ...opened, file };
  }

  it('draws both charts, shows the last cycle, and nothing is fetched or logged as an error', async () => {
    const { page, errors, blocked } = await open([firstCycleGateFailed(), secondCyclePassed()], 'demo');
    const pass = await canvasPixels(page, 'chart-pass', P0_RED);
    const durations = await canvasPixels(page, 'chart-durations', SMOKE_GREEN);
    expect(pass.painted).toBeGreaterThan(1000);
    expect(pass.colour, 'the P0 line is drawn in its colour').toBeGreaterThan(20);
    expect(durations.painted).toBeGreaterThan(1000);
    expect(durations.colour, 'the smoke duration line is drawn in its colour').toBeGreaterThan(20);
    // uPlot's legend tells the priorities and stages apart.
    expect(await page.locator('#chart-pass .u-legend').textContent()).toMatch(/P0.*P1.*P2/);
    expect(await page.locator('#chart-durations .u-legend').textContent()).toMatch(/build.*deploy.*smoke/);
    expect(await page.locator('#run-verdict').textContent()).toContain('gate passed');
    expect(await page.locator('#cycle-2').isVisible()).toBe(true);
    expect(await page.locator('#cycle-1').isVisible()).toBe(false);
    expect(await page.locator('#cycle-2 .traffic-action').textContent()).toContain('Traffic moved 100% to chat-service-00002');
    expect(await page.locator('#cycle-2 .fix').textContent()).toMatch(/Newly passing: agent-pipeline, agent-pipeline-concurrent/);
    expect(errors).toEqual([]);
    expect(blocked).toEqual([]);
  });

  it('opens the failing check of cycle 1 with its 1011 evidence in place, and saves a screenshot', async () => {
    const { page, errors } = await open([firstCycleGateFailed(), secondCyclePassed()], 'evidence');
    await page.selectOption('#cycle-select', '1');
    await page.waitForFunction('document.querySelector("#checks-cycle").textContent === "of cycle 1"');
    expect(await page.locator('#cycle-1').isVisible()).toBe(true);
    const row = page.locator('#check-rows tr[data-name="agent-pipeline"]');
    // Failures come first.
    expect(await page.locator('#check-rows tr').first().getAttribute('data-status')).toBe('fail');
    const details = row.locator('details.evidence');
    expect(await details.getAttribute('open')).toBeNull();
    expect(await details.locator('dl').isVisible()).toBe(false);
    await details.locator('summary').click();
    expect(await details.getAttribute('open')).not.toBeNull();
    const evidence = (await details.locator('dl').textContent()) ?? '';
    expect(evidence).toContain('closeCode1011');
    expect(evidence).toContain('closeReasoninternal error');
    expect(evidence).toContain('loop.config.yaml:52');
    expect(await details.locator('summary').textContent()).toContain('ws-1011-internal-error');
    expect(errors).toEqual([]);
    // For people to look at: the page as it opens on a failure.
    mkdirSync(join(ROOT, '.ci'), { recursive: true });
    await page.screenshot({ path: join(ROOT, '.ci', 'html-report.png'), fullPage: true });
  });

  it('filters the checks by priority, status and kind', async () => {
    const { page } = await open([firstCycleGateFailed()], 'filters');
    const rows = page.locator('#check-rows tr');
    expect(await rows.count()).toBe(6);
    const attrs = (name: string) => rows.evaluateAll((trs, n) => trs.map((tr) => tr.getAttribute(n)), name);
    await page.selectOption('#filter-priority', 'P1');
    expect(await attrs('data-priority')).toEqual(['P1', 'P1']);
    await page.selectOption('#filter-status', 'failing');
    expect(await attrs('data-name')).toEqual(['agent-pipeline-concurrent']);
    await page.selectOption('#filter-priority', '');
    expect(await attrs('data-name')).toEqual(['agent-pipeline', 'agent-pipeline-concurrent']);
    await page.selectOption('#filter-status', 'pass');
    await page.selectOption('#filter-kind', 'http');
    expect((await attrs('data-name')).sort()).toEqual(['health', 'info']);
    await page.selectOption('#filter-kind', 'command');
    expect(await rows.count()).toBe(0);
    expect(await page.locator('#checks-count').textContent()).toContain('0 of 6 checks match');
    await page.selectOption('#filter-status', '');
    await page.selectOption('#filter-kind', '');
    await page.fill('#filter-name', 'ECHO');
    expect(await attrs('data-name')).toEqual(['echo-websocket']);
  });

  it('shows markup the service sent back as text, and runs none of it', async () => {
    const { page, errors } = await open([hostileCycle()], 'hostile');
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    const row = page.locator('#check-rows tr').first();
    expect(await row.getAttribute('data-name')).toBe(`evil-${HOSTILE}`);
    await row.locator('summary').click();
    expect(await row.locator('summary').textContent()).toBe(`assertion: ${HOSTILE}`);
    expect(await page.locator('#cycle-1 .traffic-action').textContent()).toContain(HOSTILE);
    expect(await page.locator('#cycle-1 table.traffic code').first().textContent()).toBe(`rev-${HOSTILE}`);
    expect(errors).toEqual([]);
  });

  it('agrees with the JSON report: the gate tables, the cycle table and the checks the page lists', async () => {
    const records = [firstCycleGateFailed(), secondCycleDeployFailed(), thirdCyclePassedAfterDeployFailure()];
    const { page } = await open(records, 'agreement');
    for (const [i, rec] of records.entries()) {
      const json = renderCycleJson(rec, records.slice(0, i));
      await page.selectOption('#cycle-select', String(json.cycle));
      await page.waitForFunction(`document.querySelector("#checks-cycle").textContent === "of cycle ${json.cycle}"`);
      const gate = page.locator(`table.gate[data-cycle="${json.cycle}"]`);
      expect(await gate.getAttribute('data-passed')).toBe(String(json.gate.passed));
      for (const t of json.gate.tallies) {
        const row = gate.locator(`tr[data-priority="${t.priority}"]`);
        const value = async (field: string) => row.locator(`td[data-field="${field}"]`).getAttribute('data-value');
        expect(await value('total')).toBe(String(t.total));
        expect(await value('passed')).toBe(String(t.passed));
        expect(await value('failed')).toBe(String(t.failed));
        expect(await value('passRate')).toBe(t.passRate === null ? '' : String(t.passRate));
        expect(await value('ok')).toBe(String(t.ok));
      }
      const cycleRow = page.locator(`table.cycles tr[data-cycle="${json.cycle}"]`);
      const p0 = json.gate.tallies.find((t) => t.priority === 'P0');
      expect(await cycleRow.locator('td[data-priority="P0"]').getAttribute('data-value')).toBe(p0?.total ? String(p0.passRate) : '');
      expect(await page.locator(`#cycle-${json.cycle} h2 .verdict`).textContent()).toBe(json.verdictText);
      // Every result of the record is a row (all fit on the first page here), with its status.
      const listed = await page.locator('#check-rows tr').evaluateAll((trs) => trs.map((tr) => `${tr.getAttribute('data-name')}:${tr.getAttribute('data-status')}`));
      expect(listed.sort()).toEqual(json.record.smoke.results.map((r) => `${r.name}:${r.status}`).sort());
      const steps = await page.locator(`#cycle-${json.cycle} ol.next-steps li`).allTextContents();
      expect(steps).toEqual(json.nextSteps);
    }
  });

  it('opens 50 cycles × 10,000 checks and pages the rows', async () => {
    const records = largeHistory(50, 10_000);
    const { page, errors, loadMs, file } = await open(records, 'large', { width: 1280, height: 1600 });
    const mb = statSync(file).size / 1e6;
    // A figure for the README, not an assertion: timing on a shared 2-core machine is not a test.
    console.log(`index.html, 50 cycles × 10,000 checks: ${mb.toFixed(2)} MB, ready in the browser in ${loadMs} ms`);
    expect(await canvasPixels(page, 'chart-pass', P0_RED).then((p) => p.colour)).toBeGreaterThan(20);
    const rows = page.locator('#check-rows tr');
    expect(await rows.count()).toBe(200);
    expect(await page.locator('#checks-count').textContent()).toBe('10000 of 10000 checks match; 200 shown');
    await page.click('#checks-more');
    expect(await rows.count()).toBe(400);
    await page.selectOption('#filter-status', 'failing');
    const failing = renderCycleJson(records[49]!, records.slice(0, 49)).record.smoke.results.filter((r) => r.status === 'fail').length;
    expect(await page.locator('#checks-count').textContent()).toBe(`${failing} of 10000 checks match; ${Math.min(failing, 200)} shown`);
    expect(errors).toEqual([]);
  }, 180_000);

  describe('written by the CLI', () => {
    let project: string;
    afterAll(async () => {
      if (project) await removeDir(project);
    });

    it('run writes reports/index.html: cycle 1 fails with 1011, cycle 2 passes; report re-renders it', async () => {
      project = await scratchDir('html-cli');
      await writeTinyProject(project, 'ws1011', tinyConfig({ fix: true }));
      const r = await runCli(['run'], { cwd: project });
      expect(r.code, r.stderr).toBe(0);
      const file = join(project, 'reports', 'index.html');
      const { page, errors, blocked } = await openOffline(browser, file);
      pages.push(page);
      expect((await canvasPixels(page, 'chart-pass', P0_RED)).colour).toBeGreaterThan(20);
      expect((await canvasPixels(page, 'chart-durations', SMOKE_GREEN)).colour).toBeGreaterThan(20);
      expect(await page.locator('table.cycles tr[data-cycle="2"] td').nth(2).textContent()).toBe('gate passed');
      await page.selectOption('#cycle-select', '1');
      await page.selectOption('#filter-status', 'failing');
      const failing = page.locator('#check-rows tr').first();
      await failing.locator('summary').click();
      expect(await failing.locator('summary').textContent()).toContain('ws-1011-internal-error');
      expect(await failing.locator('dl').textContent()).toContain('closeCode1011');
      expect(errors).toEqual([]);
      expect(blocked).toEqual([]);
      expect(await failing.locator('dl').textContent()).toMatch(/configloop\.config\.yaml:\d+/);
      // No absolute path of this machine in what the page says itself (output tails are what a command printed).
      expect(readFileSync(file, 'utf8').replace(/<pre>[^<]*<\/pre>/g, '')).not.toContain(project);

      rmSync(file);
      const again = await runCli(['report'], { cwd: project });
      expect(again.code, again.stderr).toBe(0);
      expect(readFileSync(file, 'utf8')).toContain('id="report-data"');
    }, 120_000);
  });
});
