/** `deploy-loop run`: cycles until the gate passes or a bound is reached, with the fix step between. */
import { CONFIG_OPTION, HELP_OPTION, LOG_OPTIONS, defineCommand, type OptionTable } from './command.js';
import { positiveInt } from './shared.js';

export const OUTPUT_OPTIONS = {
  json: { type: 'string', value: 'PATH', files: true, description: "also write the run's outcome and the last cycle's JSON report to PATH" },
  junit: { type: 'string', value: 'PATH', files: true, description: "also write the last cycle's JUnit XML to PATH" },
  'adopt-live-traffic': { type: 'boolean', description: 'keep the split a killed run left (default: restore it)' },
} as const satisfies OptionTable;

export const runCommand = defineCommand({
  name: 'run',
  summary: 'cycles until the gate passes or a bound is reached',
  description: `Runs cycles (build, deploy a candidate, smoke, gate, promote or keep) until the
gate passes, or loop.maxCycles, loop.maxMinutes or loop.stallAfter ends the run.
Between cycles it runs loop.fix.command with the last report's paths in its
environment. Each cycle ends with its checks, the gate, the verdict and the
report paths on stdout; the last line says how the run ended.`,
  examples: ['deploy-loop run --max-cycles 5 --junit out/junit.xml'],
  options: {
    ...CONFIG_OPTION,
    'max-cycles': { type: 'string', value: 'N', description: 'override loop.maxCycles' },
    ...OUTPUT_OPTIONS,
    ...LOG_OPTIONS,
    ...HELP_OPTION,
  },
  async run({ values, signal }) {
    const maxCycles = positiveInt('max-cycles', values['max-cycles']);
    const { runLoopCommand } = await import('./loop-command.js');
    return runLoopCommand('run', values, signal, maxCycles);
  },
});
