import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { enableProgress, progress as currentProgress, ProgressAwareStream } from './progress.js';

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
    return pino({ level, redact }, stream);
  }
  return pino({ level, redact, base: undefined }, opts.destination ?? pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: for library callers and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
