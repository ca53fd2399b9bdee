/** `deploy-loop help [COMMAND]` and the top-level help, built from the command tables. */
import { EXIT, UsageError } from '../errors.js';
import { HELP_OPTION, defineCommand, renderCommandHelp, renderRows, type Command } from './command.js';

export function renderTopHelp(commands: readonly Command[]): string {
  return `deploy-loop: build, deploy, shift traffic, smoke and report in a loop until
every P0 check passes

Usage: deploy-loop <command> [options]

Commands:
${renderRows(commands.map((c) => [c.name, c.summary]), 14)}

Every command takes --help; deploy-loop help <command> says the same.
deploy-loop --version prints the version.

Example:
  deploy-loop init --service chat-api && deploy-loop validate && deploy-loop run

In GitHub Actions: with GITHUB_STEP_SUMMARY set, run and cycle append the
verdict, gate and issues to it; with GITHUB_ACTIONS=true they print ::error
annotations for failing P0/P1 checks.

Exit codes:
  cycle: 0 gate passed · 1 gate failed · 3 build, deploy or another step failed
  run:   0 passed · 4 ended without passing (max-cycles, max-minutes, stalled,
         fix-failed) · 5 regression (a change broke a passing check, with
         loop.onRegression: stop)
  all:   2 configuration or usage error · 70 internal error · 130 interrupted
         (Ctrl-C, SIGTERM or a closed terminal)
`;
}

/** The closest command name, for "did you mean": by edit distance, or a unique prefix. */
export function suggestCommand(name: string, commands: readonly Command[]): string | undefined {
  const names = commands.map((c) => c.name);
  const prefixed = names.filter((n) => n.startsWith(name));
  if (name.length >= 2 && prefixed.length === 1) return prefixed[0];
  let best: { name: string; d: number } | undefined;
  for (const n of names) {
    const d = editDistance(name.toLowerCase(), n);
    if (!best || d < best.d) best = { name: n, d };
  }
  // Within about a third of the word: `rn` → run, `smok` → smoke, but not `deploy` → report.
  return best && best.d <= Math.max(1, Math.floor(best.name.length / 3)) ? best.name : undefined;
}

/** Levenshtein distance with transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      const prev = d[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

export function unknownCommand(name: string, commands: readonly Command[]): UsageError {
  const guess = suggestCommand(name, commands);
  return new UsageError(
    `unknown command "${name}"${guess ? `; did you mean "${guess}"?` : ''}`,
    `commands: ${commands.map((c) => c.name).join(', ')} (deploy-loop --help)`,
  );
}

export const helpCommand = defineCommand({
  name: 'help',
  summary: 'this list, or one command in full',
  description: "Prints the command list, or a command's usage, options and examples.",
  examples: ['deploy-loop help cycle'],
  options: { ...HELP_OPTION },
  positionals: [{ name: 'command', required: false, choices: 'commands', description: 'the command to describe' }],
  async run({ positionals, commands }) {
    const name = positionals[0];
    if (name === undefined) {
      process.stdout.write(renderTopHelp(commands));
      return EXIT.ok;
    }
    const command = commands.find((c) => c.name === name);
    if (!command) throw unknownCommand(name, commands);
    process.stdout.write(renderCommandHelp(command));
    return EXIT.ok;
  },
});
