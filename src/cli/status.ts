/** `deploy-loop status`: the lock, the live traffic split, the last cycle; stops what a dead run left running. */
import { resolve } from 'node:path';
import { CONFIG_OPTION, HELP_OPTION, LOG_OPTIONS, defineCommand } from './command.js';
import { cliLogger } from './shared.js';

export const statusCommand = defineCommand({
  name: 'status',
  summary: 'the lock, the live traffic split and the last cycle',
  description: `Prints who holds the loop's lock, the service's live traffic split and the
last recorded cycle. Process groups a killed run left running (revisions, a fix
command) are stopped first, and named.`,
  examples: ['deploy-loop status', 'deploy-loop status -c loop.config.yaml'],
  options: {
    ...CONFIG_OPTION,
    ...LOG_OPTIONS,
    ...HELP_OPTION,
  },
  async run({ values, signal }) {
    const [{ loadConfig }, { status }, { reapSurvivors }] = await Promise.all([
      import('../config/load.js'),
      import('../traffic/status-command.js'),
      import('../runtime/reap.js'),
    ]);
    const log = await cliLogger(values);
    const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
    const stopped = await reapSurvivors(resolve(loaded.baseDir, loaded.config.reports.dir), log);
    for (const s of stopped) process.stdout.write(`stopped ${s.label ?? s.kind} (${s.program}, process group ${s.pgid}) left by a run that is gone\n`);
    return status({ loaded, log, signal });
  },
});
