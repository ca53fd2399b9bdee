/** Small pieces the command files share: the logger from the log options, numbers, stdout. */
import { UsageError } from '../errors.js';
import type { Logger, LogFormat } from '../log.js';
import { progress } from '../progress.js';
import { LOG_LEVELS, type LOG_OPTIONS, type Values } from './command.js';

export type LogValues = Values<typeof LOG_OPTIONS>;

/** How much a command prints: `quiet` keeps warnings, failures and the verdict. */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

export function verbosity(values: LogValues): Verbosity {
  if (values.quiet && values.verbose) throw new UsageError('--quiet and --verbose cannot be used together');
  return values.quiet ? 'quiet' : values.verbose ? 'verbose' : 'normal';
}

/** The log level from --quiet, --verbose, --log-level or DEPLOY_LOOP_LOG_LEVEL, checked. */
export function logLevel(values: LogValues): string {
  const v = verbosity(values);
  const flag = values['log-level'];
  if (flag !== undefined && v !== 'normal') throw new UsageError(`--log-level cannot be used with --${v}`);
  if (v === 'quiet') return 'warn';
  if (v === 'verbose') return 'debug';
  if (flag !== undefined) return flag;
  const env = process.env.DEPLOY_LOOP_LOG_LEVEL;
  if (env !== undefined && env !== '') {
    if (!(LOG_LEVELS as readonly string[]).includes(env)) {
      throw new UsageError(`DEPLOY_LOOP_LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')} (got "${env}")`);
    }
    return env;
  }
  return 'info';
}

/** The logger for a command that logs; loaded on use so `--help` does not load pino. */
export async function cliLogger(values: LogValues): Promise<Logger> {
  const level = logLevel(values);
  const { createLogger, colorEnabled } = await import('../log.js');
  return createLogger({ format: (values['log-format'] ?? 'auto') as LogFormat, level, color: colorEnabled({ noColor: values['no-color'] }) });
}

export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of at least 1 (got "${value}")`);
  return n;
}

/** Writes results to stdout, lifting the progress line out of the way when both share a terminal. */
export function print(text: string): void {
  if (text === '') return;
  const p = progress();
  p.clear();
  process.stdout.write(text);
  p.draw();
}
