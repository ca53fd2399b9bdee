/**
 * The loop: cycles until the gate passes or a bound is hit, with the fix command in between.
 * Everything the loop started is stopped before it returns, however it ends.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { createBuilder } from '../build/index.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { createTarget } from '../deploy/index.js';
import type { Target, TrafficEntry } from '../deploy/target.js';
import type { StageContext } from '../context.js';
import type { Logger } from '../log.js';
import { collectSecrets, redactDeep } from '../redact.js';
import { runCycle } from './cycle.js';
import { runFix } from './fix.js';
import { acquireLock } from './lock.js';
import { clearCycleStarted, markCycleStarted, recoverUnfinishedCycles } from './journal.js';
import { nextCycleNumber, readHistory } from './history.js';
import { assessIntegrity, fingerprintSuite, integrityBlocker, readAcceptedSuite } from './integrity.js';
import { publishCycle } from './publish.js';
import type { CycleRecord, FixRecord, RunStatus } from '../model/record.js';
import { type PublishedCycle } from '../model/run-outcome.js';
import type { RunOutcome } from '../model/run-outcome.js';

export type { RunStatus } from '../model/record.js';

export type { RunOutcome } from '../model/run-outcome.js';

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
  await (await import('../runtime/process-journal.js')).startProcessJournal(reportsDir, log, { runId }); // proc helper: reaps a dead loop's process groups, records ours
  // Holding the lock: a journal entry left now belongs to a run that died mid-cycle.
  const recovered = await recoverUnfinishedCycles(reportsDir, history, config.service, log);

  const builder = createBuilder(config.build, { service: config.service, baseDir });
  const target = opts.target ?? createTarget(config.target, { service: config.service, log: log.child({ stage: 'deploy' }), baseDir });
  const outcome: RunOutcome = { status: 'max-cycles', cycles: [], published: [], reportsDir };
  let pendingFix: FixRecord | undefined;
  const runStarted = performance.now();
  const overTime = (): string | undefined => {
    const limit = config.loop.maxMinutes;
    if (limit === undefined) return undefined;
    const elapsed = performance.now() - runStarted;
    return elapsed >= limit * 60_000 ? `${(elapsed / 60_000).toFixed(2)} minutes elapsed, limit ${limit}` : undefined;
  };
  // The run's own status goes on its last record; `cycle` (noFix) is one shot and records none.
  const end = (record: CycleRecord, status: RunStatus, detail: string): void => {
    outcome.status = status;
    if (opts.noFix) return;
    record.runStatus = status;
    record.runStatusDetail = detail;
  };
  log.info({ runId, service: config.service, target: target.kind, maxCycles, reportsDir }, 'loop started');
  let remoteLock: { release(): Promise<void> } | undefined;
  try {
    // The local lock cannot see a loop on another machine: the target records one on the service.
    if (target.acquireLock) {
      const limit = config.loop.maxMinutes;
      const ttlMs = limit !== undefined ? limit * 60_000 + 10 * 60_000 : 2 * 3_600_000;
      const holder = { runId, host: hostname(), pid: process.pid, startedAt: new Date().toISOString(), command: opts.noFix ? 'deploy-loop cycle' : 'deploy-loop run' };
      remoteLock = await target.acquireLock({ signal, log, cycle: nextCycleNumber(history) }, holder, ttlMs);
    }
    const unfinished = recovered.at(-1);
    if (unfinished) await checkTrafficAfterCrash(target, unfinished, { signal, log, cycle: unfinished.cycle });
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
      await markCycleStarted(reportsDir, { cycle, runId, pid: process.pid, startedAt: new Date().toISOString(), service: config.service, target: target.kind, trafficBefore: history.records.at(-1)?.traffic.after ?? [] });
      const raw = await runCycle({
        config,
        builder,
        target,
        log,
        signal,
        cycle,
        runId,
        checkLocations: loaded.checkLocations,
        baseDir,
        ...(pendingFix ? { fix: pendingFix } : {}),
        gateExtras: { blockers: integrityBlocker(integrity) },
      });
      raw.suite = integrity;
      const record = redactDeep(raw, secrets);
      const isLast = i === maxCycles - 1;
      const ended = endingAfterCycle(record, outcome.cycles, { isLast, maxCycles, stallAfter: config.loop.stallAfter, aborted: signal.aborted, overTime: overTime() });
      if (ended) end(record, ended.status, ended.detail);
      const earlier = [...history.records];
      let published = await publishCycle(reportsDir, record, earlier);
      await clearCycleStarted(reportsDir, cycle);
      history.records.push(record);
      outcome.cycles.push(record);
      outcome.published.push(published);
      opts.onCycle?.(record, published);
      log.info({ cycle, verdict: record.verdict, report: published.markdown }, `cycle ${cycle}: ${record.verdict}`);
      if (ended) break;

      // Decided after the fix step: the last record was already published, so it is published again.
      const endAfterFix = async (status: RunStatus, detail: string): Promise<void> => {
        end(record, status, detail);
        published = await publishCycle(reportsDir, record, earlier);
        outcome.published[outcome.published.length - 1] = published;
      };
      if (config.loop.fix && !opts.noFix) {
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
          await endAfterFix('interrupted', `interrupted during the fix step after cycle ${cycle}`);
          break;
        }
        const fixFailed = pendingFix.timedOut || pendingFix.exitCode !== 0;
        if (fixFailed && config.loop.onFixFailure === 'stop') {
          const how = pendingFix.timedOut ? `timed out after ${pendingFix.durationMs} ms` : `exited ${pendingFix.exitCode}`;
          await endAfterFix('fix-failed', `the fix command ${how} after cycle ${cycle} (loop.onFixFailure: stop)`);
          break;
        }
        const late = overTime();
        if (late) {
          await endAfterFix('max-minutes', `no further cycle started: ${late} (loop.maxMinutes)`);
          break;
        }
      } else pendingFix = undefined;
    }
  } finally {
    await (remoteLock?.release() ?? Promise.resolve())
      .catch((err: unknown) => log.warn({ err }, 'could not release the lock on the service (it expires by itself)'))
      .then(() => target.close())
      .finally(() => lock.release());
  }
  log.info({ status: outcome.status, cycles: outcome.cycles.length }, 'loop ended');
  return outcome;
}

/** How the run ends right after this cycle, if it does; checked in this order. */
function endingAfterCycle(
  record: CycleRecord,
  earlierThisRun: CycleRecord[],
  o: { isLast: boolean; maxCycles: number; stallAfter: number; aborted: boolean; overTime: string | undefined },
): { status: RunStatus; detail: string } | undefined {
  if (record.verdict === 'interrupted' || o.aborted) return { status: 'interrupted', detail: `interrupted during cycle ${record.cycle}` };
  if (record.verdict === 'passed') return { status: 'passed', detail: `the gate passed in cycle ${record.cycle}` };
  const key = failingKey(record);
  const recent = [...earlierThisRun.slice(-(o.stallAfter - 1)), record];
  if (recent.length >= o.stallAfter && recent.every((r) => r.verdict !== 'passed' && failingKey(r) === key)) {
    const names = key === '' ? 'no failing check (the gate still failed)' : key.split('\n').join(', ');
    return { status: 'stalled', detail: `the same failing checks for ${o.stallAfter} cycles: ${names} (loop.stallAfter)` };
  }
  if (o.isLast) return { status: 'max-cycles', detail: `cycle limit reached: ${o.maxCycles} (loop.maxCycles or --max-cycles)` };
  if (o.overTime) return { status: 'max-minutes', detail: `no further cycle started: ${o.overTime} (loop.maxMinutes)` };
  return undefined;
}

/** The sorted names of the checks that did not pass: the same key cycle after cycle means no progress. */
function failingKey(r: CycleRecord): string {
  return r.smoke.results.filter((c) => c.status !== 'pass').map((c) => c.name).sort().join('\n');
}

/**
 * After a run died mid-cycle, the split may have been left half-moved. The live split is compared with
 * the one recorded before that cycle and any difference is logged; the loop carries on from the live
 * split. A local target's traffic dies with its process, so there is nothing to compare there.
 */
async function checkTrafficAfterCrash(target: Target, unfinished: CycleRecord, ctx: StageContext): Promise<void> {
  if (target.kind === 'local') return;
  const live = await target.currentTraffic(ctx).catch(() => undefined);
  if (!live) return;
  const key = (split: readonly TrafficEntry[]) =>
    JSON.stringify([...split].map((e) => [e.revision, e.percent]).filter(([, p]) => Number(p) > 0).sort());
  const recorded = unfinished.traffic.before;
  if (key(live) === key(recorded)) {
    ctx.log.info({ cycle: unfinished.cycle, traffic: live }, `traffic matches the split recorded before unfinished cycle ${unfinished.cycle}`);
  } else {
    ctx.log.warn(
      { cycle: unfinished.cycle, live, recorded },
      `traffic differs from the split recorded before unfinished cycle ${unfinished.cycle}: the loop carries on from the live split (deploy-loop rollback restores the last good revision)`,
    );
  }
}
