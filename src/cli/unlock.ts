/** `deploy-loop unlock`: remove a lock left by a run that is gone, naming its holder. */
import { CONFIG_OPTION, HELP_OPTION, LOG_OPTIONS, defineCommand } from './command.js';
import { cliLogger } from './shared.js';

export const unlockCommand = defineCommand({
  name: 'unlock',
  summary: 'remove a lock whose run is gone (names the holder)',
  description: `Removes the reports folder's lock and, on Cloud Run, the lock recorded on
the service, naming who held them. A holder whose process is still alive is
refused unless --force is given: unlocking a live loop lets two loops fight
over one service's traffic.`,
  examples: ['deploy-loop unlock', 'deploy-loop unlock --force'],
  options: {
    force: { type: 'boolean', description: 'remove the lock even if its holder looks alive' },
    ...CONFIG_OPTION,
    ...LOG_OPTIONS,
    ...HELP_OPTION,
  },
  async run({ values, signal }) {
    const [{ loadConfig }, { unlock }] = await Promise.all([import('../config/load.js'), import('../traffic/unlock-command.js')]);
    const log = await cliLogger(values);
    const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
    return unlock({ loaded, log, signal, force: values.force === true });
  },
});
