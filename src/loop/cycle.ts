/**
 * One cycle as a step machine: build → deploy candidate (tagged, 0%) → smoke the tag URL → gate →
 * promote or keep. Each step's outcome lands in the record before the next step starts, so an
 * interrupted cycle still yields a truthful partial record. Build and deploy failures are P0 issues
 * in the record, not exceptions.
 */
import type { Builder } from '../build/builder.js';
import type { Config, TrafficConfig } from '../config/schema.js';
import type { StageContext } from '../context.js';
import type { Target, TrafficEntry } from '../deploy/target.js';
import { StageError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { CheckResult } from '../model/check-result.js';
import { measureColdStart } from './cold-start.js';
import { assessGate, type GateExtras } from './gate.js';
import { runWatchedSuite, withStopBlocker, type WatchedRun } from './watched-suite.js';
import type { CycleRecord, FixRecord, StoppedEarly } from '../model/record.js';
import { RECORD_SCHEMA_VERSION } from '../model/record.js';
import { progress } from '../progress.js';
import { servingRevisions } from '../traffic/plan.js';
import { promote } from '../traffic/promote.js';

export interface CycleDeps {
  config: Config;
  builder: Builder;
  target: Target;
  log: Logger;
  signal: AbortSignal;
  cycle: number;
  runId: string;
  checkLocations: Record<string, string>;
  /** The config file's folder: a `command` check's cwd is relative to it (default: the process cwd). */
  baseDir?: string;
  fix?: FixRecord;
  /** Headers added to every smoke request (ID tokens); never recorded. */
  smokeHeaders?: Record<string, string>;
  /** Blockers from outside the results (an unaccepted suite change, see integrity.ts). */
  gateExtras?: GateExtras;
  now?: () => Date;
  /** Called after each step with the record so far (progress, partial persistence). */
  onStep?: (step: string, partial: CycleRecord) => void;
}

export async function runCycle(deps: CycleDeps): Promise<CycleRecord> {
  const { config, builder, target, signal, cycle } = deps;
  const now = deps.now ?? (() => new Date());
  const log = deps.log.child({ cycle });
  const ctx: StageContext = { signal, log, cycle };
  const t0 = performance.now();
  const rec: CycleRecord = {
    schemaVersion: RECORD_SCHEMA_VERSION,
    service: config.service,
    cycle,
    runId: deps.runId,
    startedAt: now().toISOString(),
    finishedAt: '',
    target: target.kind,
    build: { status: 'failed', kind: builder.kind, durationMs: 0, outputTail: [] },
    deploy: { status: 'skipped', durationMs: 0 },
    traffic: { before: [], after: [], action: 'none' },
    smoke: { durationMs: 0, results: [] },
    gate: { passed: false, tallies: [], reasons: [] },
    verdict: 'error',
    checkLocations: deps.checkLocations,
    durations: { buildMs: 0, deployMs: 0, smokeMs: 0, totalMs: 0 },
  };
  if (deps.fix) rec.fix = deps.fix;
  const step = (name: string) => deps.onStep?.(name, rec);
  // Grows a blocker when an abortOnFail threshold stops the smoke run: checks that never ran cannot pass.
  let gateExtras: GateExtras = deps.gateExtras ?? {};
  const finish = (verdict: CycleRecord['verdict'], results: CheckResult[]): CycleRecord => {
    rec.smoke.results = results;
    rec.gate = assessGate(results, config.gate, gateExtras);
    rec.verdict = verdict === 'passed' && !rec.gate.passed ? 'gate-failed' : verdict;
    rec.finishedAt = now().toISOString();
    rec.durations = {
      buildMs: rec.build.durationMs,
      deployMs: rec.deploy.durationMs,
      smokeMs: rec.smoke.durationMs,
      totalMs: Math.round(performance.now() - t0),
    };
    const su = target.serviceUrl();
    if (su) rec.serviceUrl = su;
    progress().stop();
    step('done');
    return rec;
  };

  try {
    rec.traffic.before = await target.currentTraffic(ctx);
    rec.traffic.after = rec.traffic.before;
    const lastGood = servingRevisions(rec.traffic.before)[0];
    if (lastGood) rec.traffic.lastGoodRevision = lastGood;

    // 1. build
    progress().stage(`cycle ${cycle} · build (${builder.kind})`);
    log.info({ stage: 'build', kind: builder.kind }, 'building');
    const built = await builder.build(ctx);
    if (signal.aborted) return finish('interrupted', []);
    if (!built.ok) {
      rec.build = { status: 'failed', kind: builder.kind, durationMs: built.durationMs, message: built.message, exitCode: built.exitCode, outputTail: built.outputTail };
      rec.traffic.action = rec.traffic.before.length > 0 ? 'kept' : 'none';
      rec.traffic.note = 'Traffic untouched: the build failed.';
      log.error({ stage: 'build', exitCode: built.exitCode }, built.message);
      return finish('build-failed', [stageFailure('build', built.message, built.outputTail, built.exitCode)]);
    }
    const img = built.image;
    rec.build = { status: 'ok', kind: builder.kind, durationMs: img.durationMs, image: img.ref, outputTail: img.outputTail };
    if (img.digest) rec.build.digest = img.digest;
    log.info({ stage: 'build', ms: img.durationMs, image: img.ref }, 'built');
    step('build');

    // 2. deploy the candidate, tagged, with no traffic
    progress().stage(`cycle ${cycle} · deploy candidate (${target.kind})`);
    log.info({ stage: 'deploy', target: target.kind }, 'deploying candidate');
    const dep = await target.deployCandidate(ctx, img, config.traffic.tag);
    if (signal.aborted) {
      if (dep.ok) rec.deploy = { status: 'ok', revision: dep.revision.name, image: img.ref, tagUrl: dep.revision.url, durationMs: dep.revision.startMs, startMs: dep.revision.startMs };
      return finish('interrupted', []);
    }
    if (!dep.ok) {
      rec.deploy = { status: 'failed', image: img.ref, durationMs: dep.durationMs, message: dep.message, logTail: dep.logTail };
      if (dep.revisionName) rec.deploy.revision = dep.revisionName;
      if (dep.reason) rec.deploy.reason = dep.reason;
      if (dep.exitCode !== undefined) rec.deploy.exitCode = dep.exitCode;
      rec.traffic.after = await target.currentTraffic(ctx);
      rec.traffic.action = rec.traffic.before.length > 0 ? 'kept' : 'none';
      rec.traffic.note = 'Traffic untouched: the candidate revision did not become ready.';
      log.error({ stage: 'deploy', revision: dep.revisionName, exitCode: dep.exitCode }, dep.message);
      return finish('deploy-failed', [stageFailure('deploy', dep.message, dep.logTail, dep.exitCode ?? null, dep.reason)]);
    }
    const rev = dep.revision;
    rec.deploy = { status: 'ok', revision: rev.name, image: rev.image, tagUrl: rev.url, durationMs: rev.startMs, startMs: rev.startMs };
    log.info({ stage: 'deploy', revision: rev.name, url: rev.url, ms: rev.startMs }, 'candidate ready');
    // What to put back if a canary step fails: the split before the cycle, with the candidate's tag.
    const afterDeploy = await target.currentTraffic(ctx);
    step('deploy');

    // 3. smoke the candidate through its tag URL (with an ID token when the target needs one)
    const targetHeaders = target.smokeHeaders ? await target.smokeHeaders(rev.url) : {};
    const smokeHeaders = { ...targetHeaders, ...deps.smokeHeaders };
    progress().stage(`cycle ${cycle} · smoke ${config.smoke.checks.length} checks against ${rev.name}`);
    const coldStartMs = await measureColdStart(rev.url, config.smoke.checks, { timeoutMs: config.smoke.defaults.timeoutMs, headers: smokeHeaders, signal });
    if (coldStartMs !== undefined) rec.smoke.coldStartMs = coldStartMs;
    const smokeStart = performance.now();
    const { results, stopped } = await smokeAgainst(deps, config.smoke.checks, rev.url, smokeHeaders, log.child({ stage: 'smoke' }));
    rec.smoke.durationMs = Math.round(performance.now() - smokeStart);
    if (stopped) {
      rec.smoke.stoppedEarly = stopped;
      gateExtras = withStopBlocker(gateExtras, stopped);
    }
    if (signal.aborted) {
      rec.smoke.results = results;
      return finish('interrupted', results);
    }
    await attachLogTail(target, rev.name, results);
    step('smoke');

    // 4. gate, then promote (direct or canary steps against the service URL) or keep
    const gate = assessGate(results, config.gate, gateExtras);
    let final = results;
    let canaryStop: StoppedEarly | undefined;
    if (gate.passed) {
      const outcome = await promote({
        target,
        ctx,
        traffic: config.traffic,
        before: rec.traffic.before,
        restore: afterDeploy,
        candidate: rev.name,
        smoke: async (names) => {
          const run = await smokeServiceUrl(deps, names, log);
          canaryStop = run.stopped;
          return run.results;
        },
        gate: (stepResults) => assessGate(stepResults, config.gate, withStopBlocker(gateExtras, canaryStop)),
        onStep: (percent) => step(`canary-${percent}`),
      });
      if (outcome.canary) rec.traffic.canary = outcome.canary;
      if (outcome.status === 'interrupted') {
        rec.traffic.after = await target.currentTraffic(restoreCtx(ctx)).catch(() => rec.traffic.after);
        rec.traffic.note = outcome.restored
          ? 'Interrupted while promoting: traffic restored to the split before the cycle.'
          : `Interrupted while promoting, and traffic was not restored: ${outcome.restoreError ?? 'unknown error'}.`;
        return finish('interrupted', results);
      }
      if (outcome.status === 'rolled-back') {
        // The step's results (against the service URL) replace the tag URL's for the same checks.
        final = results.map((r) => outcome.results.find((s) => s.name === r.name) ?? r);
        // Not restored only when nothing served before: then the candidate does hold all the traffic.
        rec.traffic.action = !outcome.restored ? 'promoted' : rec.traffic.before.length > 0 ? 'kept' : 'none';
        const failed = outcome.canary.steps.at(-1);
        const stepName = `step ${(outcome.canary.failedAtStep ?? 0) + 1} (${failed?.percent ?? '?'}%)`;
        if (failed && canaryStop) failed.stoppedEarly = canaryStop;
        rec.traffic.note = `Canary failed at ${stepName}: ${
          outcome.restored ? 'traffic rolled back to the split before the cycle.' : 'nothing served traffic before the cycle, so the candidate keeps it.'
        }`;
        // The merged results alone could pass (a step runs fewer checks than the tag URL did): a
        // cycle whose canary failed cannot pass, and says which step and why.
        gateExtras = { ...gateExtras, blockers: [...(gateExtras.blockers ?? []), ...outcome.reasons.map((r) => `canary ${stepName}: ${r}`)] };
      } else {
        rec.traffic.action = 'promoted';
        log.info({ stage: 'traffic', revision: rev.name }, 'promoted: 100% of traffic');
      }
    } else {
      rec.traffic.action = rec.traffic.before.length > 0 ? 'kept' : 'none';
      log.warn({ stage: 'traffic', reasons: gate.reasons }, 'gate failed: traffic not moved');
    }
    rec.traffic.after = await target.currentTraffic(ctx);
    return finish(assessGate(final, config.gate, gateExtras).passed ? 'passed' : 'gate-failed', final);
  } catch (err) {
    if (signal.aborted) return finish('interrupted', rec.smoke.results);
    log.error({ err: errorMessage(err) }, 'cycle failed');
    throw err;
  }
}

/** Failing checks carry the candidate's recent output: the stack trace behind a 1011 is usually there. */
async function attachLogTail(target: Target, revision: string, results: CheckResult[]): Promise<void> {
  const failing = results.filter((r) => r.failure && !r.failure.evidence.logTail);
  if (failing.length === 0 || !target.logs) return;
  const tail = await target.logs(revision, 20).catch(() => []);
  if (tail.length === 0) return;
  for (const r of failing) if (r.failure) r.failure.evidence.logTail = tail;
}

/** A canary step's smoke run: the configured checks against the service URL, which carries the split. */
async function smokeServiceUrl(
  deps: CycleDeps,
  names: TrafficConfig['smoke'],
  log: Logger,
): Promise<WatchedRun> {
  const { config, target } = deps;
  const url = target.serviceUrl();
  if (!url) throw new StageError('traffic', 'the target has no service URL to run the canary smoke against');
  const checks = names === 'all' ? config.smoke.checks : config.smoke.checks.filter((c) => names.includes(c.name));
  const headers = { ...(target.smokeHeaders ? await target.smokeHeaders(url) : {}), ...deps.smokeHeaders };
  return smokeAgainst(deps, checks, url, headers, log.child({ stage: 'smoke', canary: true }));
}

/** The configured suite settings against one URL, watched by the abortOnFail thresholds. */
function smokeAgainst(deps: CycleDeps, checks: Config['smoke']['checks'], url: string, headers: Record<string, string>, log: Logger): Promise<WatchedRun> {
  const { config, signal } = deps;
  return runWatchedSuite(
    checks,
    url,
    {
      concurrency: config.smoke.concurrency,
      defaults: config.smoke.defaults,
      signal,
      log,
      ...(deps.baseDir ? { baseDir: deps.baseDir } : {}),
      ...(Object.keys(headers).length > 0 ? { headers } : {}),
    },
    config.gate.thresholds ?? [],
  );
}

/** Reading the split after an interruption needs a signal that is not already aborted. */
function restoreCtx(ctx: StageContext): StageContext {
  return { ...ctx, signal: AbortSignal.timeout(30_000) };
}

/** A build or deploy failure becomes a P0 result so the gate and the report treat it as an issue. */
function stageFailure(
  stage: 'build' | 'deploy',
  message: string,
  logTail: string[],
  exitCode: number | null,
  reason?: string,
): CheckResult {
  return {
    name: stage === 'build' ? 'build' : 'deploy',
    kind: stage,
    priority: 'P0',
    status: 'fail',
    durationMs: 0,
    attempts: 1,
    figures: {},
    failure: {
      class: stage === 'build' ? 'build-failure' : 'deploy-failure',
      message: reason ? `${reason}: ${message}` : message,
      evidence: { logTail, ...(exitCode !== null ? { actual: `exit code ${exitCode}` } : {}) },
    },
  };
}

export type { TrafficEntry };
