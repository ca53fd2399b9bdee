/**
 * zsh completion, run for real: the script `deploy-loop completion zsh` prints is loaded into an
 * interactive zsh (compinit in a temporary ZDOTDIR, both as a `_deploy-loop` file on $fpath and by
 * `source`), a line is typed with TAB in a pseudo-terminal (zsh's own zpty module), and the words
 * the completion system offered are read back.
 *
 * Completion functions only run inside the line editor, so the shell has to be interactive: the
 * usual way to test them is to drive one through zpty and hook `compadd`, the builtin every
 * completion function ends in. The hook asks compadd which words match what was typed (`-O`, no
 * side effect) and writes them to a file, then lets the real compadd run. Errors the completion
 * function prints go to a file too, and must be none.
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/index.js';
import { removeDir, runCli, scratchDir } from '../helpers/cli.js';

const run = promisify(execFile);

/** `zsh --version`, or why there is none: CI must install zsh (.ci/run does), never skip this. */
async function zshVersion(): Promise<string> {
  try {
    return (await run('zsh', ['--version'])).stdout.trim();
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new Error(
      code === 'ENOENT'
        ? 'zsh is not installed, so the zsh completion cannot be tested: install it (`apt-get install -y zsh`; .ci/run does this)'
        : `zsh --version failed: ${String(err)}`,
    );
  }
}

/** The interactive shell's startup file: a known prompt, errors and offered words to files. */
function zshrc(load: 'fpath' | 'source'): string {
  return [
    "PS1='zc-ready> '",
    'exec 2>>"$ZDOTDIR/stderr.log"',
    'bindkey -e',
    ...(load === 'fpath' ? ['fpath=("$ZDOTDIR/fn" $fpath)'] : []),
    'autoload -Uz compinit && compinit -u -d "$ZDOTDIR/.zcompdump"',
    ...(load === 'source' ? ['source "$ZDOTDIR/deploy-loop.zsh"'] : []),
    // Calls that already collect matches (-O, -A, -D) are the completion system's own bookkeeping.
    'compadd() {',
    '  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\\ * ]]; then builtin compadd "$@"; return; fi',
    '  local -a __m',
    '  builtin compadd -O __m "$@"',
    '  (( $#__m )) && print -rl -- "${__m[@]}" >> "$ZDOTDIR/matches.log"',
    '  builtin compadd "$@"',
    '}',
    '',
  ].join('\n');
}

/**
 * Run by `zsh -f`: starts the interactive shell in a pseudo-terminal, waits for its first prompt
 * (keys typed earlier are dropped), then for each line types it, TAB, ^U to clear the line and a
 * command whose output (42, not its echo) says the completion has finished; last, `exit`.
 */
const DRIVER = `zmodload zsh/zpty || { print -u2 'the zsh/zpty module is missing'; exit 3 }
dir=$1; shift
zpty -b z env ZDOTDIR=$dir TERM=dumb zsh -d -i
zpty -r z junk '*zc-ready> *' || { print -u2 'no prompt from the interactive zsh'; exit 4 }
for q in "$@"; do
  print -r -- "### $q" >> $dir/matches.log
  zpty -w -n z "$q"$'\\t'$'\\x15''print -r -- @@$((6*7))@@'$'\\r'
  zpty -r z junk '*@@42@@*' || { print -u2 "no answer after: $q"; exit 4 }
done
# End the shell itself before the pty goes: deleting it under a running zsh makes that zsh fail its
# next terminal read and say so on stderr, which is the harness, not the completion.
zpty -w z 'exit'
for i in {1..100}; do zpty -t z || break; sleep 0.05; done
zpty -d z
`;

/** The words offered for each typed line, sorted and without repeats. */
async function complete(dir: string, load: 'fpath' | 'source', lines: string[]): Promise<{ offered: Map<string, string[]>; errors: string }> {
  await writeFile(join(dir, '.zshrc'), zshrc(load));
  await writeFile(join(dir, 'matches.log'), '');
  await writeFile(join(dir, 'stderr.log'), '');
  await run('zsh', ['-f', join(dir, 'drive.zsh'), dir, ...lines], { cwd: dir, timeout: 60_000 });
  const offered = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of (await readFile(join(dir, 'matches.log'), 'utf8')).split('\n')) {
    if (line.startsWith('### ')) offered.set(line.slice(4), (current = []));
    else if (line !== '' && current) current.push(line);
  }
  for (const [k, v] of offered) offered.set(k, [...new Set(v)].sort());
  return { offered, errors: await readFile(join(dir, 'stderr.log'), 'utf8') };
}

let dir: string;
let version: Promise<string>;
beforeAll(async () => {
  version = zshVersion();
  version.catch(() => undefined);
  dir = await scratchDir('completion-zsh');
  await mkdir(join(dir, 'fn'));
  const script = await runCli(['completion', 'zsh'], { cwd: dir });
  expect(script.code, script.stderr).toBe(0);
  await writeFile(join(dir, 'fn', '_deploy-loop'), script.stdout);
  await writeFile(join(dir, 'deploy-loop.zsh'), script.stdout);
  await writeFile(join(dir, 'drive.zsh'), DRIVER);
  // Something for `--config PATH` to complete from (the shell's working folder).
  await writeFile(join(dir, 'loop.config.yaml'), 'service: x\n');
});
afterAll(async () => {
  await removeDir(dir);
});

describe('zsh completion in a real zsh', () => {
  it('zsh is installed', async () => {
    expect(await version).toMatch(/^zsh \d/);
  });

  it('installed on $fpath (#compdef): completes commands, a command\'s options and their values', async () => {
    await version;
    const lines = {
      all: 'deploy-loop ',
      c: 'deploy-loop c',
      val: 'deploy-loop val',
      junit: 'deploy-loop cycle --ju',
      cycleMax: 'deploy-loop cycle --max',
      runMax: 'deploy-loop run --max',
      format: 'deploy-loop run --log-format p',
      target: 'deploy-loop init --target ',
      schema: 'deploy-loop schema re',
      help: 'deploy-loop help ro',
      shell: 'deploy-loop completion ',
      validate: 'deploy-loop validate -',
      file: 'deploy-loop validate --config loop.',
    };
    const { offered, errors } = await complete(dir, 'fpath', Object.values(lines));
    expect(errors).toBe('');
    const words = (line: string) => offered.get(line);
    expect(words(lines.all)).toEqual(COMMANDS.map((c) => c.name).sort());
    expect(words(lines.c)).toEqual(['completion', 'cycle']);
    expect(words(lines.val)).toEqual(['validate']);
    expect(words(lines.junit)).toEqual(['--junit']);
    // Only the options the command takes: cycle has no --max-cycles, run has.
    expect(words(lines.cycleMax)).toEqual([]);
    expect(words(lines.runMax)).toEqual(['--max-cycles']);
    expect(words(lines.format)).toEqual(['pretty']);
    expect(words(lines.target)).toEqual(['cloudrun', 'local']);
    expect(words(lines.schema)).toEqual(['record', 'report']);
    expect(words(lines.help)).toEqual(['rollback']);
    expect(words(lines.shell)).toEqual(['bash', 'zsh']);
    expect(words(lines.validate)).toEqual(['--config', '--help', '-c', '-h']);
    expect(words(lines.file)).toEqual(['loop.config.yaml']);
  }, 90_000);

  it('loaded with `source <(deploy-loop completion zsh)`: the same completions, through compdef', async () => {
    await version;
    const { offered, errors } = await complete(dir, 'source', ['deploy-loop c', 'deploy-loop run --log-format p', 'deploy-loop smoke --u']);
    expect(errors).toBe('');
    expect(offered.get('deploy-loop c')).toEqual(['completion', 'cycle']);
    expect(offered.get('deploy-loop run --log-format p')).toEqual(['pretty']);
    expect(offered.get('deploy-loop smoke --u')).toEqual(['--url']);
  }, 90_000);
});
