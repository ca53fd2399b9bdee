/**
 * The one module that runs subprocesses. Commands are argument arrays; a shell is used only when a
 * user config asks for one explicitly (`shell: true`), never for strings built from config.
 *
 * Every subprocess leads its own process group (execa's `killDescendants`, which spawns it
 * detached), and every stop is of the whole group: SIGTERM, a grace period, then SIGKILL, until no
 * member is left (runtime/process-group.ts). A wrapper (`npm start`, `sh -c "node server.js &
 * wait"`) so goes with what it started, and a background process a command leaves behind is
 * stopped when the command ends. Each group is tracked for process exit (runtime/cleanup.ts) and
 * recorded in the process journal while one is open (runtime/process-journal.ts), so a loop killed
 * with SIGKILL leaves nothing the next run cannot find.
 */
import { basename } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { Logger } from './log.js';
import { trackGroup } from './runtime/cleanup.js';
import { processStartTicks, stopGroup, type GroupId, type StopResult } from './runtime/process-group.js';
import { recordGroup, type ProcessJournalEntry } from './runtime/process-journal.js';

export interface CommandResult {
  argv: string[];
  exitCode: number | null;
  /** Signal name when the process was killed by one. */
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  /** True when aborted through the signal passed in. */
  aborted: boolean;
  /** Spawn errors (ENOENT and friends) are reported here instead of thrown. */
  spawnError: string | null;
  /** Last lines of combined stdout+stderr. */
  outputTail: string[];
  ok: boolean;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  signal?: AbortSignal;
  timeoutMs?: number;
  shell?: boolean;
  log?: Logger;
  /** How many lines of output to keep. */
  tailLines?: number;
  /** Called for every output line as it arrives (streaming to the log). */
  onLine?: (line: string) => void;
  /** Names the command in the process journal and in logs about its group. */
  label?: string;
}

/** SIGTERM to SIGKILL, for commands that time out, are aborted, or leave processes behind. */
const KILL_GRACE_MS = 2000;
/**
 * Once the group is gone, output still in the pipe arrives at once; a pipe still open after this
 * long is held by a process that left the group (setsid, a daemon), and is not waited for.
 */
const DRAIN_MS = 250;

/** Keeps the last N lines of a stream of text chunks. */
export class LineTail {
  private lines: string[] = [];
  private partial = '';
  constructor(private readonly max: number) {}
  push(chunk: string, onLine?: (line: string) => void): void {
    const text = this.partial + chunk;
    const parts = text.split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) {
      onLine?.(line);
      this.lines.push(line);
    }
    if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
    // Guard against a never-ending line eating memory.
    if (this.partial.length > 64 * 1024) this.partial = this.partial.slice(-64 * 1024);
  }
  get(): string[] {
    const out = this.partial ? [...this.lines, this.partial] : [...this.lines];
    return out.slice(-this.max);
  }
}

export async function runCommand(argv: readonly string[], opts: RunOptions = {}): Promise<CommandResult> {
  const started = performance.now();
  const tail = new LineTail(opts.tailLines ?? 40);
  if (!argv[0]) throw new Error('runCommand needs a non-empty argument array');
  if (opts.signal?.aborted) return result(argv, started, { aborted: true, tail });
  opts.log?.debug({ argv, cwd: opts.cwd }, 'running command');
  let g: GroupChild;
  try {
    g = spawnInGroup(argv, { cwd: opts.cwd, env: opts.env, shell: opts.shell, kind: 'command', label: opts.label, leftoverGraceMs: KILL_GRACE_MS, log: opts.log }, tail, opts.onLine);
  } catch (err) {
    return result(argv, started, { spawnError: (err as Error).message, tail });
  }
  // Timeout and abort stop the whole group (execa's own would signal it too, but would not wait for
  // it to be empty, nor escalate to SIGKILL once the leader has gone).
  let timedOut = false;
  let aborted = false;
  const timer = opts.timeoutMs !== undefined && opts.timeoutMs > 0
    ? setTimeout(() => {
        timedOut = true;
        void g.stop(KILL_GRACE_MS);
      }, opts.timeoutMs)
    : undefined;
  const onAbort = () => {
    aborted = true;
    void g.stop(KILL_GRACE_MS);
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let res: GroupResult;
  try {
    res = await g.settled;
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  }
  return result(argv, started, {
    exitCode: res.exitCode,
    signal: res.signal,
    timedOut,
    aborted,
    spawnError: res.exitCode === null && !res.signal && !timedOut && !aborted ? res.spawnError : null,
    tail,
  });
}

function result(
  argv: readonly string[],
  started: number,
  r: {
    exitCode?: number | null;
    signal?: string | null;
    timedOut?: boolean;
    aborted?: boolean;
    spawnError?: string | null;
    tail: LineTail;
  },
): CommandResult {
  const exitCode = r.exitCode ?? null;
  return {
    argv: [...argv],
    exitCode,
    signal: r.signal ?? null,
    durationMs: Math.round(performance.now() - started),
    timedOut: r.timedOut ?? false,
    aborted: r.aborted ?? false,
    spawnError: r.spawnError ?? null,
    outputTail: r.tail.get(),
    ok: exitCode === 0 && !r.timedOut && !r.aborted && !r.spawnError,
  };
}

export function describeCommandFailure(r: CommandResult): string {
  if (r.spawnError) return `could not start \`${r.argv[0]}\`: ${r.spawnError}`;
  if (r.timedOut) return `timed out after ${r.durationMs} ms`;
  if (r.aborted) return 'aborted';
  if (r.signal) return `killed by ${r.signal}`;
  return `exited with code ${r.exitCode}`;
}

export interface LongRunningProcess {
  pid: number | undefined;
  /** Resolves when the process has ended and nothing of its group is left, however it ends. */
  exited: Promise<{ exitCode: number | null; signal: string | null }>;
  /** True once the process itself (the group's leader) has exited. */
  hasExited(): boolean;
  outputTail(): string[];
  /** SIGTERM to its whole group, then SIGKILL after graceMs. Resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  cwd?: string;
  env?: Record<string, string>;
  tailLines?: number;
  onLine?: (line: string) => void;
  /** Names the process in the process journal (a revision name). */
  label?: string;
  /** For the journal: what a reaper must run after stopping the group if this loop dies (see ProcessJournalEntry.afterStop). */
  afterStop?: readonly string[];
  /** Grace period for what is left of the group once the process itself has exited. */
  leftoverGraceMs?: number;
  log?: Logger;
}

/**
 * Starts a process that is meant to keep running (a revision, a server). When the process itself
 * exits, the rest of its group is stopped too: as on Cloud Run, where a container ends with its
 * entrypoint, a revision does not live on in a background child of its start command.
 */
export function startProcess(argv: readonly string[], opts: StartOptions = {}): LongRunningProcess {
  if (!argv[0]) throw new Error('startProcess needs a non-empty argument array');
  const tail = new LineTail(opts.tailLines ?? 50);
  const g = spawnInGroup(argv, { cwd: opts.cwd, env: opts.env, kind: 'process', label: opts.label, afterStop: opts.afterStop, leftoverGraceMs: opts.leftoverGraceMs ?? 3000, log: opts.log }, tail, opts.onLine);
  let done = false;
  const exited = g.settled.then((r) => {
    done = true;
    if (r.exitCode === null && !r.signal && r.spawnError) tail.push(`${r.spawnError}\n`);
    return { exitCode: r.exitCode, signal: r.signal };
  });
  return {
    pid: g.pid,
    exited,
    hasExited: () => done || g.leaderExited(),
    outputTail: () => tail.get(),
    async stop(graceMs = 3000) {
      await g.stop(graceMs);
      await exited;
    },
  };
}

interface GroupResult {
  exitCode: number | null;
  signal: string | null;
  /** Set when the process could not be started (ENOENT and friends). */
  spawnError: string | null;
}

interface GroupChild {
  pid: number | undefined;
  /** The process's own exit, its group stopped and its output read (or cut): always resolves. */
  settled: Promise<GroupResult>;
  leaderExited(): boolean;
  /** Stops the whole group (the first call's grace period wins); resolves when no member is left. */
  stop(graceMs: number): Promise<void>;
}

interface GroupSpawnOptions {
  cwd?: string;
  env?: Record<string, string>;
  shell?: boolean;
  kind: ProcessJournalEntry['kind'];
  label?: string;
  afterStop?: readonly string[];
  leftoverGraceMs: number;
  log?: Logger;
}

function spawnInGroup(argv: readonly string[], opts: GroupSpawnOptions, tail: LineTail, onLine?: (line: string) => void): GroupChild {
  const [file, ...args] = argv as [string, ...string[]];
  const child: ResultPromise = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    shell: opts.shell ?? false,
    reject: false,
    all: true,
    buffer: false,
    stdin: 'ignore',
    killDescendants: true,
    // Escalation is stopGroup's, which keeps going after the leader has exited.
    forceKillAfterDelay: false,
    cleanup: true,
  });
  child.all?.setEncoding('utf8');
  child.all?.on('data', (chunk: string) => tail.push(chunk, onLine));
  const pid = child.pid;
  // The leader has not been reaped yet (that needs the event loop), so its /proc entry is there.
  const startTicks = pid !== undefined ? processStartTicks(pid) : undefined;
  const group: GroupId | undefined = pid !== undefined && startTicks !== undefined ? { pgid: pid, startTicks } : undefined;
  const program = basename(file);
  const forget = group ? recordGroup(group, { kind: opts.kind, program, ...(opts.label ? { label: opts.label } : {}), ...(opts.afterStop ? { afterStop: opts.afterStop } : {}) }) : () => {};
  const untrack = group ? trackGroup(group, forget) : () => {};
  const log = opts.log?.child({ pgid: pid, program, ...(opts.label ? { label: opts.label } : {}) });

  let stopping: Promise<StopResult> | undefined;
  const stop = (graceMs: number): Promise<StopResult> => {
    stopping ??= (group ? stopGroup(group, graceMs) : Promise.resolve<StopResult>({ outcome: 'gone', members: 0 })).then((r) => {
      untrack();
      forget();
      if (r.outcome === 'unkillable') log?.warn({ members: r.members }, 'process group still running after SIGKILL');
      return r;
    });
    return stopping;
  };

  let leaderDone = false;
  const node = child.nodeChildProcess;
  const leaderExit = new Promise<void>((resolve) => {
    if (pid === undefined) return resolve();
    node.once('exit', () => resolve());
  }).then(() => {
    leaderDone = true;
  });

  // Once the leader exits, whatever it left in its group is stopped, so nothing holds the output
  // pipe (execa waits for it to close) or a port; a pipe held from outside the group is then cut.
  let cut = false;
  void leaderExit.then(async () => {
    const r = await stop(opts.leftoverGraceMs);
    if (r.members > 0 && r.outcome !== 'unkillable') log?.info({ members: r.members, outcome: r.outcome }, 'stopped what the process left running in its group');
    const drained = await Promise.race([child.then(() => true), sleep(DRAIN_MS).then(() => false)]);
    if (!drained) {
      cut = true;
      log?.warn('output still held open by a process outside the group (setsid or a daemon); not waiting for it');
      child.all?.destroy();
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
  });

  const settled = child.then(
    (r): GroupResult => ({
      exitCode: r.exitCode ?? null,
      signal: r.signal ?? null,
      spawnError: r.exitCode === undefined && !r.signal && !cut ? (r.shortMessage ?? null) : null,
    }),
    (err: unknown): GroupResult => ({ exitCode: null, signal: null, spawnError: String(err) }),
  ).then(async (r) => {
    // A spawn that failed has no group; one that ran is settled only once its group is gone.
    await stop(opts.leftoverGraceMs);
    return r;
  });

  return {
    pid,
    settled,
    leaderExited: () => leaderDone,
    stop: async (graceMs) => {
      await stop(graceMs);
    },
  };
}

/** Unref'd: a drain wait must not hold a finished process open (a held pipe does, and then it fires). */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
