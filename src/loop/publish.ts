/** Writes a cycle's record and its rendered reports. Every file is written atomically. */
import { join } from 'node:path';
import { writeRebuildableSync } from '../fs-atomic.js';
import { renderCycleReports } from '../report/cycle-reports.js';
import { HTML_REPORT_FILE, renderHtmlReport } from '../report/html.js';
import { renderTrend } from '../report/trend.js';
import { writeRecord } from './history.js';
import type { CycleRecord } from '../model/record.js';
import { type PublishedCycle } from '../model/run-outcome.js';


export type { PublishedCycle };

export function reportBaseName(cycle: number): string {
  return `cycle-${String(cycle).padStart(3, '0')}`;
}

/**
 * `history` holds the earlier cycles of the same service, oldest first. `html: false` skips the
 * whole-history page, for callers that write it once after their last cycle (publishHtmlReport):
 * `report`, and `run`, which writes it when the run ends however it ends (closeRun).
 */
export async function publishCycle(reportsDir: string, record: CycleRecord, history: CycleRecord[], opts: { html?: boolean } = {}): Promise<PublishedCycle> {
  const base = join(reportsDir, reportBaseName(record.cycle));
  // The record is written first and nothing else is until it is durable; the reports are rendered
  // while its fsync runs (the renderers only read the record), not after.
  const recordWritten = writeRecord(reportsDir, record);
  let files: [string, string][];
  try {
    files = renderReports(reportsDir, base, record, history, opts.html !== false);
  } catch (err) {
    await recordWritten.catch(() => undefined);
    throw err;
  }
  const paths: PublishedCycle = {
    record: await recordWritten,
    markdown: `${base}.md`,
    json: `${base}.json`,
    junit: `${base}.junit.xml`,
    summary: join(reportsDir, 'summary.md'),
  };
  // Rebuildable from the record just made durable, so no fsync: each is atomic on its own, written
  // at once (a few microseconds each into the page cache, where an await per step cost far more).
  for (const [path, text] of files) writeRebuildableSync(path, text);
  return paths;
}

/** The report files of a cycle, path and text; the whole-history page when `html`. */
function renderReports(reportsDir: string, base: string, record: CycleRecord, history: CycleRecord[], html: boolean): [string, string][] {
  // One summary (and one redaction of the record) for all three formats.
  const { markdown: md, json, junit } = renderCycleReports(record, history);
  const all = [...history.filter((h) => h.service === record.service), record];
  const files: [string, string][] = [
    [`${base}.md`, md],
    [`${base}.json`, json],
    [`${base}.junit.xml`, junit],
    [join(reportsDir, 'latest.md'), md],
    [join(reportsDir, 'latest.json'), json],
    [join(reportsDir, 'summary.md'), renderTrend(all)],
  ];
  // The whole history in one self-contained page (charts, gate tables, every check and its evidence).
  if (html) files.push([join(reportsDir, HTML_REPORT_FILE), renderHtmlReport(all)]);
  return files;
}

/**
 * Writes reports/index.html, the whole history of the last record's service in one page. Re-rendering
 * it after every cycle cost a render of every cycle so far, growing with the history, for a page the
 * records rebuild at any time (`deploy-loop report`); a run writes it once, when it ends.
 */
export async function publishHtmlReport(reportsDir: string, records: readonly CycleRecord[]): Promise<string> {
  const service = records.at(-1)?.service;
  const file = join(reportsDir, HTML_REPORT_FILE);
  writeRebuildableSync(file, renderHtmlReport(records.filter((r) => r.service === service)));
  return file;
}
