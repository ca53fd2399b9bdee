/**
 * The body of `deploy-loop unlock [--force]`: removes the loop's locks (REPORTS/.lock and, on Cloud
 * Run, the service's lock annotation), naming the holder of each. A holder that is provably alive
 * (this host, its pid running) is refused without --force. Returns an exit code; the CLI exits.
 */
import { EXIT, UsageError, type ExitCode } from '../errors.js';
import type { LoadedConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { cloudRunTargetFor, describeHolder, readLocalLock, removeLocalLock, reportsDirOf } from './service-lock.js';

export async function unlock(opts: { loaded: LoadedConfig; log: Logger; signal: AbortSignal; force?: boolean; out?: NodeJS.WritableStream }): Promise<ExitCode> {
  const out = opts.out ?? process.stdout;
  const force = opts.force === true;
  const service = opts.loaded.config.service;
  const local = await readLocalLock(reportsDirOf(opts.loaded));
  if (local?.state === 'live' && !force) {
    throw new UsageError(
      `the local lock (${local.file}) is held by a live run: ${describeHolder(local.holder, local.state)}`,
      'stop that run (it releases its locks itself), or pass --force to remove the lock anyway',
    );
  }
  const target = cloudRunTargetFor(opts.loaded, opts.log);
  let removed = 0;
  try {
    // The remote lock first: a refusal there leaves the local lock in place too.
    if (target) {
      const ctx = { signal: opts.signal, log: opts.log, cycle: 0 };
      const held = await target.readLock(ctx);
      if (held) {
        await target.removeLock(ctx, force);
        out.write(`unlock: removed the lock on Cloud Run service ${target.serviceId}: ${describeHolder(held.lock, held.state)}\n`);
        removed++;
      }
    }
    if (local) {
      await removeLocalLock(local);
      out.write(`unlock: removed the local lock of service ${service}: ${describeHolder(local.holder, local.state)}\n`);
      removed++;
    }
  } finally {
    await target?.close();
  }
  if (removed === 0) out.write(`unlock: no lock is held on service ${service}\n`);
  return EXIT.ok;
}
