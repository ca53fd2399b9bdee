/** `deploy-loop smoke --url URL`: the config's smoke suite against any URL, then the gate. */
import { EXIT, UsageError } from '../errors.js';
import { CONFIG_OPTION, HELP_OPTION, LOG_OPTIONS, defineCommand } from './command.js';
import { cliLogger, print, verbosity } from './shared.js';

export const smokeCommand = defineCommand({
  name: 'smoke',
  summary: 'only the smoke suite, against any URL',
  description: `Runs the config's smoke checks against URL and assesses the gate, building and
deploying nothing. Prints one line per check (failures with their reason) and
the gate; exits 0 when the gate passes, 1 when it fails. Writes no report.`,
  examples: ['deploy-loop smoke --url http://127.0.0.1:8080 -c loop.config.yaml'],
  options: {
    url: { type: 'string', value: 'URL', required: true, description: 'base URL to test' },
    ...CONFIG_OPTION,
    ...LOG_OPTIONS,
    ...HELP_OPTION,
  },
  async run({ values, signal }) {
    if (!values.url) throw new UsageError('smoke needs --url URL (the base URL to test)');
    let url: URL;
    try {
      url = new URL(values.url);
    } catch {
      throw new UsageError(`--url is not a URL: "${values.url}"`);
    }
    const quiet = verbosity(values) === 'quiet';
    const log = await cliLogger(values);
    const [{ loadConfig }, { assessGate }, { runWatchedSuite, withStopBlocker }, { progress }, { renderGateLine, renderResultLines }] = await Promise.all([
      import('../config/load.js'),
      import('../loop/gate.js'),
      import('../loop/watched-suite.js'),
      import('../progress.js'),
      import('./render.js'),
    ]);
    const { config, baseDir } = await loadConfig(values.config ?? 'loop.config.yaml');
    progress().stage(`smoke ${config.smoke.checks.length} checks against ${url.host}`);
    const { results, stopped } = await runWatchedSuite(
      config.smoke.checks,
      url.href,
      { concurrency: config.smoke.concurrency, defaults: config.smoke.defaults, signal, log, baseDir },
      config.gate.thresholds ?? [],
    ).finally(() => progress().stop());
    if (signal.aborted) return EXIT.interrupted;
    const gate = assessGate(results, config.gate, withStopBlocker({}, stopped));
    print(renderResultLines(results, { quiet }));
    print(renderGateLine(gate));
    return gate.passed ? EXIT.ok : EXIT.gateFailed;
  },
});
