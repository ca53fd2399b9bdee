/** `deploy-loop init`: a commented loop.config.yaml from flags alone; never asks. */
import { EXIT } from '../errors.js';
import { HELP_OPTION, defineCommand } from './command.js';

export const initCommand = defineCommand({
  name: 'init',
  summary: 'write a commented loop.config.yaml; never asks',
  description: `Writes a commented config for your service that passes validate. The service
name defaults to the folder's name. An existing file is left alone unless
--force is given.`,
  examples: ['deploy-loop init --service chat-api --health-path /health --ws-path /ws'],
  options: {
    config: { type: 'string', short: 'c', value: 'PATH', files: true, description: 'where to write (default: loop.config.yaml)' },
    service: { type: 'string', value: 'NAME', description: 'service name (Cloud Run rules)' },
    target: { type: 'string', value: 'KIND', choices: ['local', 'cloudrun'], description: 'where it deploys (default: local)' },
    'health-path': { type: 'string', value: 'PATH', description: 'the P0 HTTP check (default: /healthz)' },
    'ws-path': { type: 'string', value: 'PATH', description: 'also a P0 WebSocket check on this path' },
    force: { type: 'boolean', description: 'overwrite an existing file' },
    ...HELP_OPTION,
  },
  async run({ values }) {
    const { initConfig } = await import('../init.js');
    const file = await initConfig({
      file: values.config ?? 'loop.config.yaml',
      force: values.force === true,
      ...(values.service !== undefined ? { service: values.service } : {}),
      ...(values.target !== undefined ? { target: values.target } : {}),
      ...(values['health-path'] !== undefined ? { healthPath: values['health-path'] } : {}),
      ...(values['ws-path'] !== undefined ? { wsPath: values['ws-path'] } : {}),
    });
    const again = values.config && values.config !== 'loop.config.yaml' ? ` -c ${values.config}` : '';
    process.stdout.write(`wrote ${file}; check it with: deploy-loop validate${again}\n`);
    return EXIT.ok;
  },
});
