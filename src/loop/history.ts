/**
 * The history store: one record file per cycle under REPORTS/history/, each written atomically, so a
 * crash mid-write never corrupts what earlier cycles recorded.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../fs-atomic.js';
import type { z } from 'zod';
import { RECORD_SCHEMA_VERSION, cycleRecordSchema, type CycleRecord } from '../model/record.js';

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
      const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
      const version = typeof raw === 'object' && raw !== null ? (raw as { schemaVersion?: unknown }).schemaVersion : undefined;
      if (version !== RECORD_SCHEMA_VERSION) {
        problems.push({ file, message: `unsupported record version ${String(version)}` });
        continue;
      }
      // A hand-edited or half-migrated record is named here, not met later as a crash in a renderer.
      const parsed = cycleRecordSchema.safeParse(raw);
      if (!parsed.success) {
        problems.push({ file, message: `not a valid cycle record (schema/cycle-record.schema.json): ${schemaProblems(parsed.error)}` });
        continue;
      }
      // The record as written, not zod's copy: parsing strips keys the schema does not name (a newer
      // version's fields), and `report` writes records back, which must not lose them.
      const rec = raw as CycleRecord;
      if (service === undefined || rec.service === service) records.push(rec);
    } catch (err) {
      problems.push({ file, message: `not a readable cycle record: ${(err as Error).message}` });
    }
  }
  records.sort((a, b) => a.cycle - b.cycle);
  return { records, problems };
}

/** The first three problems, each at its field: `smoke.results.0.status: Invalid option: …`. */
function schemaProblems(error: z.ZodError): string {
  const shown = error.issues.slice(0, 3).map((i) => `${i.path.length > 0 ? i.path.join('.') : '(record)'}: ${i.message}`);
  const more = error.issues.length > 3 ? `; and ${error.issues.length - 3} more` : '';
  return `${shown.join('; ')}${more}`;
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
