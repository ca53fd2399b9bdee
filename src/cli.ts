/**
 * The command line. The only module that decides exit codes; command bodies are loaded lazily so
 * `--help` and `validate` start fast.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DeployLoopError, EXIT, errorMessage, type ExitCode } from './errors.js';

const HELP = `deploy-loop: build, deploy, shift traffic, smoke and report in a loop until every P0 check passes

Usage: deploy-loop <command> [options]

Commands:
  run                 cycles until the gate passes or a bound (loop.maxCycles, maxMinutes, stallAfter);
                      runs loop.fix.command between cycles; prints how it ended
  cycle               one cycle (build, deploy candidate, smoke, gate, promote or keep)
  smoke --url URL     only the smoke suite, against any URL
  validate            check the config and print a summary; runs nothing
  init                write a commented loop.config.yaml (--service NAME, --target local|cloudrun,
                      --health-path /healthz, --ws-path /ws, --force to overwrite); never asks
  schema [WHICH]      print a JSON Schema: config (default, loop.config.yaml), report (reports/cycle-NNN.json),
                      record (reports/history/cycle-NNN.json), issues (the fix command's DEPLOY_LOOP_ISSUES_JSON)
                      or outcome (the --json PATH file)
  report              re-render every report from reports/history (--cycle N prints one)
  accept-suite        accept the current smoke suite and gate after a change that weakened them
  rollback            cloudrun: all traffic to the newest revision that passed a cycle (or --revision NAME)
  emulator            serve the local Cloud Run Admin API emulator (--port N)

Options:
  -c, --config PATH   config file (default: loop.config.yaml)
      --max-cycles N  override loop.maxCycles (run)
      --json PATH     also write the run's outcome and the last cycle's JSON report to PATH
      --junit PATH    also write the last cycle's JUnit XML to PATH
      --format F      report: markdown | json | junit (with --cycle)
      --cycle N       report: the cycle to print
      --url URL       smoke: base URL to test
      --revision NAME rollback: the revision to give 100% of traffic
      --port N        emulator: port on 127.0.0.1 (default 0: pick one)
      --emulator-config PATH  emulator: YAML mapping images to local commands
      --log-format F  auto | json | pretty (default auto: pretty on a terminal, JSON otherwise)
      --log-level L   trace | debug | info | warn | error (default info)
  -h, --help          this help
  -v, --version       the version

In GitHub Actions: with GITHUB_STEP_SUMMARY set, run and cycle append the verdict, gate and issues to
it; with GITHUB_ACTIONS=true they print ::error annotations for failing P0/P1 checks.

Exit codes:
  cycle: 0 gate passed · 1 gate failed · 3 build or deploy failed
  run:   0 passed · 4 ended without passing (max-cycles, max-minutes, stalled, fix-failed)
  all:   2 configuration or usage error · 70 internal error · 130 interrupted
`;

const OPTIONS = {
  config: { type: 'string', short: 'c', default: 'loop.config.yaml' },
  'max-cycles': { type: 'string' },
  json: { type: 'string' },
  junit: { type: 'string' },
  format: { type: 'string' },
  cycle: { type: 'string' },
  url: { type: 'string' },
  port: { type: 'string' },
  'emulator-config': { type: 'string' },
  revision: { type: 'string' },
  service: { type: 'string' },
  target: { type: 'string' },
  'health-path': { type: 'string' },
  'ws-path': { type: 'string' },
  force: { type: 'boolean' },
  'log-format': { type: 'string', default: 'auto' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} satisfies ParseArgsConfig['options'];

export type CliValues = ReturnType<typeof parse>['values'];

function parse(argv: string[]) {
  return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
}

export async function main(argv: string[]): Promise<ExitCode> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    process.stderr.write(`deploy-loop: ${errorMessage(err)}\nRun deploy-loop --help for usage.\n`);
    return EXIT.usage;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    return EXIT.ok;
  }
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(HELP);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  // Only `schema` takes an argument (which schema).
  const maxPositionals = command === 'schema' ? 2 : 1;
  if (positionals.length > maxPositionals) {
    process.stderr.write(`deploy-loop: unexpected argument "${positionals[maxPositionals]}"\n`);
    return EXIT.usage;
  }
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      process.stderr.write(`deploy-loop: second ${sig}, exiting now\n`);
      process.exit(EXIT.interrupted);
    }
    process.stderr.write(`deploy-loop: ${sig} received: stopping after the current step (again to force)\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { runCommandLine } = await import('./commands.js');
    return await runCommandLine(command, values, controller.signal, positionals.slice(1));
  } catch (err) {
    if (err instanceof DeployLoopError) {
      process.stderr.write(`deploy-loop: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
      return err.exitCode;
    }
    if (controller.signal.aborted) return EXIT.interrupted;
    process.stderr.write(`deploy-loop: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.internal;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
