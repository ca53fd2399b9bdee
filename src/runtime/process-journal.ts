/**
 * The process journal: one small file per process group the loop starts (revisions, builds, fix
 * commands, `command` checks) under REPORTS/.processes/ (beside the lock: runtime state, not
 * history), written when the group starts and removed once it is stopped. A loop killed with
 * SIGKILL runs no cleanup at all; its groups keep ports and may keep editing the working copy. The
 * next run (and `status`) reads the journal, finds the groups whose loop is gone, and stops them.
 *
 * One file per group, not one shared file: the loop adds and removes entries while `status` may be
 * reaping another loop's, and separate files need no read-modify-write. Entries are written with a
 * rename (never torn) but without fsync: what they describe, running processes, does not survive
 * the power cut an fsync would guard against.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import type { Logger } from '../log.js';
import { isProcessAlive, processStartTicks, stopGroup, type GroupId, type StopOutcome } from './process-group.js';

export interface ProcessJournalEntry {
  version: 1;
  host: string;
  /** The loop process that started the group. */
  loop: { pid: number; startTicks: number | null; runId?: string };
  pgid: number;
  startTicks: number;
  startedAt: string;
  /** `command` (runs to its end: build, fix, check) or `process` (meant to keep running: a revision). */
  kind: 'command' | 'process';
  /** What the caller named it (a revision name), when it did. */
  label?: string;
  /** The program's file name only: arguments may hold secrets, and paths do not belong in reports. */
  program: string;
  /**
   * An argument array the reaper runs once the group is stopped: what the group started outside
   * itself and would outlive it (a container that `podman run` started keeps running under conmon
   * when the client is killed). Written by deploy-loop from the engine's own argv, never from output.
   */
  afterStop?: string[];
}

export interface StoppedSurvivor {
  pgid: number;
  kind: ProcessJournalEntry['kind'];
  label?: string;
  program: string;
  startedAt: string;
  loopPid: number;
  runId?: string;
  /** How it ended: SIGTERM within the grace period, SIGKILL after it, still there after SIGKILL, or gone already (only its afterStop had work left). */
  outcome: StopOutcome;
  /** Live processes in the group when it was found. */
  members: number;
  /** The entry's afterStop command ran and succeeded (e.g. its container was there and was removed). */
  afterStop?: 'done' | 'failed';
}

const ENTRY = /^group-(\d+)-(\d+)\.json$/;
const TEMP = /^\.group-\d+-\d+\.json\.(\d+)\.tmp$/;
/** A survivor gets this long after SIGTERM, as a revision the loop stops itself does. */
const REAP_GRACE_MS = 3000;

export function processJournalDir(reportsDir: string): string {
  return join(reportsDir, '.processes');
}

interface ActiveJournal {
  dir: string;
  loop: ProcessJournalEntry['loop'];
  host: string;
  log: Logger | undefined;
  warned: boolean;
}

let active: ActiveJournal | undefined;

export interface OpenJournal {
  dir: string;
  /** Stops recording new groups here; groups already recorded still remove their entries. */
  close(): void;
}

/**
 * From now on every process group this process starts is recorded under `reportsDir`. One journal
 * at a time: the loop holds the reports folder's lock while it records. Opening another replaces it.
 */
export function openProcessJournal(reportsDir: string, opts: { runId?: string; log?: Logger } = {}): OpenJournal {
  const dir = processJournalDir(reportsDir);
  mkdirSync(dir, { recursive: true });
  const journal: ActiveJournal = {
    dir,
    loop: { pid: process.pid, startTicks: processStartTicks(process.pid) ?? null, ...(opts.runId ? { runId: opts.runId } : {}) },
    host: hostname(),
    log: opts.log,
    warned: false,
  };
  active = journal;
  return {
    dir,
    close: () => {
      if (active === journal) active = undefined;
    },
  };
}

/**
 * Reaps the survivors of a dead loop, then records this loop's groups: what the loop calls at its
 * start, holding the lock. Returns what it stopped, for the recovered record.
 */
export async function startProcessJournal(reportsDir: string, log: Logger, opts: { runId?: string } = {}): Promise<{ stopped: StoppedSurvivor[]; journal: OpenJournal }> {
  const stopped = await reapSurvivors(reportsDir, log);
  return { stopped, journal: openProcessJournal(reportsDir, { ...opts, log }) };
}

/**
 * Records a group in the active journal; the returned function removes the entry (call it once the
 * group is stopped). A journal that cannot be written costs a warning, never the command.
 */
export function recordGroup(group: GroupId, what: { kind: ProcessJournalEntry['kind']; program: string; label?: string; afterStop?: readonly string[] }): () => void {
  const journal = active;
  if (!journal) return () => {};
  const entry: ProcessJournalEntry = {
    version: 1,
    host: journal.host,
    loop: journal.loop,
    pgid: group.pgid,
    startTicks: group.startTicks,
    startedAt: new Date().toISOString(),
    kind: what.kind,
    ...(what.label ? { label: what.label } : {}),
    program: what.program,
    ...(what.afterStop?.length ? { afterStop: [...what.afterStop] } : {}),
  };
  const name = `group-${group.pgid}-${group.startTicks}.json`;
  const file = join(journal.dir, name);
  const tmp = join(journal.dir, `.${name}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, `${JSON.stringify(entry)}\n`);
    renameSync(tmp, file);
  } catch (err) {
    if (!journal.warned) {
      journal.warned = true;
      journal.log?.warn({ dir: journal.dir, err: (err as Error).message }, 'cannot write the process journal: processes left by a crash will not be stopped by the next run');
    }
    return () => {};
  }
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    rmSync(file, { force: true });
  };
}

/**
 * Stops every recorded process group whose loop is gone (this host only: another host's pids mean
 * nothing here), logs each one, removes their entries, and returns what it stopped. Groups already
 * gone only lose their entry. A live loop's entries are left alone.
 */
export async function reapSurvivors(reportsDir: string, log: Logger, opts: { graceMs?: number } = {}): Promise<StoppedSurvivor[]> {
  const dir = processJournalDir(reportsDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const host = hostname();
  const work: Array<Promise<StoppedSurvivor | undefined>> = [];
  for (const name of names) {
    const file = join(dir, name);
    const temp = TEMP.exec(name);
    if (temp) {
      // Left by a writer that died between write and rename.
      if (!isProcessAlive(Number(temp[1]))) rmSync(file, { force: true });
      continue;
    }
    if (!ENTRY.test(name)) continue;
    const entry = readEntry(file);
    if (!entry) {
      log.warn({ file }, 'process journal: unreadable entry, left as it is');
      continue;
    }
    if (entry.host !== host) continue;
    if (isProcessAlive(entry.loop.pid, entry.loop.startTicks ?? undefined)) continue;
    work.push(reapOne(entry, file, log, opts.graceMs ?? REAP_GRACE_MS));
  }
  // In parallel: each survivor gets its grace period, and they need not add up.
  const stopped = (await Promise.all(work)).filter((s): s is StoppedSurvivor => s !== undefined);
  return stopped.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
}

async function reapOne(entry: ProcessJournalEntry, file: string, log: Logger, graceMs: number): Promise<StoppedSurvivor | undefined> {
  const { outcome, members } = await stopGroup({ pgid: entry.pgid, startTicks: entry.startTicks }, graceMs);
  // Even when the group is gone, what it started outside itself may not be (a container).
  const after = entry.afterStop ? await runAfterStop(entry, log) : undefined;
  rmSync(file, { force: true });
  if (outcome === 'gone' && after !== 'done') return undefined;
  const survivor: StoppedSurvivor = {
    pgid: entry.pgid,
    kind: entry.kind,
    ...(entry.label ? { label: entry.label } : {}),
    program: entry.program,
    startedAt: entry.startedAt,
    loopPid: entry.loop.pid,
    ...(entry.loop.runId ? { runId: entry.loop.runId } : {}),
    outcome,
    members,
    ...(after ? { afterStop: after } : {}),
  };
  const what = entry.label ? `${entry.kind} ${entry.label} (${entry.program})` : `${entry.kind} ${entry.program}`;
  const how = outcome === 'SIGTERM' ? 'stopped with SIGTERM' : outcome === 'SIGKILL' ? `killed (SIGKILL after ${graceMs} ms)` : outcome === 'gone' ? 'already gone' : 'still running after SIGKILL';
  log.warn(
    { pgid: entry.pgid, members, startedAt: entry.startedAt, loopPid: entry.loop.pid, runId: entry.loop.runId, outcome },
    `left running by loop pid ${entry.loop.pid}, which is gone: ${what}, process group ${entry.pgid} started ${entry.startedAt}; ${how}`,
  );
  return survivor;
}

/** Runs the entry's afterStop command; exit 0 means it had something to do and did it. */
async function runAfterStop(entry: ProcessJournalEntry, log: Logger): Promise<'done' | 'failed'> {
  // Imported here: exec.ts records its groups in this journal, so a static import would be a cycle.
  // The environment is this run's: the engine is reached as the run that started it did (CONTAINER_HOST, DOCKER_HOST).
  const { runCommand } = await import('../exec.js');
  const res = await runCommand(entry.afterStop!, { timeoutMs: 30_000, tailLines: 5 });
  if (res.ok) log.warn({ pgid: entry.pgid, label: entry.label }, `left running by loop pid ${entry.loop.pid}: removed what ${entry.label ?? entry.program} had started outside its process group (${entry.afterStop![0] ? basename(entry.afterStop![0]) : ''} ${entry.afterStop!.slice(1, 2).join(' ')})`);
  return res.ok ? 'done' : 'failed';
}

function readEntry(file: string): ProcessJournalEntry | undefined {
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8')) as Partial<ProcessJournalEntry>;
    if (raw.version !== 1 || typeof raw.pgid !== 'number' || typeof raw.startTicks !== 'number' || typeof raw.loop?.pid !== 'number' || typeof raw.host !== 'string') return undefined;
    return {
      version: 1,
      host: raw.host,
      loop: raw.loop,
      pgid: raw.pgid,
      startTicks: raw.startTicks,
      startedAt: typeof raw.startedAt === 'string' ? raw.startedAt : 'unknown',
      kind: raw.kind === 'process' ? 'process' : 'command',
      ...(typeof raw.label === 'string' ? { label: raw.label } : {}),
      program: typeof raw.program === 'string' ? raw.program : 'unknown',
      ...(Array.isArray(raw.afterStop) && raw.afterStop.length && raw.afterStop.every((a) => typeof a === 'string') ? { afterStop: raw.afterStop } : {}),
    };
  } catch {
    return undefined;
  }
}
