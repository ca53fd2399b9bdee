/** Writes a cycle's record and its rendered reports. Every file is written atomically. */
import { join } from 'node:path';
import { writeFileAtomic } from '../fs-atomic.js';
import { renderCycleJson } from '../report/json.js';
import { renderJunit } from '../report/junit.js';
import { renderCycleMarkdown } from '../report/markdown.js';
import { renderTrend } from '../report/trend.js';
import { writeRecord } from './history.js';
import type { CycleRecord } from './record.js';

export interface PublishedCycle {
  markdown: string;
  json: string;
  junit: string;
  record: string;
  /** reports/summary.md: the trend across every cycle of the service. */
  summary: string;
}

export function reportBaseName(cycle: number): string {
  return `cycle-${String(cycle).padStart(3, '0')}`;
}

/** `history` holds the earlier cycles of the same service, oldest first. */
export async function publishCycle(reportsDir: string, record: CycleRecord, history: CycleRecord[]): Promise<PublishedCycle> {
  const base = join(reportsDir, reportBaseName(record.cycle));
  const paths: PublishedCycle = {
    record: await writeRecord(reportsDir, record),
    markdown: `${base}.md`,
    json: `${base}.json`,
    junit: `${base}.junit.xml`,
    summary: join(reportsDir, 'summary.md'),
  };
  const md = renderCycleMarkdown(record, history);
  const json = `${JSON.stringify(renderCycleJson(record, history), null, 2)}\n`;
  await writeFileAtomic(paths.markdown, md);
  await writeFileAtomic(paths.json, json);
  await writeFileAtomic(paths.junit, renderJunit(record));
  await writeFileAtomic(join(reportsDir, 'latest.md'), md);
  await writeFileAtomic(join(reportsDir, 'latest.json'), json);
  await writeFileAtomic(paths.summary, renderTrend([...history.filter((h) => h.service === record.service), record]));
  return paths;
}
