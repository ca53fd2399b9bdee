/**
 * Reaping the process journal (process-journal.ts): the groups a dead loop left running are stopped,
 * then what they started outside themselves (a container) is removed. Apart from the journal's
 * writer because it runs commands through exec.ts, which records its own groups in the journal.
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { runCommand } from '../exec.js';
import type { Logger } from '../log.js';
import { isProcessAlive, stopGroup } from './process-group.js';
import { openProcessJournal, processJournalDir, type OpenJournal, type ProcessJournalEntry, type StoppedSurvivor } from './process-journal.js';

const ENTRY = /^group-(\d+)-(\d+)\.json$/;
const TEMP = /^\.group-\d+-\d+\.json\.(\d+)\.tmp$/;
/** A survivor gets this long after SIGTERM, as a revision the loop stops itself does. */
const REAP_GRACE_MS = 3000;

/**
 * Reaps the survivors of a dead loop, then records this loop's groups: what the loop calls at its
 * start, holding the lock. Returns what it stopped, for the recovered record.
 */
export async function startProcessJournal(reportsDir: string, log: Logger, opts: { runId?: string } = {}): Promise<{ stopped: StoppedSurvivor[]; journal: OpenJournal }> {
  const stopped = await reapSurvivors(reportsDir, log);
  return { stopped, journal: openProcessJournal(reportsDir, { ...opts, log }) };
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
  // The environment is this run's: the engine is reached as the run that started it did (CONTAINER_HOST, DOCKER_HOST).
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
