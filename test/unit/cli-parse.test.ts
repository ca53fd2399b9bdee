/** The per-command option tables: what each command accepts and refuses, and the help built from them. */
import { describe, expect, it } from 'vitest';
import { parseCommandArgs, renderCommandHelp, usageLine } from '../../src/cli/command.js';
import { editDistance, renderTopHelp, suggestCommand } from '../../src/cli/help.js';
import { COMMANDS } from '../../src/cli/index.js';
import { logLevel } from '../../src/cli/shared.js';
import { UsageError } from '../../src/errors.js';

const command = (name: string) => {
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) throw new Error(`no command ${name}`);
  return c;
};

function refusal(name: string, args: string[]): UsageError {
  try {
    parseCommandArgs(command(name), args);
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error(`${name} ${args.join(' ')} was accepted`);
}

describe('parseCommandArgs', () => {
  const refused: { what: string; name: string; args: string[]; message: RegExp; hint?: RegExp }[] = [
    { what: 'validate --junit', name: 'validate', args: ['--junit', 'x'], message: /validate does not take --junit/, hint: /-c\/--config PATH, -h\/--help/ },
    { what: 'smoke --json', name: 'smoke', args: ['--url', 'http://x', '--json', 'p', '--junit', 'p'], message: /smoke does not take --json/, hint: /--url URL/ },
    { what: 'cycle --max-cycles (run only)', name: 'cycle', args: ['--max-cycles', '3'], message: /cycle does not take --max-cycles/, hint: /--junit PATH/ },
    { what: 'a short option not declared', name: 'run', args: ['-v'], message: /run does not take -v/ },
    { what: 'a missing value', name: 'run', args: ['--config'], message: /--config needs a value/ },
    { what: 'a value given to a flag', name: 'init', args: ['--force=yes'], message: /--force takes no value/ },
    { what: 'a value outside the choices', name: 'cycle', args: ['--log-level', 'bogus'], message: /--log-level must be one of trace, debug, info/ },
    { what: 'a bad log format', name: 'run', args: ['--log-format', 'xml'], message: /--log-format must be one of auto, json, pretty/ },
    { what: 'an extra argument', name: 'validate', args: ['extra'], message: /unexpected argument "extra"/ },
    { what: 'an unknown schema', name: 'schema', args: ['reports'], message: /unknown schema "reports"/, hint: /config \| report \| record/ },
    { what: 'an unknown shell', name: 'completion', args: ['fish'], message: /unknown shell "fish"/ },
    { what: 'a missing shell', name: 'completion', args: [], message: /completion needs SHELL/ },
    { what: 'schema options of other commands', name: 'schema', args: ['-c', 'x.yaml'], message: /schema does not take -c/ },
  ];
  for (const c of refused) {
    it(`refuses ${c.what}`, () => {
      const err = refusal(c.name, c.args);
      expect(err.exitCode).toBe(2);
      expect(err.message).toMatch(c.message);
      if (c.hint) expect(err.hint).toMatch(c.hint);
    });
  }

  it('accepts what a command declares, short forms included', () => {
    expect(parseCommandArgs(command('run'), ['-c', 'a.yaml', '--max-cycles', '2', '-q', '--no-color']).values).toMatchObject({
      config: 'a.yaml',
      'max-cycles': '2',
      quiet: true,
      'no-color': true,
    });
    expect(parseCommandArgs(command('schema'), ['record']).positionals).toEqual(['record']);
    expect(parseCommandArgs(command('help'), ['cycle']).positionals).toEqual(['cycle']);
    // --help needs no required argument.
    expect(parseCommandArgs(command('completion'), ['--help']).values.help).toBe(true);
  });
});

describe('log level', () => {
  it('comes from --quiet, --verbose or --log-level, one at a time', () => {
    expect(logLevel({ quiet: true })).toBe('warn');
    expect(logLevel({ verbose: true })).toBe('debug');
    expect(logLevel({ 'log-level': 'error' })).toBe('error');
    expect(() => logLevel({ quiet: true, verbose: true })).toThrow(UsageError);
    expect(() => logLevel({ quiet: true, 'log-level': 'debug' })).toThrow(/--log-level cannot be used with --quiet/);
  });

  it('refuses a bad DEPLOY_LOOP_LOG_LEVEL as a usage error, naming the variable', () => {
    const before = process.env.DEPLOY_LOOP_LOG_LEVEL;
    process.env.DEPLOY_LOOP_LOG_LEVEL = 'loud';
    try {
      expect(() => logLevel({})).toThrow(/DEPLOY_LOOP_LOG_LEVEL must be one of/);
      process.env.DEPLOY_LOOP_LOG_LEVEL = 'debug';
      expect(logLevel({})).toBe('debug');
    } finally {
      if (before === undefined) delete process.env.DEPLOY_LOOP_LOG_LEVEL;
      else process.env.DEPLOY_LOOP_LOG_LEVEL = before;
    }
  });
});

describe('did you mean', () => {
  const cases: [string, string | undefined][] = [
    ['valdate', 'validate'],
    ['rn', 'run'],
    ['cylce', 'cycle'],
    ['smok', 'smoke'],
    ['rollbak', 'rollback'],
    ['acc', 'accept-suite'],
    ['deploy', undefined],
    ['xyz', undefined],
  ];
  for (const [typed, meant] of cases) {
    it(`${typed} → ${meant ?? 'no suggestion'}`, () => expect(suggestCommand(typed, COMMANDS)).toBe(meant));
  }
  it('counts a swap of two letters as one edit', () => {
    expect(editDistance('cylce', 'cycle')).toBe(1);
    expect(editDistance('', 'run')).toBe(3);
    expect(editDistance('run', 'run')).toBe(0);
  });
});

describe('help', () => {
  const texts = [['top-level', renderTopHelp(COMMANDS)] as const, ...COMMANDS.map((c) => [c.name, renderCommandHelp(c)] as const)];
  for (const [name, text] of texts) {
    it(`${name}: every line within 80 columns`, () => {
      const long = text.split('\n').filter((l) => [...l].length > 80);
      expect(long).toEqual([]);
    });
  }

  it('each command has an example that names it, and help lists every option of its table', () => {
    for (const c of COMMANDS) {
      expect(c.examples.length, c.name).toBeGreaterThan(0);
      for (const e of c.examples) expect(e.startsWith(`deploy-loop ${c.name}`), `${c.name}: ${e}`).toBe(true);
      const help = renderCommandHelp(c);
      for (const name of Object.keys(c.options)) expect(help, `${c.name} --${name}`).toContain(`--${name}`);
      expect(help).toContain(usageLine(c));
    }
  });

  it('the top-level help lists every command', () => {
    const top = renderTopHelp(COMMANDS);
    for (const c of COMMANDS) expect(top).toMatch(new RegExp(`^  ${c.name} +\\S`, 'm'));
  });
});
