/**
 * The history store: one record file per cycle under REPORTS/history/, each written atomically, so a
 * crash mid-write never corrupts what earlier cycles recorded.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs-atomic.js';
import { RECORD_SCHEMA_VERSION, type CycleRecord } from './record.js';

export interface HistoryProblem {
  file: string;
  message: string;
}

export interface History {
  records: CycleRecord[];
  /** Files that could not be read as records; reported, never fatal, never overwritten. */
  problems: HistoryProblem[];
}

export function historyDir(reportsDir: string): string {
  return join(reportsDir, 'history');
}

export function recordFileName(cycle: number): string {
  return `cycle-${String(cycle).padStart(3, '0')}.json`;
}

export async function readHistory(reportsDir: string, service?: string): Promise<History> {
  const dir = historyDir(reportsDir);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^cycle-\d{3,}\.json$/.test(n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], problems: [] };
    throw err;
  }
  const records: CycleRecord[] = [];
  const problems: HistoryProblem[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const rec = JSON.parse(await readFile(file, 'utf8')) as CycleRecord;
      if (rec.schemaVersion !== RECORD_SCHEMA_VERSION || typeof rec.cycle !== 'number') {
        problems.push({ file, message: `unsupported record version ${String(rec.schemaVersion)}` });
        continue;
      }
      if (service === undefined || rec.service === service) records.push(rec);
    } catch (err) {
      problems.push({ file, message: `not a readable cycle record: ${(err as Error).message}` });
    }
  }
  records.sort((a, b) => a.cycle - b.cycle);
  return { records, problems };
}

/** The next cycle number; numbers keep counting across runs so reports never overwrite each other. */
export function nextCycleNumber(history: History): number {
  const fromRecords = history.records.reduce((m, r) => Math.max(m, r.cycle), 0);
  const fromProblems = history.problems.reduce((m, p) => {
    const n = /cycle-(\d+)\.json$/.exec(p.file)?.[1];
    return n ? Math.max(m, Number(n)) : m;
  }, 0);
  return Math.max(fromRecords, fromProblems) + 1;
}

export async function writeRecord(reportsDir: string, record: CycleRecord): Promise<string> {
  const file = join(historyDir(reportsDir), recordFileName(record.cycle));
  await writeFileAtomic(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}
