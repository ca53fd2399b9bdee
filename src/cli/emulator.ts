/** `deploy-loop emulator`: the local Cloud Run Admin API v2 emulator, until interrupted. */
import { EXIT, UsageError } from '../errors.js';
import { HELP_OPTION, LOG_OPTIONS, defineCommand } from './command.js';
import { cliLogger } from './shared.js';

export const emulatorCommand = defineCommand({
  name: 'emulator',
  summary: 'serve the local Cloud Run Admin API emulator',
  description: `Serves the Cloud Run Admin API v2 (gRPC) on 127.0.0.1, running revisions as
local processes, so a cloudrun config can be rehearsed with no Google account.
Prints its endpoint and runs until Ctrl-C.`,
  examples: ['deploy-loop emulator --port 8089 --emulator-config emulator.yaml'],
  options: {
    port: { type: 'string', value: 'N', description: 'port on 127.0.0.1 (default 0: pick one)' },
    'emulator-config': { type: 'string', value: 'PATH', files: true, description: 'YAML mapping images to local commands' },
    ...LOG_OPTIONS,
    quiet: { ...LOG_OPTIONS.quiet, description: 'warnings, errors and the result only' },
    ...HELP_OPTION,
  },
  async run({ values, signal }) {
    const port = values.port === undefined ? 0 : Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535 (got "${values.port}")`);
    const { startEmulator } = await import('../emulator/index.js');
    const log = await cliLogger(values);
    const emu = await startEmulator({ port, log, ...(values['emulator-config'] ? { configFile: values['emulator-config'] } : {}) });
    process.stdout.write(`Cloud Run Admin API emulator on ${emu.endpoint}${emu.adminUrl ? ` (faults: ${emu.adminUrl})` : ''}\n`);
    await new Promise<void>((res) => signal.addEventListener('abort', () => res(), { once: true }));
    await emu.close();
    return EXIT.ok;
  },
});
