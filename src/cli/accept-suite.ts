/** `deploy-loop accept-suite`: a person accepts a suite or gate that a change weakened. */
import { resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import { CONFIG_OPTION, HELP_OPTION, defineCommand } from './command.js';

export const acceptSuiteCommand = defineCommand({
  name: 'accept-suite',
  summary: 'accept the current smoke suite and gate after a change',
  description: `A change that weakens the smoke suite or the gate (a check removed, a priority
lowered, a threshold loosened) blocks the gate until a person accepts it. This
records the current suite as accepted and lists what changed. It refuses to
run inside the loop's fix step.`,
  examples: ['deploy-loop accept-suite -c loop.config.yaml'],
  options: { ...CONFIG_OPTION, ...HELP_OPTION },
  async run({ values }) {
    if (process.env.DEPLOY_LOOP_CYCLE !== undefined) {
      throw new UsageError("accept-suite cannot run inside the loop's fix step: a person accepts a changed suite, not the agent that changed it");
    }
    const [{ loadConfig }, { readHistory }, integrity, { collectSecrets }] = await Promise.all([
      import('../config/load.js'),
      import('../loop/history.js'),
      import('../loop/integrity.js'),
      import('../redact.js'),
    ]);
    const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
    const reportsDir = resolve(loaded.baseDir, loaded.config.reports.dir);
    const current = integrity.fingerprintSuite(loaded.config.smoke.checks, loaded.config.gate, collectSecrets(loaded.config));
    const last = (await readHistory(reportsDir, loaded.config.service)).records.at(-1)?.suite?.fingerprint;
    const before = (await integrity.readAcceptedSuite(reportsDir))?.fingerprint ?? last;
    const changes = before ? integrity.diffSuites(before, current) : [];
    const file = await integrity.writeAcceptedSuite(reportsDir, current);
    process.stdout.write(`accepted suite ${current.sha256.slice(0, 12)} (${Object.keys(current.checks).length} checks) in ${file}\n`);
    for (const c of changes) process.stdout.write(`  ${c.weakening ? 'weakened: ' : ''}${c.text}\n`);
    return EXIT.ok;
  },
});
