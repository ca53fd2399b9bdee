/**
 * The steps of one cycle. Each is a small function over the cycle state, writes its outcome into the
 * record before returning, and either returns (done), returns 'failed' (it ended the cycle with a
 * verdict of its own: build or deploy failed) or throws (the wrapper in cycle.ts turns that into the
 * `error` verdict with `stepFailure`). A step is safe to run on a state whose earlier steps ended:
 * the wrapper stops at the first verdict.
 */
import type { Config, TrafficConfig } from '../config/schema.js';
import { resolve } from 'node:path';
import { StageError, errorMessage } from '../errors.js';
import { attachCheckLogs, attachRevisionTail } from '../evidence/log-window.js';
import { mapBuildFrames } from '../evidence/frames.js';
import { attachSourceFrames } from '../evidence/source-frames.js';
import type { Logger } from '../log.js';
import type { CheckResult } from '../model/check-result.js';
import type { TimedLine } from '../model/log-line.js';
import type { CycleRecord } from '../model/record.js';
import { servingRevisions } from '../traffic/plan.js';
import { promote, type PromoteOutcome } from '../traffic/promote.js';
import { cycleGate, type CycleDeps, type CycleState, type CycleStep } from './cycle-state.js';
import { measureColdStart } from './cold-start.js';
import { runWatchedSuite, withStopBlocker, type WatchedRun } from './watched-suite.js';

const readTrafficBefore: CycleStep = {
  name: 'read-traffic',
  stage: 'traffic',
  doing: 'reading the traffic split before the cycle',
  label: () => 'read traffic',
  async run({ deps, ctx, rec }) {
    rec.traffic.before = await deps.target.currentTraffic(ctx);
    rec.traffic.after = rec.traffic.before;
    const lastGood = servingRevisions(rec.traffic.before)[0];
    if (lastGood) rec.traffic.lastGoodRevision = lastGood;
  },
};

const build: CycleStep = {
  name: 'build',
  stage: 'build',
  doing: 'building',
  label: ({ deps }) => `build (${deps.builder.kind})`,
  async run(state) {
    const { deps, ctx, rec, log } = state;
    log.info({ stage: 'build', kind: deps.builder.kind }, 'building');
    const built = await deps.builder.build(ctx, deps.keepBuilds ? { keep: deps.keepBuilds } : {});
    if (!built.ok) {
      rec.build = { status: 'failed', kind: deps.builder.kind, durationMs: built.durationMs, message: built.message, exitCode: built.exitCode, outputTail: built.outputTail };
      keepTraffic(rec, 'Traffic untouched: the build failed.');
      log.error({ stage: 'build', exitCode: built.exitCode }, built.message);
      state.results = await withStageFrames(state, [stageResult('build', built.message, built.outputTail, built.exitCode)]);
      state.verdict = 'build-failed';
      return 'failed';
    }
    const img = built.image;
    rec.build = { status: 'ok', kind: deps.builder.kind, durationMs: img.durationMs, image: img.ref, outputTail: img.outputTail };
    if (img.digest) rec.build.digest = img.digest;
    if (img.snapshot) rec.build.snapshot = img.snapshot;
    state.built = img;
    log.info({ stage: 'build', ms: img.durationMs, image: img.ref }, 'built');
  },
};

const deployCandidate: CycleStep = {
  name: 'deploy',
  stage: 'deploy',
  doing: 'deploying the candidate revision',
  label: ({ deps }) => `deploy candidate (${deps.target.kind})`,
  async run(state) {
    const { deps, ctx, rec, log } = state;
    const img = required(state.built, 'a built image');
    log.info({ stage: 'deploy', target: deps.target.kind }, 'deploying candidate');
    const dep = await deps.target.deployCandidate(ctx, img, deps.config.traffic.tag);
    if (!dep.ok) {
      rec.deploy = { status: 'failed', image: img.ref, durationMs: dep.durationMs, message: dep.message, logTail: dep.logTail };
      if (dep.revisionName) rec.deploy.revision = dep.revisionName;
      if (dep.reason) rec.deploy.reason = dep.reason;
      if (dep.exitCode !== undefined) rec.deploy.exitCode = dep.exitCode;
      if (dep.logUri) rec.deploy.logUri = dep.logUri;
      if (!ctx.signal.aborted) await readTrafficAfter(state);
      keepTraffic(rec, 'Traffic untouched: the candidate revision did not become ready.');
      log.error({ stage: 'deploy', revision: dep.revisionName, exitCode: dep.exitCode }, dep.message);
      state.results = await withStageFrames(state, [stageResult('deploy', dep.message, dep.logTail, dep.exitCode ?? null, dep.reason)]);
      state.verdict = 'deploy-failed';
      return 'failed';
    }
    const rev = dep.revision;
    state.revision = rev;
    rec.deploy = { status: 'ok', revision: rev.name, image: rev.image, tagUrl: rev.url, durationMs: rev.startMs, startMs: rev.startMs };
    const info = deps.target.deployInfo?.(rev.name);
    if (info?.envSources && Object.keys(info.envSources).length > 0) rec.deploy.env = info.envSources;
    if (info?.adopted) rec.deploy.adopted = true;
    if (info?.logUri) rec.deploy.logUri = info.logUri;
    log.info({ stage: 'deploy', revision: rev.name, url: rev.url, ms: rev.startMs }, 'candidate ready');
    if (ctx.signal.aborted) return;
    state.afterDeploy = await deps.target.currentTraffic(ctx);
  },
};

const smokeCandidate: CycleStep = {
  name: 'smoke',
  stage: 'deploy',
  doing: 'smoking the candidate',
  label: ({ deps, revision }) => `smoke ${deps.config.smoke.checks.length} checks against ${revision?.name ?? 'the candidate'}`,
  async run(state) {
    const { deps, ctx, rec, log } = state;
    const rev = required(state.revision, 'a deployed revision');
    const headers = await smokeHeaders(deps, rev.url);
    const coldStartMs = await measureColdStart(rev.url, deps.config.smoke.checks, { timeoutMs: deps.config.smoke.defaults.timeoutMs, headers, signal: ctx.signal });
    if (coldStartMs !== undefined) rec.smoke.coldStartMs = coldStartMs;
    const started = performance.now();
    const run = await smokeAgainst(deps, deps.config.smoke.checks, rev.url, headers, log.child({ stage: 'smoke' }));
    rec.smoke.durationMs = Math.round(performance.now() - started);
    state.results = run.results;
    rec.smoke.results = run.results;
    if (run.stopped) {
      rec.smoke.stoppedEarly = run.stopped;
      state.extras = withStopBlocker(state.extras, run.stopped);
    }
    if (ctx.signal.aborted) return;
    state.results = await attachLogs(state, rev.name);
    rec.smoke.results = state.results;
  },
};

const promoteOrKeep: CycleStep = {
  name: 'promote',
  stage: 'traffic',
  doing: 'moving traffic',
  label: ({ deps }) => `traffic (${deps.config.traffic.strategy})`,
  async run(state) {
    const { rec, log } = state;
    const gate = cycleGate(state);
    if (!gate.passed) {
      keepTraffic(rec);
      log.warn({ stage: 'traffic', reasons: gate.reasons }, 'gate failed: traffic not moved');
      return readTrafficAfter(state);
    }
    const outcome = await promoteCandidate(state);
    await readTrafficAfter(state);
    if (outcome.canary) rec.traffic.canary = outcome.canary;
    if (outcome.status === 'interrupted') {
      rec.traffic.note = outcome.restored
        ? 'Interrupted while promoting: traffic restored to the split before the cycle.'
        : `Interrupted while promoting, and traffic was not restored: ${outcome.restoreError ?? 'unknown error'}.`;
      state.verdict = 'interrupted';
      return;
    }
    if (outcome.status === 'rolled-back') return canaryRolledBack(state, outcome);
    rec.traffic.action = 'promoted';
    log.info({ stage: 'traffic', revision: state.revision?.name }, 'promoted: 100% of traffic');
    await followLatestAfterPromote(state, state.deps.config.traffic.afterPromote);
  },
};

/** Where traffic is now, read with a live signal even when the run was interrupted. */
export async function readTrafficAfter({ deps, ctx, rec, log }: CycleState): Promise<void> {
  const live = ctx.signal.aborted ? { ...ctx, signal: AbortSignal.timeout(30_000) } : ctx;
  try {
    rec.traffic.after = await deps.target.currentTraffic(live);
  } catch (err) {
    // The cycle's verdict stands; the record says the split after it is not known.
    log.warn({ err: errorMessage(err) }, 'could not read the traffic split after the cycle');
    rec.traffic.note = `${rec.traffic.note ? `${rec.traffic.note} ` : ''}The split after the cycle could not be read: ${errorMessage(err)}.`;
  }
}

export const CYCLE_STEPS: readonly CycleStep[] = [readTrafficBefore, build, deployCandidate, smokeCandidate, promoteOrKeep];

async function promoteCandidate(state: CycleState): Promise<PromoteOutcome> {
  const { deps, ctx, rec } = state;
  const rev = required(state.revision, 'a deployed revision');
  return promote({
    target: deps.target,
    ctx,
    traffic: deps.config.traffic,
    before: rec.traffic.before,
    restore: state.afterDeploy ?? rec.traffic.before,
    candidate: rev.name,
    smoke: async (names) => {
      const run = await smokeServiceUrl(deps, names, state.log);
      state.canaryStop = run.stopped;
      return run.results;
    },
    gate: (stepResults) => cycleGate({ deps, results: stepResults, extras: withStopBlocker(state.extras, state.canaryStop) }),
    onStep: async (percent, _index, split) => {
      // The journal learns each split as it is set: a killed run's record says where traffic was left.
      rec.traffic.after = split;
      await state.journal(`canary-${percent}`);
    },
  });
}

function canaryRolledBack(state: CycleState, outcome: Extract<PromoteOutcome, { status: 'rolled-back' }>): void {
  const { rec } = state;
  // The step's results (against the service URL) replace the tag URL's for the same checks.
  state.results = state.results.map((r) => outcome.results.find((s) => s.name === r.name) ?? r);
  // Not restored only when nothing served before: then the candidate does hold all the traffic.
  rec.traffic.action = !outcome.restored ? 'promoted' : rec.traffic.before.length > 0 ? 'kept' : 'none';
  const failed = outcome.canary.steps.at(-1);
  const stepName = `step ${(outcome.canary.failedAtStep ?? 0) + 1} (${failed?.percent ?? '?'}%)`;
  if (failed && state.canaryStop) failed.stoppedEarly = state.canaryStop;
  rec.traffic.note = `Canary failed at ${stepName}: ${
    outcome.restored ? 'traffic rolled back to the split before the cycle.' : 'nothing served traffic before the cycle, so the candidate keeps it.'
  }`;
  // The merged results alone could pass (a step runs fewer checks than the tag URL did): a cycle
  // whose canary failed cannot pass, and says which step and why.
  state.extras = { ...state.extras, blockers: [...(state.extras.blockers ?? []), ...outcome.reasons.map((r) => `canary ${stepName}: ${r}`)] };
}

/** An error in a step: the record section it belongs to says so, and a P0 result names the step. */
export function stepFailure(state: CycleState, step: CycleStep, message: string, hint: string | undefined, elapsedMs: number): void {
  const { rec, deps } = state;
  const ms = Math.round(elapsedMs);
  const text = hint ? `${message} (${hint})` : message;
  if (step.stage === 'build') {
    rec.build = { status: 'failed', kind: deps.builder.kind, durationMs: ms, message: text, outputTail: [] };
  } else if (step.name === 'deploy') {
    rec.deploy = { ...rec.deploy, status: 'failed', durationMs: ms, message: text };
  }
  if (step.name !== 'promote') keepTraffic(rec, `Traffic untouched: ${message}.`);
  else rec.traffic.note = `The promotion stopped on an error (traffic is put back where a canary step had moved it): ${message}.`;
  const kind = step.stage === 'build' ? 'build' : step.name === 'promote' ? 'traffic' : 'deploy';
  state.results = [...state.results.filter((r) => r.status !== 'skipped'), stageResult(kind, text, [], null, undefined, step.name, 'error')];
  state.verdict = 'error';
}

function keepTraffic(rec: CycleRecord, note?: string): void {
  rec.traffic.action = rec.traffic.before.length > 0 ? 'kept' : 'none';
  if (note) rec.traffic.note = note;
}

function required<T>(value: T | undefined, what: string): T {
  // A step list run out of order is a bug in deploy-loop, not the user's.
  if (value === undefined) throw new StageError('deploy', `internal: this step needs ${what} from an earlier step`);
  return value;
}

async function smokeHeaders(deps: CycleDeps, url: string): Promise<Record<string, string>> {
  const fromTarget = deps.target.smokeHeaders ? await deps.target.smokeHeaders(url) : {};
  return { ...fromTarget, ...deps.smokeHeaders };
}

/** Where the revision ran from and the context it was built from: to map a frame back to the user's source. */
function sourceDirs(state: CycleState): { contextDir: string; buildDir?: string } {
  const contextDir = resolve(state.deps.baseDir ?? process.cwd(), state.deps.config.build.context ?? '.');
  const buildDir = state.built?.dir;
  return { contextDir, ...(buildDir ? { buildDir } : {}) };
}

/**
 * A revision that crashed at start (a traceback before it listened), or a build command that failed
 * in the build folder, names the user's frame as a failing check's window does: its tail is mapped
 * from the build copy and searched the same way.
 */
async function withStageFrames(state: CycleState, results: CheckResult[]): Promise<CheckResult[]> {
  const where = sourceDirs(state);
  const mapped = results.map((r) => {
    const tail = r.failure?.evidence.logTail;
    if (!r.failure || !tail) return r;
    return { ...r, failure: { ...r.failure, evidence: { ...r.failure.evidence, logTail: tail.map((l) => mapBuildFrames(l, where)) } } };
  });
  return attachSourceFrames(mapped, where);
}

/**
 * Failing checks carry the revision's output from their own attempts (timestamped lines, whole
 * records, frames mapped from the build copy to the context); a target without timed lines gives
 * the revision's tail, marked as shared.
 */
async function attachLogs(state: CycleState, revision: string): Promise<CheckResult[]> {
  const { deps, results } = state;
  if (!results.some((r) => r.failure)) return results;
  const where = sourceDirs(state);
  const mapLine = (text: string) => mapBuildFrames(text, where);
  let timed: TimedLine[] = [];
  try {
    timed = deps.target.timedLogs ? await deps.target.timedLogs(revision) : [];
  } catch (err) {
    // Logs that cannot be read (Cloud Logging: PERMISSION_DENIED …) are evidence of their own; the cycle goes on.
    return withUnreadLogs(results, errorMessage(err), deps.target.deployInfo?.(revision)?.logUri);
  }
  if (timed.length > 0) return attachSourceFrames(attachCheckLogs(results, timed, { mapLine }), where);
  const tail = deps.target.logs ? await deps.target.logs(revision, 40).catch(() => []) : [];
  return attachSourceFrames(attachRevisionTail(results, tail, { mapLine }), where);
}

/**
 * `traffic.afterPromote: latest`: once the candidate holds 100%, a target that can (Cloud Run) lets
 * the split follow the latest revision, so deploys made by other means get traffic; `pinned` (the
 * default) leaves the split naming the candidate. Call after a promotion succeeded. The record's
 * note says which happened.
 */
export async function followLatestAfterPromote(state: CycleState, mode: 'pinned' | 'latest'): Promise<void> {
  const { deps, ctx, rec, log } = state;
  const rev = state.revision?.name;
  if (mode !== 'latest' || !rev || !deps.target.followLatest) return;
  let followed: boolean;
  try {
    followed = await deps.target.followLatest(ctx, rev);
  } catch (err) {
    // The promotion stands (the candidate serves 100%, pinned); only the hand-over to LATEST failed.
    const note = `Traffic stays pinned to the candidate: handing it to the latest revision (traffic.afterPromote: latest) failed: ${errorMessage(err)}.`;
    rec.traffic.note = rec.traffic.note ? `${rec.traffic.note} ${note}` : note;
    log.warn({ stage: 'traffic', revision: rev, err: errorMessage(err) }, note);
    return;
  }
  const note = followed
    ? 'Traffic follows the latest revision (traffic.afterPromote: latest): a later deploy by other means gets it.'
    : 'Traffic stays pinned to the candidate: it is no longer the latest ready revision, so following the latest would serve an unsmoked one.';
  rec.traffic.note = rec.traffic.note ? `${rec.traffic.note} ${note}` : note;
  log.info({ stage: 'traffic', revision: rev, followed }, note);
}

/** Each failing result without output of its own says why the revision's logs are missing, and where to read them. */
function withUnreadLogs(results: CheckResult[], why: string, logUri: string | undefined): CheckResult[] {
  const logTail = [why, ...(logUri ? [`Logs URL: ${logUri}`] : [])];
  return results.map((r) =>
    r.failure && r.failure.evidence.logTail === undefined && r.status !== 'skipped'
      ? { ...r, failure: { ...r.failure, evidence: { ...r.failure.evidence, logTail, logScope: 'revision' } } }
      : r,
  );
}

/** A canary step's smoke run: the configured checks against the service URL, which carries the split. */
async function smokeServiceUrl(deps: CycleDeps, names: TrafficConfig['smoke'], log: Logger): Promise<WatchedRun> {
  const url = deps.target.serviceUrl();
  if (!url) throw new StageError('traffic', 'the target has no service URL to run the canary smoke against');
  const checks = names === 'all' ? deps.config.smoke.checks : deps.config.smoke.checks.filter((c) => names.includes(c.name));
  return smokeAgainst(deps, checks, url, await smokeHeaders(deps, url), log.child({ stage: 'smoke', canary: true }));
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

/** A build or deploy failure (or a step's error) becomes a P0 result so the gate and the report treat it as an issue. */
function stageResult(
  kind: 'build' | 'deploy' | 'traffic',
  message: string,
  logTail: string[],
  exitCode: number | null,
  reason?: string,
  name: string = kind,
  status: 'fail' | 'error' = 'fail',
): CheckResult {
  return {
    name,
    kind,
    priority: 'P0',
    status,
    durationMs: 0,
    attempts: 1,
    figures: {},
    failure: {
      class: kind === 'build' ? 'build-failure' : 'deploy-failure',
      message: reason ? `${reason}: ${message}` : message,
      evidence: { logTail, ...(exitCode !== null ? { actual: `exit code ${exitCode}` } : {}) },
    },
  };
}
