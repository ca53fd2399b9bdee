/**
 * The loop: cycles until the gate passes or a bound is hit, with the fix command in between.
 * Everything the loop started is stopped before it returns, however it ends.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { createBuilder } from '../build/index.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { createTarget } from '../deploy/index.js';
import type { Target } from '../deploy/target.js';
import type { Logger } from '../log.js';
import { collectSecrets, redactDeep } from '../redact.js';
import { runCycle } from './cycle.js';
import { runFix } from './fix.js';
import { acquireLock } from './lock.js';
import { nextCycleNumber, readHistory } from './history.js';
import { assessIntegrity, fingerprintSuite, integrityBlocker, readAcceptedSuite } from './integrity.js';
import { publishCycle, type PublishedCycle } from './publish.js';
import type { CycleRecord, FixRecord } from './record.js';

export type RunStatus = 'passed' | 'max-cycles' | 'interrupted';

export interface RunOutcome {
  status: RunStatus;
  cycles: CycleRecord[];
  published: PublishedCycle[];
  reportsDir: string;
}

export interface LoopOptions {
  loaded: LoadedConfig;
  log: Logger;
  signal: AbortSignal;
  /** Overrides loop.maxCycles. `cycle` passes 1. */
  maxCycles?: number;
  /** Skip the fix step (the `cycle` command). */
  noFix?: boolean;
  /** For tests and the emulator wiring: supply the target instead of building it from config. */
  target?: Target;
  onCycle?: (record: CycleRecord, published: PublishedCycle) => void;
}

export async function runLoop(opts: LoopOptions): Promise<RunOutcome> {
  const { log, signal } = opts;
  let loaded = opts.loaded;
  let { config } = loaded;
  const { baseDir } = loaded;
  const reportsDir = resolve(baseDir, config.reports.dir);
  const maxCycles = opts.maxCycles ?? config.loop.maxCycles;
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  const secrets = collectSecrets(config);
  const history = await readHistory(reportsDir, config.service);
  // Read once: a suite accepted while this run is going (by its own fix step, say) counts from the next run.
  const acceptedSha = (await readAcceptedSuite(reportsDir))?.sha256;
  for (const p of history.problems) log.warn({ file: p.file }, `history: ${p.message} (left as it is)`);
  // Before anything is started: a second loop on the same service is refused, naming the holder.
  const lock = await acquireLock(reportsDir, { runId, service: config.service, command: opts.noFix ? 'deploy-loop cycle' : 'deploy-loop run' }, log);

  const builder = createBuilder(config.build, { service: config.service, baseDir });
  const target = opts.target ?? createTarget(config.target, { service: config.service, log: log.child({ stage: 'deploy' }), baseDir });
  const outcome: RunOutcome = { status: 'max-cycles', cycles: [], published: [], reportsDir };
  let pendingFix: FixRecord | undefined;
  log.info({ runId, service: config.service, target: target.kind, maxCycles, reportsDir }, 'loop started');
  try {
    for (let i = 0; i < maxCycles; i++) {
      const cycle = nextCycleNumber(history);
      // The fix command may edit the config: the suite and gate of each cycle are read afresh (an
      // invalid config stops the run as a config error, exit 2). Build and target stay as started.
      if (i > 0) {
        try {
          loaded = await loadConfig(loaded.file);
        } catch (err) {
          if (err instanceof ConfigError) throw new ConfigError(err.issues, `the config became invalid after cycle ${cycle - 1} (did the fix step edit it?)`);
          throw err;
        }
        config = loaded.config;
      }
      const integrity = assessIntegrity(
        fingerprintSuite(config.smoke.checks, config.gate, collectSecrets(config)),
        history.records.at(-1),
        acceptedSha,
      );
      if (integrity.blocked) log.warn({ changes: integrity.changes.filter((c) => c.weakening).map((c) => c.text) }, 'suite weakened: the gate is blocked until accept-suite');
      const raw = await runCycle({
        config,
        builder,
        target,
        log,
        signal,
        cycle,
        runId,
        checkLocations: loaded.checkLocations,
        ...(pendingFix ? { fix: pendingFix } : {}),
        gateExtras: { blockers: integrityBlocker(integrity) },
      });
      raw.suite = integrity;
      const record = redactDeep(raw, secrets);
      const published = await publishCycle(reportsDir, record, [...history.records]);
      history.records.push(record);
      outcome.cycles.push(record);
      outcome.published.push(published);
      opts.onCycle?.(record, published);
      log.info({ cycle, verdict: record.verdict, report: published.markdown }, `cycle ${cycle}: ${record.verdict}`);

      if (record.verdict === 'interrupted' || signal.aborted) {
        outcome.status = 'interrupted';
        break;
      }
      if (record.verdict === 'passed') {
        outcome.status = 'passed';
        break;
      }
      const isLast = i === maxCycles - 1;
      if (!isLast && config.loop.fix && !opts.noFix) {
        pendingFix = await runFix({
          fix: config.loop.fix,
          baseDir,
          reportsDir,
          record,
          history: history.records.slice(0, -1),
          published,
          signal,
          log,
        });
        pendingFix = redactDeep(pendingFix, secrets);
        if (signal.aborted) {
          outcome.status = 'interrupted';
          break;
        }
      } else pendingFix = undefined;
    }
  } finally {
    await target.close().finally(() => lock.release());
  }
  log.info({ status: outcome.status, cycles: outcome.cycles.length }, 'loop ended');
  return outcome;
}
