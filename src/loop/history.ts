/**
 * The history store: one record file per cycle under REPORTS/history/, each written atomically, so a
 * crash mid-write never corrupts what earlier cycles recorded. Beside the folder, history-index.json: per
 * cycle the record without its results, and each result reduced to its name, kind, priority and
 * status (what the reports read from cycles before the previous one), so a loop cycle reads and
 * validates one full record, not all of them (readHistoryIndexed). The index is rebuildable: an
 * entry whose record file changed, or a record without an entry, is read from the record again.
 */
import { statSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeRebuildableSync } from '../fs-atomic.js';
import type { z } from 'zod';
import { RECORD_SCHEMA_VERSION, cycleRecordSchema, type CycleRecord } from '../model/record.js';
import type { CheckResult, CheckStatus } from '../model/check-result.js';

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
  await updateHistoryIndex(reportsDir, [record]).catch(() => undefined); // rebuildable: a failed write costs one slower read
  return file;
}

// ---- the compact index -------------------------------------------------------------------------

/** Beside history/, not in it: history/ holds records and journal entries only, and tools list it. */
export function historyIndexFile(reportsDir: string): string {
  return join(reportsDir, 'history-index.json');
}
const INDEX_VERSION = 1;
/** One letter per status; upper case when the pass needed a retry (what "flaky" is computed from). */
const CODE: Record<CheckStatus, string> = { pass: 'p', degraded: 'd', fail: 'f', error: 'e', skipped: 's' };
const STATUS: Record<string, CheckStatus> = { p: 'pass', d: 'degraded', f: 'fail', e: 'error', s: 'skipped', P: 'pass', D: 'degraded' };

interface IndexEntry {
  file: string;
  size: number;
  mtimeMs: number;
  /** The record with `smoke.results` empty. */
  head: CycleRecord;
  /** Positions in the index's check table, one per result in record order. */
  checks: number[];
  /** One status letter per result. */
  codes: string;
}

interface IndexFile {
  version: number;
  /** [name, kind, priority] of every check any cycle had. */
  table: [string, string, string][];
  entries: IndexEntry[];
}

export interface IndexedHistory extends History {
  /**
   * The full, validated record of the latest cycle, also the last of `records`. The other records
   * are index skeletons: results carry name, kind, priority and status only (durations and figures
   * 0 and empty, a retried pass with a synthetic failed attempt); never write them back.
   */
  previous: CycleRecord | undefined;
  /** Records read from their files this time (the previous one, and any the index lacked). */
  readRecords: number;
}

function passedAfterRetry(r: CheckResult): boolean {
  return (r.status === 'pass' || r.status === 'degraded') && (r.attemptLog ?? []).some((a) => a.status === 'fail' || a.status === 'error');
}

function entryFor(record: CycleRecord, file: string, size: number, mtimeMs: number, table: IndexFile['table'], slots: Map<string, number>): IndexEntry {
  const checks: number[] = [];
  let codes = '';
  for (const r of record.smoke.results) {
    const key = `${r.name}\u0000${r.kind}\u0000${r.priority}`;
    let slot = slots.get(key);
    if (slot === undefined) {
      slot = table.length;
      table.push([r.name, r.kind, r.priority]);
      slots.set(key, slot);
    }
    checks.push(slot);
    const c = CODE[r.status];
    codes += passedAfterRetry(r) ? c.toUpperCase() : c;
  }
  // A copy: the index outlives this call (see `written`) and must not change with the live record.
  return { file, size, mtimeMs, head: structuredClone({ ...record, smoke: { ...record.smoke, results: [] } }), checks, codes };
}

/** A record rebuilt from its index entry: what the reports read from cycles before the previous one. */
function skeleton(e: IndexEntry, table: IndexFile['table']): CycleRecord {
  const results: CheckResult[] = new Array(e.checks.length);
  for (let i = 0; i < e.checks.length; i++) {
    const [name, kind, priority] = table[e.checks[i] as number] as [string, string, string];
    const code = e.codes[i] as string;
    const status = STATUS[code] ?? 'error';
    const r = { name, kind, priority, status, durationMs: 0, attempts: 1, figures: {} } as CheckResult;
    if (code === 'P' || code === 'D') {
      r.attempts = 2;
      r.attemptLog = [{ attempt: 1, status: 'fail', durationMs: 0 }, { attempt: 2, status, durationMs: 0 }];
    }
    results[i] = r;
  }
  return { ...e.head, smoke: { ...e.head.smoke, results } };
}

/**
 * The index this process last wrote, by file, with the size and mtime it got. A loop adds one entry
 * per cycle (updateHistoryIndex), and reading the file back each time validated every cycle's head
 * again, a cost that grew with the history. Used only to add entries, and only while the file on
 * disk is still that one; reading the history (once per run) always reads the file.
 */
const written = new Map<string, { size: number; mtimeMs: number; index: IndexFile }>();

async function readIndex(file: string, opts: { ownWrite?: boolean } = {}): Promise<IndexFile | undefined> {
  const mine = opts.ownWrite ? written.get(file) : undefined;
  if (mine) {
    const st = statSync(file, { throwIfNoEntry: false });
    if (st && st.size === mine.size && st.mtimeMs === mine.mtimeMs) return { version: INDEX_VERSION, table: [...mine.index.table], entries: [...mine.index.entries] };
    written.delete(file);
  }
  try {
    const raw = JSON.parse(await readFile(file, 'utf8')) as IndexFile;
    if (raw?.version !== INDEX_VERSION || !Array.isArray(raw.table) || !Array.isArray(raw.entries)) return undefined;
    const table = raw.table;
    if (!table.every((t) => Array.isArray(t) && t.length === 3 && t.every((x) => typeof x === 'string'))) return undefined;
    // An entry that does not hold together is dropped: its record is then read from its file.
    const entries = raw.entries.filter(
      (e) =>
        typeof e?.file === 'string' && typeof e.size === 'number' && typeof e.mtimeMs === 'number' &&
        typeof e.codes === 'string' && Array.isArray(e.checks) && e.checks.length === e.codes.length &&
        e.checks.every((c) => Number.isInteger(c) && c >= 0 && c < table.length) && [...e.codes].every((c) => c in STATUS) &&
        cycleRecordSchema.safeParse(e.head).success,
    );
    return { version: INDEX_VERSION, table, entries };
  } catch {
    return undefined;
  }
}

/** Reads, validates and version-checks one record file; a problem instead of a record when it is not one. */
async function readRecordFile(file: string): Promise<{ record: CycleRecord } | { problem: HistoryProblem }> {
  try {
    const raw: unknown = JSON.parse(await readFile(file, 'utf8'));
    const version = typeof raw === 'object' && raw !== null ? (raw as { schemaVersion?: unknown }).schemaVersion : undefined;
    if (version !== RECORD_SCHEMA_VERSION) return { problem: { file, message: `unsupported record version ${String(version)}` } };
    const parsed = cycleRecordSchema.safeParse(raw);
    if (!parsed.success) return { problem: { file, message: `not a valid cycle record (schema/cycle-record.schema.json): ${schemaProblems(parsed.error)}` } };
    return { record: raw as CycleRecord };
  } catch (err) {
    return { problem: { file, message: `not a readable cycle record: ${(err as Error).message}` } };
  }
}

/**
 * The history a loop cycle needs: every record file is stat'ed, the latest one read and validated in
 * full, the others taken from the index when their file is unchanged since it was indexed (size and
 * mtime) and read in full otherwise (then indexed). Same records, order and problems as readHistory,
 * but for the skeletons (see IndexedHistory).
 */
export async function readHistoryIndexed(reportsDir: string, service?: string): Promise<IndexedHistory> {
  const dir = historyDir(reportsDir);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => /^cycle-\d{3,}\.json$/.test(n));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], problems: [], previous: undefined, readRecords: 0 };
    throw err;
  }
  const index = (await readIndex(historyIndexFile(reportsDir))) ?? { version: INDEX_VERSION, table: [], entries: [] };
  const byFile = new Map(index.entries.map((e) => [e.file, e]));
  const slots = new Map(index.table.map(([n, k, p], i) => [`${n}\u0000${k}\u0000${p}`, i]));
  // The latest by number is read in full whatever the index says: it is the one a cycle compares with.
  const latest = names.reduce<string | undefined>((best, n) => (best === undefined || cycleOf(n) > cycleOf(best) ? n : best), undefined);
  const records: CycleRecord[] = [];
  const problems: HistoryProblem[] = [];
  const entries: IndexEntry[] = [];
  let previous: CycleRecord | undefined;
  let readRecords = 0;
  let changed = false;
  for (const name of names) {
    const file = join(dir, name);
    const st = await stat(file).catch(() => undefined);
    const known = byFile.get(name);
    const fresh = st !== undefined && known !== undefined && known.size === st.size && known.mtimeMs === st.mtimeMs;
    if (fresh && name !== latest) {
      entries.push(known);
      if (service === undefined || known.head.service === service) records.push(skeleton(known, index.table));
      continue;
    }
    const read = await readRecordFile(file);
    readRecords++;
    if ('problem' in read) {
      problems.push(read.problem);
      if (known) changed = true;
      continue;
    }
    const rec = read.record;
    if (fresh && known) entries.push(known);
    else if (st) {
      entries.push(entryFor(rec, name, st.size, st.mtimeMs, index.table, slots));
      changed = true;
    }
    if (service === undefined || rec.service === service) {
      records.push(rec);
      if (name === latest) previous = rec;
    }
  }
  if (entries.length !== index.entries.length) changed = true;
  records.sort((a, b) => a.cycle - b.cycle);
  if (records.at(-1) !== previous) {
    previous = await latestInFull(dir, records);
    readRecords++;
  }
  if (changed) {
    entries.sort((a, b) => cycleOf(a.file) - cycleOf(b.file));
    await writeIndex(historyIndexFile(reportsDir), { version: INDEX_VERSION, table: index.table, entries }).catch(() => undefined);
  }
  return { records, problems, previous: records.at(-1) === previous ? previous : undefined, readRecords };
}

/**
 * The service's own latest cycle is the one compared with: when another service wrote the newest
 * file, this service's latest is still a skeleton; it is read in full in place.
 */
async function latestInFull(dir: string, records: CycleRecord[]): Promise<CycleRecord | undefined> {
  const last = records.at(-1);
  if (!last) return undefined;
  const read = await readRecordFile(join(dir, recordFileName(last.cycle)));
  if (!('record' in read)) return undefined;
  records[records.length - 1] = read.record;
  return read.record;
}

function cycleOf(name: string): number {
  return Number(/cycle-(\d+)\.json$/.exec(name)?.[1] ?? 0);
}

async function writeIndex(file: string, index: IndexFile): Promise<void> {
  written.delete(file);
  // Rebuildable from the records, so no fsync of its own is needed: a torn index is just re-read.
  writeRebuildableSync(file, JSON.stringify(index));
  const st = statSync(file, { throwIfNoEntry: false });
  if (st) written.set(file, { size: st.size, mtimeMs: st.mtimeMs, index });
}

/** Adds (or replaces) the index entries of records just written. */
export async function updateHistoryIndex(reportsDir: string, records: CycleRecord[]): Promise<void> {
  const dir = historyDir(reportsDir);
  const index = (await readIndex(historyIndexFile(reportsDir), { ownWrite: true })) ?? { version: INDEX_VERSION, table: [], entries: [] };
  const slots = new Map(index.table.map(([n, k, p], i) => [`${n}\u0000${k}\u0000${p}`, i]));
  const byFile = new Map(index.entries.map((e) => [e.file, e]));
  for (const rec of records) {
    const name = recordFileName(rec.cycle);
    const st = statSync(join(dir, name));
    byFile.set(name, entryFor(rec, name, st.size, st.mtimeMs, index.table, slots));
  }
  const entries = [...byFile.values()].sort((a, b) => cycleOf(a.file) - cycleOf(b.file));
  await writeIndex(historyIndexFile(reportsDir), { version: INDEX_VERSION, table: index.table, entries });
}
