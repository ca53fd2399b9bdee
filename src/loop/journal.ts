/**
 * The cycle journal: `history/cycle-NNN.started.json` is written (atomically) before a cycle starts
 * and removed once its record is written. One left behind means the run died mid-cycle (kill -9, a
 * crash, a power cut); the next run, holding the lock so no live loop owns it, records that cycle
 * as `interrupted` and numbers its own cycles after it.
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrafficEntry } from '../model/traffic.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { Logger } from '../log.js';
import { historyDir, writeRecord, type History } from './history.js';
import { RECORD_SCHEMA_VERSION, type CycleRecord } from '../model/record.js';

export interface StartedCycle {
  cycle: number;
  runId: string;
  pid: number;
  startedAt: string;
  service: string;
  target: string;
  /** The split the last record left behind: what traffic should still be after a kill. */
  trafficBefore: TrafficEntry[];
  /** The step that finished last, and the record as it stood then (redacted like any record). */
  afterStep?: string;
  partial?: CycleRecord;
}

const STARTED = /^cycle-(\d{3,})\.started\.json$/;

export function startedFile(reportsDir: string, cycle: number): string {
  return join(historyDir(reportsDir), `cycle-${String(cycle).padStart(3, '0')}.started.json`);
}

export async function markCycleStarted(reportsDir: string, entry: StartedCycle): Promise<void> {
  await writeFileAtomic(startedFile(reportsDir, entry.cycle), `${JSON.stringify(entry, null, 2)}\n`);
}

/**
 * After each step: the entry gains the record so far. Not fsynced: the journal is for a killed
 * process, whose written files survive it; a power cut may lose the last step, never tear the file.
 */
export async function journalStep(reportsDir: string, entry: StartedCycle, step: string, partial: CycleRecord): Promise<void> {
  await writeFileAtomic(startedFile(reportsDir, entry.cycle), `${JSON.stringify({ ...entry, afterStep: step, partial }, null, 2)}\n`, { durable: false });
}

export async function clearCycleStarted(reportsDir: string, cycle: number): Promise<void> {
  await rm(startedFile(reportsDir, cycle), { force: true });
}

/**
 * The record of a cycle whose run was killed: what the journal knew (the steps that finished, the
 * revision deployed, the split last set), and nothing it did not.
 */
export function interruptedRecord(s: StartedCycle, now = new Date(), survivors: readonly string[] = []): CycleRecord {
  const left = survivors.length > 0 ? `; the next run stopped what it left running: ${survivors.join(', ')}` : '';
  if (s.partial && s.afterStep) return recoveredRecord(s, s.partial, s.afterStep, now, left);
  const note = `the run was killed (pid ${s.pid}) during this cycle${left}`;
  return {
    schemaVersion: RECORD_SCHEMA_VERSION,
    service: s.service,
    cycle: s.cycle,
    runId: s.runId,
    startedAt: s.startedAt,
    finishedAt: now.toISOString(),
    target: s.target,
    build: { status: 'failed', kind: 'unknown', durationMs: 0, message: note, outputTail: [] },
    deploy: { status: 'skipped', durationMs: 0, message: note },
    traffic: { before: s.trafficBefore, after: s.trafficBefore, action: 'kept', note: `${note}; the split shown is the last one recorded before it` },
    smoke: { durationMs: 0, results: [] },
    gate: { passed: false, tallies: [], reasons: [note] },
    verdict: 'interrupted',
    checkLocations: {},
    durations: { buildMs: 0, deployMs: 0, smokeMs: 0, totalMs: 0 },
    runStatus: 'interrupted',
    runStatusDetail: note,
  };
}

function recoveredRecord(s: StartedCycle, partial: CycleRecord, afterStep: string, now: Date, left: string): CycleRecord {
  const finished = (partial.steps ?? []).map((st) => st.name);
  const note = `the run was killed (pid ${s.pid}) during this cycle, after the ${afterStep} step${finished.length > 0 ? ` (finished: ${finished.join(', ')})` : ''}${left}`;
  const trafficNote = afterStep.startsWith('canary-')
    ? `${note}; the split shown is the last one it set (${afterStep.slice('canary-'.length)}% to the candidate)`
    : `${note}; the split shown is the last one it read`;
  return {
    ...partial,
    finishedAt: now.toISOString(),
    traffic: { ...partial.traffic, note: trafficNote },
    gate: { passed: false, tallies: [], reasons: [note] },
    verdict: 'interrupted',
    runStatus: 'interrupted',
    runStatusDetail: note,
  };
}

/**
 * Records every unfinished cycle left in the journal and adds it to `history`, so numbering goes on
 * after it. Call only while holding the reports lock. Returns the records written.
 */
export async function recoverUnfinishedCycles(reportsDir: string, history: History, service: string, log: Logger, survivors: readonly string[] = []): Promise<CycleRecord[]> {
  let names: string[];
  try {
    names = (await readdir(historyDir(reportsDir))).filter((n) => STARTED.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const written: CycleRecord[] = [];
  for (const name of names) {
    const file = join(historyDir(reportsDir), name);
    const cycle = Number(STARTED.exec(name)?.[1]);
    let entry: StartedCycle;
    try {
      entry = JSON.parse(await readFile(file, 'utf8')) as StartedCycle;
    } catch (err) {
      log.warn({ file }, `journal: unreadable entry left as it is: ${(err as Error).message}`);
      continue;
    }
    if (entry.service !== service) continue;
    // The record was written and the process died before removing the entry: nothing was lost.
    if (!history.records.some((r) => r.cycle === cycle)) {
      const record = interruptedRecord({ ...entry, cycle }, new Date(), survivors);
      await writeRecord(reportsDir, record);
      history.records.push(record);
      history.records.sort((a, b) => a.cycle - b.cycle);
      written.push(record);
      log.warn({ cycle, pid: entry.pid, runId: entry.runId, startedAt: entry.startedAt, trafficBefore: entry.trafficBefore }, `cycle ${cycle} did not finish: ${record.runStatusDetail}; recorded as interrupted`);
    }
    await rm(file, { force: true });
  }
  return written;
}
