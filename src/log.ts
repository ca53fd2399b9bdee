import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import { enableProgress, progress as currentProgress, ProgressAwareStream } from './progress.js';

export type { Logger };
export type LogFormat = 'auto' | 'json' | 'pretty';

export interface LogOptions {
  level?: string;
  format?: LogFormat;
  /** Pretty output only: colours on or off; default from the terminal, NO_COLOR and FORCE_COLOR. */
  color?: boolean;
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

/**
 * Whether pretty output is coloured: `--no-color` and NO_COLOR (no-color.org: set and not empty)
 * turn colours off, FORCE_COLOR turns them on ("0" or "false" off), otherwise a terminal that is not
 * `TERM=dumb` gets them. Decided here rather than by pino-pretty's own detection so the flag, the
 * variables and the progress line agree.
 */
export function colorEnabled(
  opts: { noColor?: boolean | undefined; env?: NodeJS.ProcessEnv; stream?: { isTTY?: boolean } } = {},
): boolean {
  const env = opts.env ?? process.env;
  if (opts.noColor) return false;
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return Boolean((opts.stream ?? process.stderr).isTTY) && env.TERM !== 'dumb';
}

/** Control characters other than tab, and newlines: a pretty line is one line and cannot drive the terminal. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\s*[\r\n]+\s*/g, ' ').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Pretty mode prints one line per event: pino-pretty always prints an error object (`err`) on lines
 * of its own, with its stack, so below debug level the error becomes one `error` string.
 */
function flattenError(obj: Record<string, unknown>): Record<string, unknown> {
  const err = obj.err;
  if (!(err instanceof Error)) return obj;
  const { err: _dropped, ...rest } = obj;
  const code = (err as { code?: unknown }).code;
  return { ...rest, error: oneLine(`${err.name}: ${err.message}${typeof code === 'string' ? ` (${code})` : ''}`) };
}

export function createLogger(opts: LogOptions = {}): Logger {
  const level = opts.level ?? process.env.DEPLOY_LOOP_LOG_LEVEL ?? 'info';
  const usePretty = shouldUsePretty(opts.format ?? 'auto');
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  if (usePretty && !opts.destination) {
    const color = opts.color ?? colorEnabled();
    // Pretty output is formatted on the main thread so the progress line and log lines can share stderr.
    const progress = process.stderr.isTTY ? enableProgress(process.stderr, { ansi: color }) : currentProgress();
    const keepStacks = pino.levels.values[level] !== undefined && (pino.levels.values[level] ?? 30) <= 20;
    const stream = pretty({
      destination: new ProgressAwareStream(process.stderr, progress),
      colorize: color,
      ignore: 'pid,hostname',
      translateTime: 'HH:MM:ss.l',
      singleLine: true,
      // `error` is ordinary data here (flattenError makes it a string); `err` stays error-like for debug.
      errorLikeObjectKeys: [],
      messageFormat: (log, key) => oneLine(String(log[key] ?? '')),
      sync: true,
    });
    return pino({ level, redact, ...(keepStacks ? {} : { formatters: { log: flattenError } }) }, stream);
  }
  return pino({ level, redact, base: undefined }, opts.destination ?? pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: for library callers and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
