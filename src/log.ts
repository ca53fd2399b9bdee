import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { enableProgress, progress as currentProgress, ProgressAwareStream } from './progress.js';
import { redactText } from './redact.js';
import { safeText } from './terminal-safe.js';

export type { Logger };
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LogOptions {
  level?: string;
  format?: LogFormat;
  /** Defaults to stderr: stdout carries results only. */
  destination?: NodeJS.WritableStream & { fd?: number };
}

/** Keys whose values never reach a log line, wherever they sit in a logged object. */
export const REDACT_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.headers.authorization',
  '*.headers.cookie',
  'token',
  'idToken',
  '*.token',
  '*.idToken',
];

export function shouldUsePretty(format: LogFormat, stream: { isTTY?: boolean } = process.stderr): boolean {
  if (format === 'pretty') return true;
  if (format === 'json') return false;
  return Boolean(stream.isTTY) && !process.env.CI;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.DEPLOY_LOOP_LOG_LEVEL ?? 'info';
  const usePretty = shouldUsePretty(opts.format ?? 'auto');
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  if (usePretty && !opts.destination) {
    // Pretty output is formatted on the main thread so the progress line and log lines can share stderr.
    const progress = process.stderr.isTTY ? enableProgress(process.stderr) : currentProgress();
    const stream = pretty({
      destination: new ProgressAwareStream(process.stderr, progress),
      colorize: Boolean(process.stderr.isTTY),
      ignore: 'pid,hostname',
      translateTime: 'HH:MM:ss.l',
      sync: true,
    });
    return pino({ level, redact }, redactingStream(stream, { terminal: true }));
  }
  return pino({ level, redact, base: undefined }, redactingStream(opts.destination ?? pino.destination({ fd: 2, sync: true })));
}

/**
 * The redaction hook: every serialised log line, at every level, has each string value redacted
 * (src/redact.ts: the config's secrets and the rules by look) before it is written. For a terminal
 * (pretty output, which decodes JSON escapes) strings are also made terminal-safe, so bytes a
 * service printed cannot move the cursor or start a workflow command.
 */
export function redactingStream(dest: { write(chunk: string): unknown }, opts: { terminal?: boolean } = {}): { write(chunk: string): void; flushSync?(): void } {
  const clean = (s: string) => (opts.terminal ? safeText(redactText(s)) : redactText(s));
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return clean(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [opts.terminal ? safeText(k) : k, walk(x)]));
    return v;
  };
  const flushable = dest as { flushSync?(): void };
  return {
    write(chunk: string) {
      let out: string;
      try {
        out = `${JSON.stringify(walk(JSON.parse(chunk)))}\n`;
      } catch {
        out = `${clean(chunk.replace(/\n$/, ''))}\n`;
      }
      dest.write(out);
    },
    ...(typeof flushable.flushSync === 'function' ? { flushSync: () => flushable.flushSync?.() } : {}),
  };
}

/** A logger that drops everything: for library callers and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
