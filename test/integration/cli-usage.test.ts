/**
 * The command line as a user meets it, through the real binary: options a command does not take,
 * unknown commands, the version and help, `node dist/cli.js`, an old Node, shell completion.
 */
import { execFile } from 'node:child_process';
import { access, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, removeDir, runCli, scratchDir } from '../helpers/cli.js';
import { tinyConfig, writeTinyProject } from '../helpers/tiny-service.js';

const run = promisify(execFile);
const exists = (file: string) => access(file).then(() => true, () => false);
const DIST_CLI = join(ROOT, 'dist', 'cli.js');

/** The exit code and output of any command, failing or not. */
async function spawnAll(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  try {
    const r = await run(file, args, { cwd, env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let dir: string;
beforeAll(async () => {
  dir = await scratchDir('cli-usage');
  await writeTinyProject(dir, 'ws1011', tinyConfig());
});
afterAll(async () => {
  await removeDir(dir);
});

describe('options a command does not take', () => {
  const cases: { args: string[]; names: RegExp }[] = [
    { args: ['validate', '--junit', 'out/v.xml'], names: /validate takes: -c\/--config PATH, -h\/--help/ },
    { args: ['smoke', '--url', 'http://127.0.0.1:9', '--json', 'out/s.json', '--junit', 'out/s.xml'], names: /smoke takes: --url URL, -c\/--config PATH/ },
    { args: ['cycle', '--max-cycles', '3'], names: /cycle takes: -c\/--config PATH, --json PATH, --junit PATH/ },
    { args: ['schema', '--config', 'x.yaml'], names: /schema takes: -h\/--help/ },
  ];
  for (const c of cases) {
    it(`${c.args.join(' ')}: exit 2, naming the options it does take, and nothing runs`, async () => {
      const r = await runCli(c.args, { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(c.names);
      expect(r.stdout).toBe('');
      expect(await exists(join(dir, 'out'))).toBe(false);
      expect(await exists(join(dir, 'reports'))).toBe(false);
    });
  }

  it('--log-level bogus is a usage error (exit 2), before any cycle starts', async () => {
    const r = await runCli(['cycle', '--log-level', 'bogus'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--log-level must be one of trace, debug, info, warn, error, fatal, silent (got "bogus")');
    expect(await exists(join(dir, 'reports'))).toBe(false);
    const env = await runCli(['cycle'], { cwd: dir, env: { DEPLOY_LOOP_LOG_LEVEL: 'loud' } });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('DEPLOY_LOOP_LOG_LEVEL must be one of');
    expect((await runCli(['run', '--quiet', '--verbose'], { cwd: dir })).code).toBe(2);
  });
});

describe('commands, version and help', () => {
  it('an unknown command gets a "did you mean"', async () => {
    const r = await runCli(['valdate'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command "valdate"; did you mean "validate"?');
    const far = await runCli(['deploy'], { cwd: dir });
    expect(far.code).toBe(2);
    expect(far.stderr).not.toContain('did you mean');
    expect(far.stderr).toContain('commands: run, cycle, smoke, validate');
  });

  it('--version and version print the version; -v is not the version', async () => {
    const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['--version'], ['version']]) {
      const r = await runCli(args, { cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
    const v = await runCli(['-v'], { cwd: dir });
    expect(v.code).toBe(2);
    expect(v.stdout).toBe('');
    expect(v.stderr).toContain('--version');
    expect((await runCli(['validate', '-v'], { cwd: dir })).code).toBe(2);
  });

  it('<command> --help and help <command> print the same help, from the command table, within 80 columns', async () => {
    for (const name of ['run', 'cycle', 'smoke', 'validate', 'init', 'schema', 'report', 'accept-suite', 'rollback', 'emulator', 'completion']) {
      const a = await runCli([name, '--help'], { cwd: dir });
      const b = await runCli(['help', name], { cwd: dir });
      expect(a.code, name).toBe(0);
      expect(b.code, name).toBe(0);
      expect(a.stdout).toBe(b.stdout);
      expect(a.stdout).toContain(`Usage: deploy-loop ${name}`);
      expect(a.stdout).toMatch(new RegExp(`Examples?:\\n  deploy-loop ${name}`));
      expect(a.stdout.split('\n').filter((l) => [...l].length > 80)).toEqual([]);
    }
    const cycle = await runCli(['cycle', '--help'], { cwd: dir });
    expect(cycle.stdout).toContain('--junit PATH');
    expect(cycle.stdout).not.toContain('--max-cycles');
    const nope = await runCli(['help', 'valdate'], { cwd: dir });
    expect(nope.code).toBe(2);
    expect(nope.stderr).toContain('did you mean "validate"?');
  });
});

describe('node dist/cli.js', () => {
  it('runs the command (a failing cycle exits 1, not 0) and refuses a bad option', async () => {
    const project = await scratchDir('cli-entry');
    try {
      await writeTinyProject(project, 'ws1011', tinyConfig());
      const v = await spawnAll(process.execPath, [DIST_CLI, 'validate'], project);
      expect(v.code).toBe(0);
      expect(v.stdout).toContain(': valid');
      const c = await spawnAll(process.execPath, [DIST_CLI, 'cycle', '--log-format', 'json'], project, { ...process.env, CI: 'true' });
      expect(c.code).toBe(1);
      expect(c.stdout).toMatch(/^cycle 1: gate-failed/m);
      expect((await spawnAll(process.execPath, [DIST_CLI, 'cycle', '--bogus'], project)).code).toBe(2);
      // Reached through a symlink, as a package manager's bin folder does.
      await symlink(DIST_CLI, join(project, 'linked-cli.js'));
      const linked = await spawnAll(process.execPath, [join(project, 'linked-cli.js'), 'validate'], project);
      expect(linked.code).toBe(0);
      expect(linked.stdout).toContain(': valid');
      // Imported, it runs nothing: bin/deploy-loop.js calls main() itself, once.
      const imported = await spawnAll(process.execPath, ['--input-type=module', '-e', `await import(${JSON.stringify(DIST_CLI)}); console.log('imported')`], project);
      expect(imported).toMatchObject({ code: 0, stdout: 'imported\n' });
    } finally {
      await removeDir(project);
    }
  });
});

// The machine's own node is 20 (the project runs on the 24 in node_modules).
const OLD_NODE = '/usr/bin/node';
const oldNodeVersion = await run(OLD_NODE, ['--version']).then((r) => r.stdout.trim(), () => undefined);
const oldEnough = oldNodeVersion !== undefined && Number(oldNodeVersion.slice(1).split('.')[0]) < 22;

describe.skipIf(!oldEnough)(`an old Node (${oldNodeVersion ?? 'none'} at ${OLD_NODE})`, () => {
  it('bin/deploy-loop.js refuses it with the reason and exit 2, before loading anything', async () => {
    const r = await spawnAll(OLD_NODE, [BIN, 'validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`deploy-loop needs Node.js 22 or newer; this is ${oldNodeVersion!.slice(1)}\n`);
    expect(r.stdout).toBe('');
  });

  it('dist/cli.js run directly refuses it the same way', async () => {
    const r = await spawnAll(OLD_NODE, [DIST_CLI, 'validate'], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^deploy-loop needs Node\.js 22 or newer; this is 20\./);
  });
});

describe('completion', () => {
  /** Runs bash's completion function for a command line as typed so far, in a real bash. */
  async function complete(words: string[]): Promise<string[]> {
    const script = [
      `source <(${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} completion bash)`,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_deploy_loop',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const r = await run('bash', ['-c', script], { cwd: dir });
    return r.stdout.split('\n').filter(Boolean);
  }

  it('bash: registers for deploy-loop and completes commands, options and their values', async () => {
    const registered = await run('bash', ['-c', `source <(${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} completion bash); complete -p deploy-loop`]);
    expect(registered.stdout.trim()).toBe('complete -o default -F _deploy_loop deploy-loop');
    expect(await complete(['deploy-loop', 'val'])).toEqual(['validate']);
    expect(await complete(['deploy-loop', 'c'])).toEqual(['cycle', 'completion']);
    expect(await complete(['deploy-loop', 'cycle', '--ju'])).toEqual(['--junit']);
    // Only the options the command takes.
    expect(await complete(['deploy-loop', 'cycle', '--max'])).toEqual([]);
    expect(await complete(['deploy-loop', 'run', '--max'])).toEqual(['--max-cycles']);
    expect(await complete(['deploy-loop', 'run', '--log-format', 'p'])).toEqual(['pretty']);
    expect(await complete(['deploy-loop', 'schema', 're'])).toEqual(['report', 'record']);
    expect(await complete(['deploy-loop', 'help', 'ro'])).toEqual(['rollback']);
  });

  it('zsh: a #compdef script naming every command and option (syntax-checked when zsh is installed)', async () => {
    const r = await runCli(['completion', 'zsh'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('#compdef deploy-loop\n')).toBe(true);
    for (const name of ['run', 'cycle', 'smoke', 'validate', 'accept-suite']) expect(r.stdout).toMatch(new RegExp(`^    '${name}:`, 'm'));
    expect(r.stdout).toContain("'--max-cycles[override loop.maxCycles]:N: '");
    const zsh = await run('zsh', ['-n', '-c', r.stdout]).then(() => 'ok', (err: { code?: string | number; stderr?: string }) => (err.code === 'ENOENT' ? 'absent' : `error: ${err.stderr}`));
    expect(['ok', 'absent']).toContain(zsh);
  });
});
