import pino, { type Logger } from 'pino';

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
  const pretty = shouldUsePretty(opts.format ?? 'auto');
  const redact = { paths: REDACT_PATHS, censor: '[redacted]' };
  if (pretty && !opts.destination) {
    return pino({
      level,
      redact,
      transport: {
        target: 'pino-pretty',
        options: { destination: 2, colorize: true, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l' },
      },
    });
  }
  return pino({ level, redact, base: undefined }, opts.destination ?? pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: for library callers and tests that do not care. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
