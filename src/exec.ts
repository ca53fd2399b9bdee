/**
 * The one module that runs subprocesses. Commands are argument arrays; a shell is used only when a
 * user config asks for one explicitly (`shell: true`), never for strings built from config.
 */
import { execa, type ResultPromise } from 'execa';
import type { Logger } from './log.js';

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
}

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
  const [file, ...args] = argv;
  const started = performance.now();
  const tail = new LineTail(opts.tailLines ?? 40);
  if (!file) throw new Error('runCommand needs a non-empty argument array');
  opts.log?.debug({ argv, cwd: opts.cwd }, 'running command');
  let child: ResultPromise;
  try {
    child = execa(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      extendEnv: true,
      shell: opts.shell ?? false,
      reject: false,
      all: true,
      buffer: false,
      stdin: 'ignore',
      timeout: opts.timeoutMs,
      cancelSignal: opts.signal,
      forceKillAfterDelay: 2000,
    });
  } catch (err) {
    return result(argv, started, { spawnError: (err as Error).message, tail });
  }
  child.all?.setEncoding('utf8');
  child.all?.on('data', (chunk: string) => tail.push(chunk, opts.onLine));
  const res = await child;
  const spawnError =
    res.exitCode === undefined && !res.signal && !res.timedOut && !res.isCanceled ? res.shortMessage : null;
  return result(argv, started, {
    exitCode: res.exitCode ?? null,
    signal: res.signal ?? null,
    timedOut: res.timedOut,
    aborted: res.isCanceled,
    spawnError,
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
  /** Resolves when the process ends, however it ends. */
  exited: Promise<{ exitCode: number | null; signal: string | null }>;
  hasExited(): boolean;
  outputTail(): string[];
  /** SIGTERM, then SIGKILL after graceMs. Resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  cwd?: string;
  env?: Record<string, string>;
  tailLines?: number;
  onLine?: (line: string) => void;
}

/** Starts a process that is meant to keep running (a revision, a server). */
export function startProcess(argv: readonly string[], opts: StartOptions = {}): LongRunningProcess {
  const [file, ...args] = argv;
  if (!file) throw new Error('startProcess needs a non-empty argument array');
  const tail = new LineTail(opts.tailLines ?? 50);
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: true,
    reject: false,
    all: true,
    buffer: false,
    stdin: 'ignore',
    forceKillAfterDelay: false,
    cleanup: true,
  });
  child.all?.setEncoding('utf8');
  child.all?.on('data', (chunk: string) => tail.push(chunk, opts.onLine));
  let done = false;
  const exited = child.then(
    (r) => {
      done = true;
      if (r.exitCode === undefined && !r.signal && r.shortMessage) tail.push(`${r.shortMessage}\n`);
      return { exitCode: r.exitCode ?? null, signal: r.signal ?? null };
    },
    (err: unknown) => {
      done = true;
      tail.push(`${String(err)}\n`);
      return { exitCode: null, signal: null };
    },
  );
  return {
    pid: child.pid,
    exited,
    hasExited: () => done,
    outputTail: () => tail.get(),
    async stop(graceMs = 3000) {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!done) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
