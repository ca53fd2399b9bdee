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
 * the power cut an fsync would guard against. Reaping is in reap.ts (it runs commands, and exec.ts
 * records here).
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import { processStartTicks, type GroupId, type StopOutcome } from './process-group.js';

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
