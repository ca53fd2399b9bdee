/**
 * One local "revision": a child process started in its revision folder with PORT set, counted as
 * ready once it answers an HTTP GET on the readiness path. Shared by the local target and the
 * Cloud Run API emulator.
 */
import http from 'node:http';
import net from 'node:net';
import { startProcess, type LongRunningProcess } from '../exec.js';
import type { Logger } from '../log.js';
import type { TimedLine } from '../model/log-line.js';

export interface ReadinessProbe {
  path: string;
  timeoutMs: number;
  intervalMs: number;
  /** Replaces the HTTP GET on `path` (the emulator probes as Cloud Run does: TCP by default). True: started. */
  check?: (host: string, port: number, timeoutMs: number) => Promise<boolean>;
}

export interface RunningRevision {
  name: string;
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
  /** Milliseconds from asking for the revision to its first answer on the readiness path. */
  startMs: number;
  process: LongRunningProcess;
  /** The latest output lines, each with the time it was captured: a check's evidence is the lines of its own attempts. */
  timedOutput?(): TimedLine[];
  stop(): Promise<void>;
}

export type StartRevisionOutcome =
  | { ok: true; revision: RunningRevision }
  | { ok: false; message: string; exitCode: number | null; logTail: string[]; durationMs: number };

export interface StartRevisionOptions {
  name: string;
  command: string[];
  cwd: string;
  env: Record<string, string>;
  readiness: ReadinessProbe;
  signal?: AbortSignal;
  log?: Logger;
  host?: string;
  /** Applied to every output line before it is logged (e.g. to hide secret values). */
  redact?: (line: string) => string;
  /** Lines of output kept for failures and `logs`. */
  tailLines?: number;
}

const DEFAULT_HOST = '127.0.0.1';
/** Another process may grab the port between freePort() and the child's listen(): retry that. */
const PORT_ATTEMPTS = 3;
/** Grace period for SIGTERM before SIGKILL when we stop a revision ourselves. */
const STOP_GRACE_MS = 3000;

/** Timestamped lines kept per revision: enough to cover a suite's worth of checks. */
export const TIMED_LINES = 2000;
/** A longer line is cut: one minified blob must not push every other line out. */
const TIMED_LINE_CHARS = 4000;

/** The last `max` lines, each stamped with Date.now() as it is captured. */
export class TimedLineBuffer {
  private lines: TimedLine[] = [];
  constructor(
    readonly max = TIMED_LINES,
    private readonly now: () => number = Date.now,
  ) {}
  push(text: string): void {
    this.lines.push({ at: this.now(), text: text.length > TIMED_LINE_CHARS ? `${text.slice(0, TIMED_LINE_CHARS)}…` : text });
    // Trimmed in batches: one splice per 10% of overflow instead of one per line.
    if (this.lines.length > this.max * 1.1) this.lines.splice(0, this.lines.length - this.max);
  }
  get(): TimedLine[] {
    return this.lines.slice(-this.max);
  }
}

/** A port that was free a moment ago: listen on port 0, read the port, close. */
export function freePort(host: string = DEFAULT_HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

export async function startRevision(opts: StartRevisionOptions): Promise<StartRevisionOutcome> {
  const host = opts.host ?? DEFAULT_HOST;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  // Callers (the local target, the emulator) often bound `revision` already; pino would write the key twice.
  const log = opts.log && opts.log.bindings().revision === opts.name ? opts.log : opts.log?.child({ revision: opts.name });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(host);
    let proc: LongRunningProcess;
    const timed = new TimedLineBuffer();
    try {
      proc = startProcess(opts.command, {
        cwd: opts.cwd,
        env: { ...opts.env, PORT: String(port) },
        tailLines: opts.tailLines ?? 200,
        onLine: (line) => {
          timed.push(line);
          log?.debug({ line: opts.redact ? opts.redact(line) : line }, 'revision output');
        },
        ...groupOptions(opts.name, log),
      });
    } catch (err) {
      // execa throws synchronously only for invalid options; report it like any start failure.
      return { ok: false, message: `could not start ${opts.command[0]}: ${String(err)}`, exitCode: null, logTail: [], durationMs: elapsed() };
    }
    log?.debug({ port, pid: proc.pid, attempt }, 'revision process started');
    const ready = await waitReady(proc, host, port, opts.readiness, started, opts.signal);
    if (ready === 'ready') {
      const startMs = elapsed();
      log?.info({ port, startMs }, 'revision ready');
      const revision: RunningRevision = {
        name: opts.name,
        port,
        url: `http://${host}:${port}`,
        startMs,
        process: proc,
        timedOutput: () => timed.get(),
        stop: () => proc.stop(STOP_GRACE_MS),
      };
      return { ok: true, revision };
    }
    if (ready === 'exited') {
      const { exitCode, signal } = await proc.exited;
      const logTail = proc.outputTail();
      if (attempt < PORT_ATTEMPTS && logTail.some((l) => l.includes('EADDRINUSE'))) {
        log?.debug({ port }, 'port taken before the revision could listen; retrying on another');
        continue;
      }
      return { ok: false, message: describeEarlyExit(opts.command, exitCode, signal), exitCode, logTail, durationMs: elapsed() };
    }
    await proc.stop(STOP_GRACE_MS);
    const message =
      ready === 'aborted'
        ? 'aborted before the revision became ready'
        : `did not answer GET ${opts.readiness.path} within ${opts.readiness.timeoutMs} ms`;
    return { ok: false, message, exitCode: null, logTail: proc.outputTail(), durationMs: elapsed() };
  }
}

/** How the revision's process group is named in the journal and stopped once its command exits. */
function groupOptions(name: string, log: Logger | undefined): { label: string; leftoverGraceMs: number; log?: Logger } {
  return { label: name, leftoverGraceMs: STOP_GRACE_MS, ...(log ? { log } : {}) };
}

function describeEarlyExit(command: string[], exitCode: number | null, signal: string | null): string {
  if (exitCode !== null) return `exited with code ${exitCode} before becoming ready`;
  if (signal) return `was killed by ${signal} before becoming ready`;
  return `could not start \`${command[0]}\` (see the log tail)`;
}

export type ReadyState = 'ready' | 'exited' | 'timeout' | 'aborted';

export async function waitReady(
  proc: LongRunningProcess,
  host: string,
  port: number,
  probe: ReadinessProbe,
  started: number,
  signal: AbortSignal | undefined,
): Promise<ReadyState> {
  const deadline = started + probe.timeoutMs;
  let exited = false;
  void proc.exited.then(() => {
    exited = true;
  });
  let onAbort = () => {};
  const exitedOrAborted = new Promise<'exited' | 'aborted'>((resolve) => {
    void proc.exited.then(() => resolve('exited'));
    onAbort = () => resolve('aborted');
    if (signal?.aborted) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    while (!exited && !signal?.aborted) {
      const remaining = deadline - performance.now();
      if (remaining <= 0) return 'timeout';
      // A probe may hang on a half-started server: bound each one by what is left.
      const attempt = probe.check ? probe.check(host, port, remaining) : probeOnce(host, port, probe.path, remaining);
      const answered = await Promise.race([attempt, exitedOrAborted]);
      if (answered === true) return 'ready';
      if (answered === 'exited' || answered === 'aborted') return answered;
      const wait = Math.min(probe.intervalMs, deadline - performance.now());
      if (wait > 0) await Promise.race([sleep(wait), exitedOrAborted]);
    }
    return signal?.aborted ? 'aborted' : 'exited';
  } finally {
    // The signal usually outlives this revision (it is the whole run's): do not pile up listeners.
    signal?.removeEventListener('abort', onAbort);
  }
}

/** True when any HTTP response below 500 arrives; false on refusal, 5xx or timeout. */
function probeOnce(host: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 500);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
