/**
 * One cycle as a flat list of steps over one state (as Argo Rollouts' reconcile list):
 * read traffic → build → deploy the candidate (tagged, 0%) → smoke its tag URL → promote or keep.
 * One wrapper (`runStep`) does progress, timing, journaling and error → record for every step, so
 * no error a provider throws can end a cycle without a record: it becomes the `error` verdict with a
 * P0 result naming the step. The gate is assessed from the state (`cycleGate`): by the promote step
 * to decide, and at the end for the record.
 */
import { DeployLoopError, errorMessage } from '../errors.js';
import { RECORD_SCHEMA_VERSION, type CycleRecord, type StepRecord } from '../model/record.js';
import { progress } from '../progress.js';
import { cycleGate, type CycleDeps, type CycleState, type CycleStep } from './cycle-state.js';
import { CYCLE_STEPS, readTrafficAfter, stepFailure } from './cycle-steps.js';

export type { CycleDeps, CycleState, CycleStep } from './cycle-state.js';
export { CYCLE_STEPS } from './cycle-steps.js';

export async function runCycle(deps: CycleDeps): Promise<CycleRecord> {
  const state = newState(deps);
  for (const step of deps.steps ?? CYCLE_STEPS) {
    if (state.verdict) break;
    await runStep(state, step);
  }
  return finish(state);
}

function newState(deps: CycleDeps): CycleState {
  const now = deps.now ?? (() => new Date());
  const log = deps.log.child({ cycle: deps.cycle });
  const rec: CycleRecord = {
    schemaVersion: RECORD_SCHEMA_VERSION,
    service: deps.config.service,
    cycle: deps.cycle,
    runId: deps.runId,
    startedAt: now().toISOString(),
    finishedAt: '',
    target: deps.target.kind,
    build: { status: 'failed', kind: deps.builder.kind, durationMs: 0, outputTail: [] },
    deploy: { status: 'skipped', durationMs: 0 },
    traffic: { before: [], after: [], action: 'none' },
    smoke: { durationMs: 0, results: [] },
    gate: { passed: false, tallies: [], reasons: [] },
    verdict: 'error',
    checkLocations: deps.checkLocations,
    durations: { buildMs: 0, deployMs: 0, smokeMs: 0, totalMs: 0 },
    steps: [],
  };
  if (deps.fix) rec.fix = deps.fix;
  const state: CycleState = {
    deps,
    ctx: { signal: deps.signal, log, cycle: deps.cycle },
    log,
    rec,
    now,
    t0: performance.now(),
    results: [],
    extras: deps.gateExtras ?? {},
    journal: (step) => journal(state, step),
  };
  return state;
}

/** The one wrapper: progress, timing, the step's record, error → record, and the journal. */
async function runStep(state: CycleState, step: CycleStep): Promise<void> {
  const { rec, ctx } = state;
  const started = performance.now();
  progress().stage(`cycle ${rec.cycle} · ${step.label(state)}`);
  const entry: StepRecord = { name: step.name, status: 'done', durationMs: 0 };
  try {
    if ((await step.run(state)) === 'failed') entry.status = 'failed';
  } catch (err) {
    if (ctx.signal.aborted) entry.status = 'interrupted';
    else {
      entry.status = 'error';
      entry.message = `${step.doing}: ${errorMessage(err)}`;
      const hint = err instanceof DeployLoopError ? err.hint : undefined;
      state.log.error({ step: step.name, err: errorMessage(err), ...(hint ? { hint } : {}) }, `the ${step.name} step failed with an error`);
      stepFailure(state, step, entry.message, hint, performance.now() - started);
      // The step may have moved traffic or tagged a revision before it threw.
      if (step.stage !== 'build') await readTrafficAfter(state);
    }
  }
  if (ctx.signal.aborted) interrupted(state, entry);
  entry.durationMs = Math.round(performance.now() - started);
  rec.steps?.push(entry);
  progress().stop();
  await journal(state, step.name);
}

/**
 * A signal during a step ends the cycle as interrupted: a build or deploy that failed while the run
 * was being stopped says nothing about the code. The smoke results so far stay in the record.
 */
function interrupted(state: CycleState, entry: StepRecord): void {
  if (state.verdict === 'error') return;
  if (state.verdict === 'build-failed' || state.verdict === 'deploy-failed') state.results = [];
  state.verdict = 'interrupted';
  if (entry.status === 'done' || entry.status === 'failed') entry.status = 'interrupted';
}

/** Journaling must never end a cycle: a failed write is logged and the cycle goes on. */
async function journal(state: CycleState, step: string): Promise<void> {
  try {
    await state.deps.onStep?.(step, state.rec);
  } catch (err) {
    state.log.warn({ step, err: errorMessage(err) }, 'could not journal the cycle so far');
  }
}

function finish(state: CycleState): CycleRecord {
  const { rec } = state;
  rec.smoke.results = state.results;
  rec.gate = cycleGate(state);
  const verdict = state.verdict ?? 'passed';
  rec.verdict = verdict === 'passed' && !rec.gate.passed ? 'gate-failed' : verdict;
  rec.finishedAt = state.now().toISOString();
  rec.durations = {
    buildMs: rec.build.durationMs,
    deployMs: rec.deploy.durationMs,
    smokeMs: rec.smoke.durationMs,
    totalMs: Math.round(performance.now() - state.t0),
  };
  const su = state.deps.target.serviceUrl();
  if (su) rec.serviceUrl = su;
  return rec;
}
