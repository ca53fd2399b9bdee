/**
 * What each command file declares: its options table (the one source for parsing, `--help` and
 * shell completion), its positional arguments, its help text with an example, and its body.
 *
 * Parsing is node's `util.parseArgs` with one table per command: it is maintained with node, strict
 * about unknown options, and costs no dependency or start time; what it lacks (help text, choices,
 * completion) is small and lives here, driven by the same tables.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, type ExitCode } from '../errors.js';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in help: PATH, N, URL. */
  value?: string;
  /** Allowed values: checked when parsing, shown in help, offered by completion. */
  choices?: readonly string[];
  /** Completion offers file names for the value. */
  files?: boolean;
  /** Shown in the usage line; the command itself refuses to run without it. */
  required?: boolean;
  /** One line (or a few words) for help; wrapped to 80 columns. */
  description: string;
}
export type OptionTable = Readonly<Record<string, OptionSpec>>;

export interface PositionalSpec {
  name: string;
  required: boolean;
  /** Allowed values; `commands` means the command names. */
  choices?: readonly string[] | 'commands';
  description: string;
}

/** The parsed values of a table: strings for string options, booleans for flags, absent when not given. */
export type Values<O extends OptionTable> = { [K in keyof O]?: ValueOf<O[K]['type']> };
type ValueOf<T> = T extends 'boolean' ? boolean : string;

export interface CommandContext<O extends OptionTable = OptionTable> {
  values: Values<O>;
  positionals: string[];
  /** Aborts on SIGINT, SIGTERM or SIGHUP: stop after the current step. */
  signal: AbortSignal;
  /** Every command, for help and completion. */
  commands: readonly Command[];
}

export interface Command<O extends OptionTable = OptionTable> {
  name: string;
  /** One line in the command list (about 50 characters). */
  summary: string;
  /** Paragraphs shown under the usage line; lines within 80 columns. */
  description: string;
  /** Whole command lines, each within 80 columns. */
  examples: readonly string[];
  options: O;
  positionals?: readonly PositionalSpec[];
  run(ctx: CommandContext<O>): Promise<ExitCode>;
}

/** Lets a command file keep its table's literal type for `values`. */
export function defineCommand<O extends OptionTable>(command: Command<O>): Command {
  return command as unknown as Command;
}

export const HELP_OPTION = {
  help: { type: 'boolean', short: 'h', description: 'this help' },
} as const satisfies OptionTable;

export const CONFIG_OPTION = {
  config: { type: 'string', short: 'c', value: 'PATH', files: true, description: 'config file (default: loop.config.yaml)' },
} as const satisfies OptionTable;

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

/** For the commands that log while they work. */
export const LOG_OPTIONS = {
  quiet: { type: 'boolean', short: 'q', description: 'warnings, failures and the verdict only' },
  verbose: { type: 'boolean', description: 'debug logs too' },
  'log-level': { type: 'string', value: 'LEVEL', choices: LOG_LEVELS, description: 'log level (default: info)' },
  'log-format': {
    type: 'string',
    value: 'F',
    choices: LOG_FORMATS,
    description: 'auto (default: pretty on a terminal, JSON lines otherwise), json or pretty',
  },
  'no-color': { type: 'boolean', description: 'no colours (also NO_COLOR=1; FORCE_COLOR=1 forces them)' },
} as const satisfies OptionTable;

/** `-c, --config PATH` */
export function optionLabel(name: string, spec: OptionSpec): string {
  const long = `--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
  return spec.short ? `-${spec.short}, ${long}` : `    ${long}`;
}

/** The options a command takes, in one line: for a usage error that names them. */
export function optionList(command: Command): string {
  return Object.entries(command.options)
    .map(([name, spec]) => `${spec.short ? `-${spec.short}/` : ''}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`)
    .join(', ');
}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Parses a command's arguments against its own table; anything it does not declare is a UsageError. */
export function parseCommandArgs(command: Command, args: string[]): Parsed {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of Object.entries(command.options)) {
    options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  const refuse = (what: string): never => {
    throw new UsageError(what, `${command.name} takes: ${optionList(command)} (see deploy-loop help ${command.name})`);
  };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    // Node names the option in quotes: `'--junit'`, `'-c, --config <value>'`: the long form if given.
    const quoted = /'([^']+)'/.exec(e.message ?? '')?.[1] ?? '';
    const flag = /--[\w-]+/.exec(quoted)?.[0] ?? /-\w/.exec(quoted)?.[0] ?? quoted;
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') refuse(`${command.name} does not take ${flag}`);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      // Either a value missing after a string option, or a value given to a flag (`--force=yes`).
      const spec = command.options[flag.replace(/^-+/, '')];
      refuse(spec?.type === 'boolean' ? `${flag} takes no value` : `${flag} needs a value`);
    }
    refuse(`${command.name}: ${e.message ?? String(err)}`);
  }
  const values = parsed!.values as Record<string, string | boolean | undefined>;
  for (const [name, spec] of Object.entries(command.options)) {
    const v = values[name];
    if (spec.choices && typeof v === 'string' && !spec.choices.includes(v)) {
      throw new UsageError(`--${name} must be one of ${spec.choices.join(', ')} (got "${v}")`);
    }
  }
  const positionals = parsed!.positionals;
  const specs = command.positionals ?? [];
  if (positionals.length > specs.length) {
    throw new UsageError(`unexpected argument "${positionals[specs.length]}"`, `usage: ${usageLine(command)}`);
  }
  specs.forEach((spec, i) => {
    const v = positionals[i];
    if (v !== undefined && Array.isArray(spec.choices) && !spec.choices.includes(v)) {
      throw new UsageError(`unknown ${spec.name} "${v}"`, `deploy-loop ${command.name} ${spec.choices.join(' | ')}`);
    }
  });
  const missing = specs.find((s, i) => s.required && positionals[i] === undefined);
  if (missing && !values.help) throw new UsageError(`${command.name} needs ${missing.name.toUpperCase()}`, `usage: ${usageLine(command)}`);
  return { values, positionals };
}

export function usageLine(command: Command): string {
  const args = (command.positionals ?? []).map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`));
  const required = Object.entries(command.options)
    .filter(([, s]) => s.required)
    .map(([name, s]) => `--${name} ${s.value ?? 'VALUE'}`);
  return ['deploy-loop', command.name, ...args, ...required, '[options]'].join(' ');
}

/** Words wrapped to `width`, continuation lines indented by `indent` spaces. */
export function wrap(text: string, width: number, indent: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const candidate = line ? `${line} ${word}` : word;
    if (line && candidate.length + (lines.length > 0 ? indent : 0) > width) {
      lines.push(line);
      line = word;
    } else line = candidate;
  }
  if (line) lines.push(line);
  return lines.map((l, i) => (i > 0 ? ' '.repeat(indent) + l : l));
}

/** Two columns within 80: a label, then its wrapped text. */
export function renderRows(rows: readonly (readonly [string, string])[], labelWidth?: number): string {
  const col = Math.min(labelWidth ?? Math.max(...rows.map(([label]) => label.length)) + 2, 30);
  const out: string[] = [];
  for (const [label, text] of rows) {
    const head = `  ${label}`;
    if (head.length + 1 > col + 2) {
      out.push(head);
      out.push(...wrap(text, 80 - col - 2, 0).map((l) => `${' '.repeat(col + 2)}${l}`));
      continue;
    }
    const body = wrap(text, 80 - col - 2, 0);
    out.push(`${head.padEnd(col + 2)}${body[0] ?? ''}`.trimEnd());
    for (const l of body.slice(1)) out.push(`${' '.repeat(col + 2)}${l}`);
  }
  return out.join('\n');
}

/** `deploy-loop <command> --help`: usage, description, options from the table, examples. */
export function renderCommandHelp(command: Command): string {
  const parts = [`deploy-loop ${command.name}: ${command.summary}`, `Usage: ${usageLine(command)}`, command.description.trim()];
  const positionals = command.positionals ?? [];
  if (positionals.length > 0) {
    parts.push(`Arguments:\n${renderRows(positionals.map((p) => [p.name, p.description]))}`);
  }
  const rows = Object.entries(command.options).map(([name, spec]) => {
    // The choices, unless the description already names every one of them.
    const named = spec.choices?.every((c) => spec.description.includes(c)) ?? true;
    const choices = named ? '' : `; one of: ${spec.choices?.join(', ')}`;
    return [optionLabel(name, spec), `${spec.description}${choices}`] as const;
  });
  if (rows.length > 0) parts.push(`Options:\n${renderRows(rows)}`);
  if (command.examples.length > 0) parts.push(`Example${command.examples.length > 1 ? 's' : ''}:\n${command.examples.map((e) => `  ${e}`).join('\n')}`);
  return `${parts.filter(Boolean).join('\n\n')}\n`;
}
