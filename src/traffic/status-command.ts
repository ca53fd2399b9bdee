/**
 * The body of `deploy-loop status`: who holds the service's locks, the split that serves now, and
 * the last recorded cycle. Read-only. Returns an exit code; the CLI exits.
 */
import type { LoadedConfig } from '../config/load.js';
import { createTarget } from '../deploy/index.js';
import { EXIT, errorMessage, type ExitCode } from '../errors.js';
import type { Logger } from '../log.js';
import { readHistory } from '../loop/history.js';
import { cloudRunTargetFor, describeHolder, readLocalLock, reportsDirOf } from './service-lock.js';

export async function status(opts: { loaded: LoadedConfig; log: Logger; signal: AbortSignal; out?: NodeJS.WritableStream }): Promise<ExitCode> {
  const out = opts.out ?? process.stdout;
  const { config, baseDir } = opts.loaded;
  const ctx = { signal: opts.signal, log: opts.log, cycle: 0 };
  const lines: string[] = [`service ${config.service} (target ${config.target.kind})`];

  const local = await readLocalLock(reportsDirOf(opts.loaded));
  lines.push(`local lock: ${local ? describeHolder(local.holder, local.state) : 'none'}`);
  const cloudRun = cloudRunTargetFor(opts.loaded, opts.log);
  try {
    if (cloudRun) {
      const held = await cloudRun.readLock(ctx);
      lines.push(`Cloud Run lock: ${held ? `${describeHolder(held.lock, held.state)}, expires ${held.lock.expiresAt}` : 'none'}`);
    }
  } finally {
    await cloudRun?.close();
  }

  if (config.target.kind === 'local' || config.target.endpoint?.emulator) {
    lines.push('traffic: not kept between runs by this target');
  } else {
    const target = createTarget(config.target, { service: config.service, log: opts.log, baseDir });
    try {
      const split = await target.currentTraffic(ctx);
      lines.push(
        `traffic: ${split.length === 0 ? 'nothing serves (no service yet)' : split.map((e) => `${e.revision} ${e.percent}%${e.tag ? ` (tag ${e.tag})` : ''}`).join(', ')}`,
      );
    } catch (err) {
      lines.push(`traffic: could not be read: ${errorMessage(err)}`);
    } finally {
      await target.close();
    }
  }

  const history = await readHistory(reportsDirOf(opts.loaded), config.service);
  const last = history.records.at(-1);
  lines.push(
    last
      ? `last cycle: ${last.cycle} ${last.verdict}, finished ${last.finishedAt}${last.deploy.revision ? `, revision ${last.deploy.revision}` : ''}${last.runStatus ? `, run ${last.runStatus}` : ''}`
      : 'last cycle: none recorded',
  );
  out.write(`${lines.join('\n')}\n`);
  return EXIT.ok;
}
