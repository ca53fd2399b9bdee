/**
 * The command line: parses, dispatches and exits. Each command (src/cli/) declares its options,
 * help and output; this is the only module that turns errors into exit codes.
 */
import { DeployLoopError, EXIT, UsageError, type ExitCode } from './errors.js';
import { parseCommandArgs, renderCommandHelp, type Command } from './cli/command.js';
import { isEntryPoint, nodeTooOld } from './cli/entry.js';
import { renderTopHelp, unknownCommand } from './cli/help.js';
import { COMMANDS } from './cli/index.js';

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function printError(err: DeployLoopError): void {
  process.stderr.write(`deploy-loop: ${err.message}\n${err.hint ? `hint: ${err.hint}\n` : ''}`);
}

/** The command and its arguments, or what to print instead. */
function dispatch(argv: string[]): { command: Command; args: string[] } | ExitCode | UsageError {
  const [first, ...rest] = argv;
  if (first === undefined) {
    process.stdout.write(renderTopHelp(COMMANDS));
    return EXIT.usage;
  }
  if (first === '--help' || first === '-h') return { command: findCommand('help'), args: rest };
  if (first === '--version') return { command: findCommand('version'), args: rest };
  if (first.startsWith('-')) {
    // `-v` was the version once; it is not any more (it reads as --verbose to many).
    const hint = first === '-v' ? 'the version is --version (or deploy-loop version); more logs: --verbose after the command' : 'options go after the command';
    return new UsageError(`unknown option "${first}": usage: deploy-loop <command> [options]`, hint);
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) return unknownCommand(first, COMMANDS);
  return { command, args: rest };
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw new Error(`no ${name} command`);
  return command;
}

export async function main(argv: string[]): Promise<ExitCode> {
  const old = nodeTooOld();
  if (old) {
    process.stderr.write(`${old}\n`);
    return EXIT.usage;
  }
  const found = dispatch(argv);
  if (typeof found === 'number') return found;
  if (found instanceof UsageError) {
    printError(found);
    return found.exitCode;
  }
  const { command, args } = found;
  let parsed: ReturnType<typeof parseCommandArgs>;
  try {
    parsed = parseCommandArgs(command, args);
  } catch (err) {
    if (!(err instanceof DeployLoopError)) throw err;
    printError(err);
    return err.exitCode;
  }
  if (parsed.values.help) {
    process.stdout.write(renderCommandHelp(command));
    return EXIT.ok;
  }
  // A closed terminal (SIGHUP) is Ctrl-C: stop after the current step, restore traffic, record.
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (sig === 'SIGHUP') ignoreClosedTerminal();
    if (signals > 1) {
      process.stderr.write(`deploy-loop: second ${sig}, exiting now\n`);
      process.exit(EXIT.interrupted);
    }
    process.stderr.write(`deploy-loop: ${sig} received: stopping after the current step (again to force)\n`);
    controller.abort(new Error(`interrupted by ${sig}`));
  };
  for (const sig of SIGNALS) process.on(sig, onSignal);
  try {
    return await command.run({ values: parsed.values, positionals: parsed.positionals, signal: controller.signal, commands: COMMANDS });
  } catch (err) {
    if (err instanceof DeployLoopError) {
      printError(err);
      return err.exitCode;
    }
    if (controller.signal.aborted) return EXIT.interrupted;
    process.stderr.write(`deploy-loop: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT.internal;
  } finally {
    for (const sig of SIGNALS) process.off(sig, onSignal);
  }
}

/**
 * After SIGHUP the terminal may be gone: a write to it fails with EIO (or EPIPE through a pipe).
 * That must not crash the cycle while it puts traffic back and writes its record.
 */
function ignoreClosedTerminal(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') > 0) continue;
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EIO' && err.code !== 'EPIPE') throw err;
    });
  }
}

// `node dist/cli.js cycle` runs the command: loaded and exiting 0, a CI step wired that way would
// always pass. bin/deploy-loop.js imports this module and calls main() itself.
if (isEntryPoint(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
