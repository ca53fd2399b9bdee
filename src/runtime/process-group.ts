/**
 * Process groups, as the loop uses them: every subprocess starts as the leader of its own group
 * (execa's `killDescendants`), so a wrapper (`npm start`, `sh -c "node server.js & wait"`) and
 * everything it starts is signalled at once with kill(-pgid). No tree walk: a /proc walk of parent
 * links races with forks and misses orphans reparented to init, while group membership survives
 * both. A process that leaves the group itself (setsid, a daemon) is out of reach, as with
 * `docker stop`'s view of a container: documented, not chased.
 *
 * A group is named by its leader's pid and the leader's start time (field 22 of /proc/PID/stat):
 * the pid stays reserved while any member of the group lives, so a process with that pid and
 * another start time is someone else, and is never signalled.
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface GroupId {
  pgid: number;
  /** The leader's start time, in clock ticks since boot (/proc/PID/stat field 22). */
  startTicks: number;
}

export interface ProcStat {
  pid: number;
  /** R, S, D, Z, T… */
  state: string;
  ppid: number;
  pgrp: number;
  startTicks: number;
}

/** /proc/PID/stat, parsed; undefined when there is no such process. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields are counted after the last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // f[0] is field 3 (state), so field N is f[N - 3].
  const num = (n: number) => Number(f[n - 3]);
  if (f.length < 20 || !Number.isFinite(num(22))) return undefined;
  return { pid, state: f[0] ?? '?', ppid: num(4), pgrp: num(5), startTicks: num(22) };
}

/** The process's start time in ticks since boot, or undefined when it is gone. */
export function processStartTicks(pid: number): number | undefined {
  return readProcStat(pid)?.startTicks;
}

/**
 * True when `pid` is a running process that started at `startTicks` (a zombie has exited and does
 * not count). Without a start time, any live process with that pid counts.
 */
export function isProcessAlive(pid: number, startTicks?: number): boolean {
  const stat = readProcStat(pid);
  if (!stat || stat.state === 'Z') return false;
  return startTicks === undefined || stat.startTicks === startTicks;
}

/** False when the group's number now belongs to another process (its leader's pid was reused). */
function isOurs(group: GroupId): boolean {
  const leader = readProcStat(group.pgid);
  return leader === undefined || leader.startTicks === group.startTicks;
}

/**
 * Live members of the group (zombies excluded: an orphan whose reaper never waits for it has
 * exited all the same). Empty when the group is gone or its number names someone else's group.
 */
export function groupMembers(group: GroupId): number[] {
  try {
    process.kill(-group.pgid, 0);
  } catch {
    // ESRCH: no member at all, not even a zombie. EPERM: not ours.
    return [];
  }
  if (!isOurs(group)) return [];
  const members: number[] = [];
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [group.pgid];
  }
  for (const name of names) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const stat = readProcStat(pid);
    if (stat && stat.pgrp === group.pgid && stat.state !== 'Z') members.push(pid);
  }
  return members;
}

/** Sends `signal` to every member of the group. False when there was nothing of ours to signal. */
export function signalGroup(group: GroupId, signal: NodeJS.Signals): boolean {
  if (!isOurs(group)) return false;
  try {
    return process.kill(-group.pgid, signal);
  } catch {
    return false;
  }
}

export type StopOutcome =
  /** Nothing of the group was left running. */
  | 'gone'
  /** Every member ended within the grace period after SIGTERM. */
  | 'SIGTERM'
  /** Some member outlived the grace period and was killed. */
  | 'SIGKILL'
  /** Still there after SIGKILL (uninterruptible sleep, or pid namespace trouble). */
  | 'unkillable';

export interface StopResult {
  outcome: StopOutcome;
  /** Live members when the stop began. */
  members: number;
}

/** After SIGKILL the kernel still has to tear the processes down; this long is plenty. */
const KILL_WAIT_MS = 2000;

/** SIGTERM to the whole group, then SIGKILL after graceMs; resolves once no member is left. */
export async function stopGroup(group: GroupId, graceMs: number): Promise<StopResult> {
  const members = groupMembers(group).length;
  if (members === 0) return { outcome: 'gone', members };
  signalGroup(group, 'SIGTERM');
  if (await waitEmpty(group, graceMs)) return { outcome: 'SIGTERM', members };
  signalGroup(group, 'SIGKILL');
  return { outcome: (await waitEmpty(group, KILL_WAIT_MS)) ? 'SIGKILL' : 'unkillable', members };
}

/** SIGKILL now, without waiting: for process exit, when nothing asynchronous runs any more. */
export function killGroupNow(group: GroupId): void {
  signalGroup(group, 'SIGKILL');
}

async function waitEmpty(group: GroupId, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  let pause = 10;
  // First look after the first pause: a group just signalled is never empty at once, and each look
  // is a synchronous scan of /proc (about 2 ms on a loaded machine).
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return groupMembers(group).length === 0;
    await new Promise((r) => setTimeout(r, Math.min(pause, left)));
    if (groupMembers(group).length === 0) return true;
    pause = Math.min(pause * 2, 100);
  }
}
