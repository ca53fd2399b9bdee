/** `deploy-loop cycle`: one cycle, no fix step; the exit code is the cycle's verdict. */
import { CONFIG_OPTION, HELP_OPTION, LOG_OPTIONS, defineCommand } from './command.js';
import { OUTPUT_OPTIONS } from './run.js';

export const cycleCommand = defineCommand({
  name: 'cycle',
  summary: 'one cycle: build, deploy, smoke, gate, promote or keep',
  description: `Runs one cycle and never the fix command: build, deploy the candidate tagged
with no traffic, smoke it through its tag URL, assess the gate, then promote it
(directly or in canary steps) or keep traffic where it was. Exits 0 when the
gate passed, 1 when it failed, 3 when the build, the deploy or another step
failed.`,
  examples: ['deploy-loop cycle -c deploy/loop.config.yaml --json out/outcome.json'],
  options: { ...CONFIG_OPTION, ...OUTPUT_OPTIONS, ...LOG_OPTIONS, ...HELP_OPTION },
  async run({ values, signal }) {
    const { runLoopCommand } = await import('./loop-command.js');
    return runLoopCommand('cycle', values, signal, 1);
  },
});
