/** `deploy-loop rollback`: Cloud Run traffic back to the newest revision that passed a cycle. */
import { CONFIG_OPTION, HELP_OPTION, LOG_OPTIONS, defineCommand } from './command.js';
import { cliLogger } from './shared.js';

export const rollbackCommand = defineCommand({
  name: 'rollback',
  summary: 'cloudrun: all traffic to the last revision that passed',
  description: `Gives 100% of the service's traffic to the newest revision that passed a
cycle (from reports/history), or to --revision NAME. Cloud Run only: the local
target's revisions live only as long as the loop that started them. Takes the
loop's lock, so it cannot fight a running loop.`,
  examples: ['deploy-loop rollback --revision chat-api-00042-xav'],
  options: {
    revision: { type: 'string', value: 'NAME', description: 'the revision to give 100% of traffic' },
    ...CONFIG_OPTION,
    ...LOG_OPTIONS,
    quiet: { ...LOG_OPTIONS.quiet, description: 'warnings, errors and the result only' },
    ...HELP_OPTION,
  },
  async run({ values, signal }) {
    const [{ loadConfig }, { rollback }] = await Promise.all([
      import('../config/load.js'),
      import('../traffic/rollback-command.js'),
    ]);
    const log = await cliLogger(values);
    const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
    return rollback({ loaded, log, signal, ...(values.revision ? { revision: values.revision } : {}) });
  },
});
