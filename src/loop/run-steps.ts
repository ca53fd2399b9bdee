/**
 * The named steps of a run (see run.ts for their order), over one RunState. Each step does one
 * thing and logs what it did; `closeRun` stops whatever `openRun` started, on every path.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Builder } from '../build/builder.js';
import { builderOptions, buildsToKeep, createBuilder } from '../build/index.js';
import type { BuildKeep } from '../build/index.js';
import type { LoadedConfig } from '../config/load.js';
import { createTarget } from '../deploy/index.js';
import type { Target } from '../deploy/target.js';
import type { Logger } from '../log.js';
import type { CycleRecord, FixRecord, RunStatus, SuiteIntegrity } from '../model/record.js';
import type { PublishedCycle, RunOutcome } from '../model/run-outcome.js';
import { collectSecrets, redactDeep } from '../redact.js';
import { relativizePaths } from '../report/paths.js';
import { runCycle } from './cycle.js';
import { fingerprintDeployInputs, inputsKey } from './deploy-inputs.js';
import { runFix } from './fix.js';
import { changesSince, manifestOptions, recordContext } from './changes.js';
import { findRegression, revertChanges } from './changes-revert.js';
import type { ContextManifest } from '../build/manifest.js';
import { nextCycleNumber, readHistoryIndexed, writeRecord, type History } from './history.js';
import { assessIntegrity, fingerprintSuite, integrityBlocker, readAcceptedSuite } from './integrity.js';
import { clearCycleStarted, journalStep, markCycleStarted, recoverUnfinishedCycles, type StartedCycle } from './journal.js';
import { acquireLock, type HeldLock } from './lock.js';
import { assertReportsWritable } from '../fs-atomic.js';
import { restoreTrafficAfterCrash } from '../traffic/after-crash.js';
import { startProcessJournal } from '../runtime/reap.js';
import { nextLocalRevisionNumber } from '../deploy/local/target.js';
import { publishCycle, publishHtmlReport } from './publish.js';
import { errorMessage } from '../errors.js';
import { reloadConfig } from './reload.js';
import { configWarnings } from '../config/warnings.js';

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
  /** After a killed run: keep the live split instead of restoring the one recorded before its cycle. */
  adoptLiveTraffic?: boolean;
  /** For tests: supply the builder instead of building it from config. */
  builder?: Builder;
  onCycle?: (record: CycleRecord, published: PublishedCycle) => void;
}

export interface RunState {
  readonly opts: LoopOptions;
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly reportsDir: string;
  readonly runId: string;
  readonly maxCycles: number;
  readonly history: History;
  readonly acceptedSha: string | undefined;
  readonly lock: HeldLock;
  readonly target: Target;
  readonly recovered: CycleRecord[];
  /** Every process group this run starts is journaled there until it is stopped. */
  readonly processes: { close(): void };
  readonly inputsKey: Buffer;
  readonly started: number;
  loaded: LoadedConfig;
  builder: Builder;
  /** Every secret any config of this run held: an old value can still show up in an old revision's output. */
  secrets: Set<string>;
  remoteLock?: { release(): Promise<void> };
  pendingFix?: FixRecord;
  outcome: RunOutcome;
}

const command = (opts: LoopOptions) => (opts.noFix ? 'deploy-loop cycle' : 'deploy-loop run');

/** Lock the reports folder, then recover what a killed run left, then make the builder and target. */
export async function openRun(opts: LoopOptions): Promise<RunState> {
  const { log, loaded } = opts;
  const { config, baseDir } = loaded;
  const reportsDir = resolve(baseDir, config.reports.dir);
  const runId = `${new Date().toISOString().replace(/[-:]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;
  // The index: only the last record is read and validated in full; older cycles come as skeletons.
  const history = await readHistoryIndexed(reportsDir, config.service);
  // Read once: a suite accepted while this run is going (by its own fix step, say) counts from the next run.
  const acceptedSha = (await readAcceptedSuite(reportsDir))?.sha256;
  for (const p of history.problems) log.warn({ file: p.file }, `history: ${p.message} (left as it is)`);
  // A reports folder that cannot take a record is refused before anything is started or moved.
  await assertReportsWritable(reportsDir);
  // Before anything is started: a second loop on the same service is refused, naming the holder.
  const lock = await acquireLock(reportsDir, { runId, service: config.service, command: command(opts) }, log);
  try {
    // Holding the lock: process groups and journal entries left now belong to a run that died.
    const { stopped, journal: processes } = await startProcessJournal(reportsDir, log, { runId });
    const survivors = stopped.map((s) => `${s.label ?? s.kind} (${s.program}, ${s.outcome})`);
    const recovered = await recoverUnfinishedCycles(reportsDir, history, config.service, log, survivors);
    const builder = opts.builder ?? createBuilder(config.build, builderOptions(loaded));
    // Local revision names go on from the history (and from a killed run's survivors), as Cloud Run's do.
    const nextRevisionNumber = nextLocalRevisionNumber(config.service, history.records, stopped.map((s) => s.label ?? ''));
    const target = opts.target ?? createTarget(config.target, { service: config.service, log: log.child({ stage: 'deploy' }), baseDir, nextRevisionNumber });
    const maxCycles = opts.maxCycles ?? config.loop.maxCycles;
    const outcome: RunOutcome = { status: opts.noFix ? 'cycle-finished' : 'max-cycles', cycles: [], published: [], reportsDir };
    log.info({ runId, service: config.service, target: target.kind, maxCycles, reportsDir }, 'loop started');
    for (const w of configWarnings(config)) log.warn({ path: w.path }, w.message);
    return {
      opts, log, signal: opts.signal, reportsDir, runId, maxCycles, history, acceptedSha, lock, target, recovered, processes,
      inputsKey: await inputsKey(reportsDir), started: performance.now(), loaded, builder,
      secrets: new Set(collectSecrets(config)), outcome,
    };
  } catch (err) {
    lock.release();
    throw err;
  }
}

/**
 * The local lock cannot see a loop on another machine: the target records one on the service. Then,
 * if a killed run left a cycle unfinished, the live split is compared with the one recorded before it.
 */
export async function lockServiceStep(run: RunState): Promise<void> {
  const { target, signal, log, loaded } = run;
  if (target.acquireLock) {
    const limit = loaded.config.loop.maxMinutes;
    const ttlMs = limit !== undefined ? limit * 60_000 + 10 * 60_000 : 2 * 3_600_000;
    const holder = { runId: run.runId, host: hostname(), pid: process.pid, startedAt: new Date().toISOString(), command: command(run.opts) };
    run.remoteLock = await target.acquireLock({ signal, log, cycle: nextCycleNumber(run.history) }, holder, ttlMs);
  }
  const unfinished = run.recovered.at(-1);
  if (unfinished) {
    await checkTrafficAfterCrash(target, unfinished, { signal, log, cycle: unfinished.cycle }, run.opts.adoptLiveTraffic === true);
    // The recovered record says what the next run found and did about traffic.
    await writeRecord(run.reportsDir, unfinished);
  }
}

/** The fix command may have edited the config: every change is applied or refused (reload.ts). */
export async function reloadStep(run: RunState): Promise<void> {
  const reloaded = await reloadConfig(run.loaded, { builder: run.builder, target: run.target, log: run.log, afterCycle: nextCycleNumber(run.history) - 1 });
  run.loaded = reloaded.loaded;
  run.builder = reloaded.builder;
  for (const s of collectSecrets(run.loaded.config)) run.secrets.add(s);
}

/** The suite and gate fingerprinted against the last record and the accepted suite. */
export function suiteStep(run: RunState): SuiteIntegrity {
  const { config } = run.loaded;
  const integrity = assessIntegrity(fingerprintSuite(config.smoke.checks, config.gate, [...run.secrets]), run.history.records.at(-1), run.acceptedSha);
  if (integrity.blocked) run.log.warn({ changes: integrity.changes.filter((c) => c.weakening).map((c) => c.text) }, 'suite weakened: the gate is blocked until accept-suite');
  return integrity;
}

/** Journal the start, run the cycle (journaling each step), and return its redacted record. */
export async function cycleStep(run: RunState, integrity: SuiteIntegrity): Promise<CycleRecord> {
  const { config, checkLocations, baseDir } = run.loaded;
  const cycle = nextCycleNumber(run.history);
  const entry: StartedCycle = {
    cycle, runId: run.runId, pid: process.pid, startedAt: new Date().toISOString(), service: config.service,
    target: run.target.kind, trafficBefore: run.history.records.at(-1)?.traffic.after ?? [],
  };
  // Checked again before each cycle: a disk that filled since must not be found after traffic moved.
  await assertReportsWritable(run.reportsDir);
  await markCycleStarted(run.reportsDir, entry);
  const secrets = [...run.secrets];
  const inputs = fingerprintDeployInputs(config.target, run.inputsKey);
  // Listed before the build, whatever the builder: what this cycle deploys, for the next one to diff.
  const manifest = await recordContext(run.loaded, run.reportsDir, cycle, run.log);
  const raw = await runCycle({
    config, builder: run.builder, target: run.target, log: run.log, signal: run.signal, cycle, runId: run.runId,
    checkLocations, baseDir,
    ...(run.pendingFix ? { fix: run.pendingFix } : {}),
    gateExtras: { blockers: integrityBlocker(integrity) },
    keepBuilds: keepBuilds(run),
    onStep: (step, partial) => journalStep(run.reportsDir, entry, step, redactDeep({ ...partial, deploy: { ...partial.deploy, inputs } }, secrets)),
  });
  raw.suite = integrity;
  raw.deploy.inputs = inputs;
  await attachChanges(run, raw, manifest, integrity);
  // Reports are read on other machines (CI artifacts): paths are relative to the config's folder.
  return relativizePaths(redactDeep(raw, secrets), baseDir);
}

/** record.changes against the previous cycle, when both cycles listed their context. */
async function attachChanges(run: RunState, raw: CycleRecord, manifest: ContextManifest | undefined, integrity: SuiteIntegrity): Promise<void> {
  const previous = run.history.records.at(-1);
  if (!manifest || !previous) return;
  try {
    const changes = await changesSince({
      reportsDir: run.reportsDir, previous, current: raw, manifest, integrity,
      root: manifestOptions(run.loaded).root, secrets: [...run.secrets],
    });
    if (changes) raw.changes = changes;
  } catch (err) {
    // A store that cannot be read costs the "Changes since" section, never the cycle's record.
    run.log.warn({ err: (err as Error).message }, 'could not compare the build context with the previous cycle');
  }
}

/** Builds a serving or last-good revision runs from; records hold their folders relative to the config's folder. */
function keepBuilds(run: RunState): BuildKeep {
  const keep = buildsToKeep(run.history.records);
  return { ...keep, ...(keep.dirs ? { dirs: keep.dirs.map((d) => resolve(run.loaded.baseDir, d)) } : {}) };
}

/** How the run ends right after this cycle, if it does; checked in this order. */
export function endingAfterCycle(run: RunState, record: CycleRecord, isLast: boolean): { status: RunStatus; detail: string } | undefined {
  const { stallAfter } = run.loaded.config.loop;
  if (record.verdict === 'interrupted' || run.signal.aborted) return { status: 'interrupted', detail: `interrupted during cycle ${record.cycle}` };
  if (record.verdict === 'passed') return { status: 'passed', detail: `the gate passed in cycle ${record.cycle}` };
  if (run.opts.noFix) return { status: 'cycle-finished', detail: `cycle ${record.cycle} finished: ${record.verdict}` };
  if (run.loaded.config.loop.onRegression === 'stop') {
    const regression = findRegression(record, run.history.records.at(-1));
    if (regression) return { status: 'regression', detail: `${regression.text} (loop.onRegression: stop)` };
  }
  const key = failingKey(record);
  const recent = [...run.outcome.cycles.slice(-(stallAfter - 1)), record];
  if (recent.length >= stallAfter && recent.every((r) => r.verdict !== 'passed' && failingKey(r) === key)) {
    const names = key === '' ? 'no failing check (the gate still failed)' : key.split('\n').join(', ');
    return { status: 'stalled', detail: `the same failing checks for ${stallAfter} cycles: ${names} (loop.stallAfter)` };
  }
  if (isLast) return { status: 'max-cycles', detail: `cycle limit reached: ${run.maxCycles} (loop.maxCycles or --max-cycles)` };
  const late = overTime(run);
  if (late) return { status: 'max-minutes', detail: `no further cycle started: ${late} (loop.maxMinutes)` };
  return undefined;
}

/** Writes the record and its reports (with the run's ending on the last record of a `run`). */
export async function publishStep(run: RunState, record: CycleRecord, ended: { status: RunStatus; detail: string } | undefined): Promise<void> {
  if (ended) endRun(run, record, ended.status, ended.detail);
  const published = await publishCycle(run.reportsDir, record, [...run.history.records], NO_PAGE);
  await clearCycleStarted(run.reportsDir, record.cycle);
  run.history.records.push(record);
  run.outcome.cycles.push(record);
  run.outcome.published.push(published);
  run.opts.onCycle?.(record, published);
  run.log.info({ cycle: record.cycle, verdict: record.verdict, report: published.markdown }, `cycle ${record.cycle}: ${record.verdict}`);
}

/**
 * loop.onRegression: revert, after the regressed cycle was published and before the fix step: the
 * files its change touched are written back from the previous cycle's listing, and the cycle's
 * reports are published again with what was restored (or why nothing was).
 */
export async function revertStep(run: RunState, record: CycleRecord): Promise<void> {
  if (run.loaded.config.loop.onRegression !== 'revert' || run.opts.noFix) return;
  const regression = findRegression(record, run.history.records.at(-2));
  if (!regression) return;
  const { root } = manifestOptions(run.loaded);
  const revert = await revertChanges(run.reportsDir, root, record).catch((err: unknown) => ({
    afterCycle: record.cycle, toCycle: regression.attribution.sinceCycle, files: [], refused: `reverting failed: ${(err as Error).message}`,
  }));
  record.revert = relativizePaths(redactDeep(revert, [...run.secrets]), run.loaded.baseDir);
  if (record.revert.refused) run.log.warn({ cycle: record.cycle, refused: record.revert.refused }, 'regression not reverted');
  else run.log.info({ cycle: record.cycle, files: record.revert.files.map((f) => `${f.action} ${f.path}`) }, `regression reverted: ${regression.text}`);
  run.outcome.published[run.outcome.published.length - 1] = await publishCycle(run.reportsDir, record, run.history.records.slice(0, -1), NO_PAGE);
}

/** The fix command between cycles; true when the run ends here (interrupted, fix failed, out of time). */
export async function fixStep(run: RunState, record: CycleRecord): Promise<boolean> {
  const fix = run.loaded.config.loop.fix;
  if (!fix || run.opts.noFix) {
    delete run.pendingFix;
    return false;
  }
  const published = run.outcome.published.at(-1);
  if (!published) return false;
  const done = await runFix({
    fix, baseDir: run.loaded.baseDir, reportsDir: run.reportsDir, record, history: run.history.records.slice(0, -1), published, signal: run.signal, log: run.log,
    contextDir: resolve(run.loaded.baseDir, run.loaded.config.build.context ?? '.'), secrets: [...run.secrets],
  });
  const pending = redactDeep(done, [...run.secrets]);
  run.pendingFix = pending;
  let ending: [RunStatus, string] | undefined;
  if (run.signal.aborted) ending = ['interrupted', `interrupted during the fix step after cycle ${record.cycle}`];
  else if ((pending.timedOut || pending.exitCode !== 0) && run.loaded.config.loop.onFixFailure === 'stop') {
    const how = pending.timedOut ? `timed out after ${pending.durationMs} ms` : `exited ${pending.exitCode}`;
    ending = ['fix-failed', `the fix command ${how} after cycle ${record.cycle} (loop.onFixFailure: stop)`];
  } else {
    const late = overTime(run);
    if (late) ending = ['max-minutes', `no further cycle started: ${late} (loop.maxMinutes)`];
  }
  if (!ending) return false;
  // Decided after the fix step: the last record was already published, so it is published again.
  endRun(run, record, ending[0], ending[1]);
  run.outcome.published[run.outcome.published.length - 1] = await publishCycle(run.reportsDir, record, run.history.records.slice(0, -1), NO_PAGE);
  return true;
}

/** The HTML page is written once, by closeRun, not after every cycle. */
const NO_PAGE = { html: false } as const;

/** Writes the HTML page, releases the service lock, stops the target, then releases the reports lock, whatever failed before. */
export async function closeRun(run: RunState): Promise<void> {
  if (run.outcome.published.length > 0) {
    // Rebuildable from the records (`deploy-loop report`), so a failed write costs the page, not the run's outcome.
    await publishHtmlReport(run.reportsDir, run.history.records).catch((err: unknown) =>
      run.log.error({ err: errorMessage(err) }, 'could not write reports/index.html; `deploy-loop report` writes it from the records'),
    );
  }
  await (run.remoteLock?.release() ?? Promise.resolve())
    .catch((err: unknown) => run.log.warn({ err }, 'could not release the lock on the service (it expires by itself)'))
    .then(() => run.target.close())
    .finally(() => {
      run.processes.close();
      run.lock.release();
    });
}

/** The run's own status goes on its last record; `cycle` is one shot and records none. */
function endRun(run: RunState, record: CycleRecord, status: RunStatus, detail: string): void {
  run.outcome.status = status;
  if (run.opts.noFix) return;
  record.runStatus = status;
  record.runStatusDetail = detail;
}

function overTime(run: RunState): string | undefined {
  const limit = run.loaded.config.loop.maxMinutes;
  if (limit === undefined) return undefined;
  const elapsed = performance.now() - run.started;
  return elapsed >= limit * 60_000 ? `${(elapsed / 60_000).toFixed(2)} minutes elapsed, limit ${limit}` : undefined;
}

/** The sorted names of the checks that did not pass: the same key cycle after cycle means no progress. */
function failingKey(r: CycleRecord): string {
  return r.smoke.results.filter((c) => c.status !== 'pass').map((c) => c.name).sort().join('\n');
}

/**
 * After a run died mid-cycle, the split may have been left half-moved (an unvetted candidate at 45%):
 * the split recorded before that cycle is put back before anything else, unless the user asked to
 * adopt the live one. A local target's traffic dies with its process, so there is nothing to restore.
 */
async function checkTrafficAfterCrash(target: Target, unfinished: CycleRecord, ctx: { signal: AbortSignal; log: Logger; cycle: number }, adoptLive: boolean): Promise<void> {
  const outcome = await restoreTrafficAfterCrash(target, unfinished, ctx, { adoptLive }).catch((err: unknown) => {
    ctx.log.warn({ err: (err as Error).message }, `could not read the traffic split after unfinished cycle ${unfinished.cycle}`);
    return undefined;
  });
  if (!outcome) return;
  ctx.log[outcome.action === 'matched' ? 'info' : 'warn']({ cycle: unfinished.cycle, action: outcome.action, live: outcome.live, recorded: outcome.recorded }, outcome.note);
  unfinished.traffic.note = `${unfinished.traffic.note ?? ''} On the next run: ${outcome.note}.`.trim();
}
