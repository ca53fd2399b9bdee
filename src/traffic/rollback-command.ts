/** The body of `deploy-loop rollback [--revision NAME]`. Returns an exit code; cli.ts exits. */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { createTarget } from '../deploy/index.js';
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import { readHistory } from '../loop/history.js';
import { acquireLock } from '../loop/lock.js';
import { chooseRollbackRevision, planRollbackTo } from './rollback.js';

export async function rollback(opts: { loaded: LoadedConfig; log: Logger; signal: AbortSignal; revision?: string }): Promise<ExitCode> {
  const { config, baseDir } = opts.loaded;
  if (config.target.kind === 'local') {
    throw new UsageError(
      'rollback needs a target that keeps revisions between runs; the local target\'s revisions and its service URL live only as long as the loop that started them',
      'within a loop, a failed gate or canary step already keeps or restores the split from before the cycle',
    );
  }
  // Moving traffic under a running loop would fight its canary or its restore: same lock as the loop.
  const lock = await acquireLock(resolve(baseDir, config.reports.dir), { runId: `rollback-${randomBytes(3).toString('hex')}`, service: config.service, command: 'deploy-loop rollback' }, opts.log);
  const target = createTarget(config.target, { service: config.service, log: opts.log.child({ stage: 'traffic' }), baseDir });
  const ctx = { signal: opts.signal, log: opts.log, cycle: 0 };
  try {
    const current = await target.currentTraffic(ctx);
    const history = await readHistory(resolve(baseDir, config.reports.dir), config.service);
    const choice = chooseRollbackRevision(history.records, current, opts.revision);
    if (!choice.ok) throw new UsageError(choice.message, choice.hint);
    const split = planRollbackTo(current, choice.revision);
    opts.log.info({ revision: choice.revision, before: current, split }, `rolling back to ${choice.revision} (${choice.why})`);
    await target.setTraffic(ctx, split);
    const after = await target.currentTraffic(ctx);
    process.stdout.write(`rollback: ${choice.revision} serves 100% of traffic (${choice.why}); before: ${describe(current)}\n`);
    opts.log.info({ after }, 'rolled back');
    return EXIT.ok;
  } finally {
    await target.close().finally(() => lock.release());
  }
}

function describe(split: { revision: string; percent: number }[]): string {
  const serving = split.filter((e) => e.percent > 0);
  return serving.length === 0 ? 'no revision served traffic' : serving.map((e) => `${e.revision} ${e.percent}%`).join(', ');
}
