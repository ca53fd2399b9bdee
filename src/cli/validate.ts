/** `deploy-loop validate`: the config checked and summarised; nothing runs. */
import { EXIT } from '../errors.js';
import type { Config } from '../config/schema.js';
import { CONFIG_OPTION, HELP_OPTION, defineCommand } from './command.js';

/** `FILE: valid`, then the service, build, target and the checks by priority. */
export function renderValidation(file: string, config: Config): string {
  const byPriority = config.smoke.checks.reduce<Record<string, number>>((m, c) => ({ ...m, [c.priority]: (m[c.priority] ?? 0) + 1 }), {});
  const priorities = Object.entries(byPriority)
    .sort()
    .map(([p, n]) => `${p}: ${n}`)
    .join(', ');
  return (
    `${file}: valid\n  service ${config.service}, build ${config.build.kind}, target ${config.target.kind}\n` +
    `  ${config.smoke.checks.length} checks (${priorities})\n`
  );
}

export const validateCommand = defineCommand({
  name: 'validate',
  summary: 'check the config and print a summary; runs nothing',
  description: `Loads the config as run and cycle would (\${VAR} interpolation included) and
prints its service, build, target and checks. A problem is reported with its
file, line and field, and exits 2.`,
  examples: ['deploy-loop validate -c deploy/loop.config.yaml'],
  options: { ...CONFIG_OPTION, ...HELP_OPTION },
  async run({ values }) {
    const { loadConfig } = await import('../config/load.js');
    const [{ config, file }, { configWarnings, renderWarnings }] = await Promise.all([
      loadConfig(values.config ?? 'loop.config.yaml', process.env, { checkPaths: true }),
      import('../config/warnings.js'),
    ]);
    // Valid but likely wrong on Cloud Run: said on stderr, the config still validates.
    process.stderr.write(renderWarnings(configWarnings(config)));
    process.stdout.write(renderValidation(file, config));
    return EXIT.ok;
  },
});
