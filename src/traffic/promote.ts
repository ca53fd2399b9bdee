/**
 * Applying a promotion: direct (one split) or canary (a split per step, a hold, a smoke run against
 * the service URL and the gate at each). Any failed step, error or interruption puts back the split
 * from before the cycle, so traffic is never left part-way. Plans come from plan.ts; this module
 * only applies them, for every target alike.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TrafficConfig } from '../config/schema.js';
import type { StageContext } from '../context.js';
import type { Target, TrafficEntry } from '../deploy/target.js';
import { errorMessage } from '../errors.js';
import type { CanaryRecord, CanaryStepRecord, GateVerdict } from '../model/record.js';
import { isPassing, type CheckResult } from '../model/check-result.js';
import { planCanary, planPromotion } from './plan.js';

/** Restoring traffic must outlive the run's aborted signal, but not hang forever. */
const RESTORE_TIMEOUT_MS = 120_000;

export interface PromoteInput {
  target: Target;
  ctx: StageContext;
  traffic: TrafficConfig;
  /** The split before the cycle (what serves if the candidate is refused). */
  before: TrafficEntry[];
  /** The split to put back on failure: `before`, plus the candidate's tag at 0% where the target added it. */
  restore: TrafficEntry[];
  candidate: string;
  /** Runs the step's checks against the service URL. */
  smoke: (checks: TrafficConfig['smoke']) => Promise<CheckResult[]>;
  gate: (results: CheckResult[]) => GateVerdict;
  /** Called once a step's split is in place, before its hold (the journal records the split). */
  onStep?: (percent: number, index: number, split: TrafficEntry[]) => void | Promise<void>;
}

export type PromoteOutcome =
  | { status: 'promoted'; canary?: CanaryRecord }
  /** A step's gate failed; traffic is back to `restore`. */
  | { status: 'rolled-back'; canary: CanaryRecord; results: CheckResult[]; reasons: string[]; restored: boolean }
  /** Aborted by the run's signal; `restored` says whether traffic is back to `restore`. */
  | { status: 'interrupted'; canary?: CanaryRecord; restored: boolean; restoreError?: string };

export async function promote(input: PromoteInput): Promise<PromoteOutcome> {
  const { target, ctx, traffic, before, candidate } = input;
  if (traffic.strategy === 'direct') {
    try {
      await target.setTraffic(ctx, planPromotion(before, candidate, true).split);
    } catch (err) {
      if (ctx.signal.aborted) return interrupted(input, { steps: [] }, true);
      throw err;
    }
    // Exit 130 promises traffic as it was before the cycle, even when the signal came mid-update.
    if (ctx.signal.aborted) return interrupted(input, { steps: [] }, true);
    return { status: 'promoted' };
  }
  const steps = planCanary(before, candidate, traffic.steps, traffic.tag);
  const canary: CanaryRecord = { steps: [] };
  let moved = false;
  try {
    for (const [index, step] of steps.entries()) {
      if (ctx.signal.aborted) return await interrupted(input, canary, moved);
      moved = true;
      await target.setTraffic(ctx, step.split);
      ctx.log.info({ stage: 'traffic', step: index + 1, of: steps.length, percent: step.percent, holdMs: traffic.holdMs }, `canary step ${index + 1} of ${steps.length}: ${step.percent}% to ${candidate}`);
      await input.onStep?.(step.percent, index, step.split);
      if (traffic.holdMs > 0) await sleep(traffic.holdMs, undefined, { signal: ctx.signal });
      const results = await input.smoke(traffic.smoke);
      if (ctx.signal.aborted) return await interrupted(input, canary, moved);
      const verdict = input.gate(results);
      canary.steps.push(stepRecord(step.percent, verdict.passed, results));
      if (!verdict.passed) {
        canary.failedAtStep = index;
        ctx.log.warn({ stage: 'traffic', percent: step.percent, reasons: verdict.reasons }, `canary failed at ${step.percent}%: rolling traffic back`);
        if (!serves(input.restore)) {
          ctx.log.warn({ stage: 'traffic' }, 'nothing served traffic before the cycle: the candidate keeps it');
          return { status: 'rolled-back', canary, results, reasons: verdict.reasons, restored: false };
        }
        await target.setTraffic(restoreContext(ctx), input.restore);
        return { status: 'rolled-back', canary, results, reasons: verdict.reasons, restored: true };
      }
    }
    return { status: 'promoted', canary };
  } catch (err) {
    if (ctx.signal.aborted) return await interrupted(input, canary, moved);
    // An API error mid-canary: put traffic back before reporting it.
    if (moved && serves(input.restore)) {
      await target.setTraffic(restoreContext(ctx), input.restore).catch((restoreErr: unknown) => {
        ctx.log.error({ err: errorMessage(restoreErr) }, 'could not restore traffic after a failed canary step');
      });
    }
    throw err;
  }
}

async function interrupted(input: PromoteInput, canary: CanaryRecord, moved: boolean): Promise<PromoteOutcome> {
  const withSteps = canary.steps.length > 0 ? { canary } : {};
  if (!moved) return { status: 'interrupted', ...withSteps, restored: true };
  if (!serves(input.restore)) {
    return { status: 'interrupted', ...withSteps, restored: false, restoreError: 'nothing served traffic before the cycle, so there is no split to go back to' };
  }
  try {
    await input.target.setTraffic(restoreContext(input.ctx), input.restore);
    input.ctx.log.warn({ stage: 'traffic', split: input.restore }, 'interrupted during the canary: traffic restored');
    return { status: 'interrupted', ...withSteps, restored: true };
  } catch (err) {
    input.ctx.log.error({ err: errorMessage(err) }, 'interrupted during the canary and could not restore traffic');
    return { status: 'interrupted', ...withSteps, restored: false, restoreError: errorMessage(err) };
  }
}

/** A split with no share anywhere cannot be set (Cloud Run needs 100% somewhere). */
function serves(split: readonly TrafficEntry[]): boolean {
  return split.some((e) => e.percent > 0);
}

/** The run's signal is aborted when interrupted; restoring still has to reach the target. */
function restoreContext(ctx: StageContext): StageContext {
  return { ...ctx, signal: AbortSignal.timeout(RESTORE_TIMEOUT_MS) };
}

function stepRecord(percent: number, passed: boolean, results: CheckResult[]): CanaryStepRecord {
  // A degraded check passed; a skipped one (cut by an abort) neither passed nor failed.
  const failed = results.filter((r) => !isPassing(r.status) && r.status !== 'skipped');
  const skipped = results.filter((r) => r.status === 'skipped').length;
  return {
    percent,
    passed,
    results: {
      total: results.length,
      passed: results.filter((r) => isPassing(r.status)).length,
      failed: failed.length,
      failedChecks: failed.map((r) => r.name),
      ...(skipped > 0 ? { skipped } : {}),
    },
  };
}
