/** Before/after of each check between a cycle and the one before it. */
import type { CycleRecord } from '../loop/record.js';
import { z } from 'zod';
import { PRIORITIES, checkStatusSchema, isPassing, prioritySchema, type CheckResult, type Priority } from '../smoke/result.js';
import { passedOnRetry, sameCode } from './flaky.js';
import { checkResults, isFailing, smokeCompleted, STAGES, stageOutcome } from './outcomes.js';

const changeStatus = z.union([checkStatusSchema, z.literal('absent')]);

export const checkChangeSchema = z.object({
  name: z.string(),
  priority: prioritySchema,
  before: changeStatus,
  after: changeStatus,
  latencyBeforeMs: z.number().optional(),
  latencyAfterMs: z.number().optional(),
  connectBeforeMs: z.number().optional().describe('Connect time; for a multi-connection check, its p95.'),
  connectAfterMs: z.number().optional().describe('Connect time; for a multi-connection check, its p95.'),
}).meta({ id: 'CheckChange' });
export type CheckChange = z.infer<typeof checkChangeSchema>;

/**
 * Every check of either cycle lands in exactly one list. The build and deploy stages appear as P0
 * checks named `build` and `deploy` when either cycle failed them.
 */
export const comparisonSchema = z.object({
  previousCycle: z.number().int().nullable(),
  newlyPassing: z.array(checkChangeSchema).describe('Passing now, failing before.'),
  newlyFailing: z.array(checkChangeSchema).describe('Failing now, passing before.'),
  stillFailing: z.array(checkChangeSchema),
  stillPassing: z.array(checkChangeSchema),
  added: z.array(checkChangeSchema).describe('In this cycle only, while the previous cycle ran all its checks.'),
  removed: z.array(checkChangeSchema).describe('In the previous cycle only, while this cycle ran all its checks.'),
  unmeasured: z
    .array(checkChangeSchema)
    .describe('Not comparable: skipped in either cycle, or absent from a cycle that did not run all its checks (build or deploy failed, interrupted).'),
  flaky: z
    .array(checkChangeSchema)
    .describe('Passed only on retry in this cycle, or flipped against a previous cycle that ran the same code: never counted as newly passing or newly failing.'),
}).meta({ id: 'Comparison' });
export type Comparison = z.infer<typeof comparisonSchema>;

export function compareCycles(current: CycleRecord, previous: CycleRecord | undefined): Comparison {
  const comparison: Comparison = {
    previousCycle: previous?.cycle ?? null,
    newlyPassing: [],
    newlyFailing: [],
    stillFailing: [],
    stillPassing: [],
    added: [],
    removed: [],
    unmeasured: [],
    flaky: [],
  };
  if (previous === undefined) return comparison;

  const before = measured(previous);
  const after = measured(current);
  // Stages take part only when one of the two cycles failed them: passing cycles compare checks alone.
  for (const stage of STAGES) {
    const b = stageOutcome(previous, stage);
    const a = stageOutcome(current, stage);
    if (isFailing(a.status) || isFailing(b.status)) {
      before.set(stage, { ...b, name: stage });
      after.set(stage, { ...a, name: stage });
    }
  }
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const a = after.get(name);
    const change = describe(name, before.get(name), a);
    const list = listFor(comparison, change, smokeCompleted(previous), smokeCompleted(current));
    // A pass that needed a retry, or a flip while the code stayed the same, says nothing about a fix.
    const flipped = (list === comparison.newlyPassing || list === comparison.newlyFailing) && sameCode(previous, current);
    const retried = a !== undefined && passedOnRetry(a) && list !== comparison.unmeasured && list !== comparison.added;
    (flipped || retried ? comparison.flaky : list).push(change);
  }
  for (const list of Object.values(comparison)) {
    if (Array.isArray(list)) list.sort(byPriorityThenName);
  }
  return comparison;
}

function measured(record: CycleRecord): Map<string, CheckResult> {
  const map = new Map<string, CheckResult>();
  for (const r of checkResults(record)) map.set(r.name, r);
  return map;
}

function describe(name: string, b: CheckResult | undefined, a: CheckResult | undefined): CheckChange {
  const change: CheckChange = {
    name,
    priority: (a ?? b)?.priority ?? 'P0',
    before: b?.status ?? 'absent',
    after: a?.status ?? 'absent',
  };
  if (b?.figures.latencyMs !== undefined) change.latencyBeforeMs = b.figures.latencyMs;
  if (a?.figures.latencyMs !== undefined) change.latencyAfterMs = a.figures.latencyMs;
  const connectBefore = b?.figures.connectMs ?? b?.figures.connectP95Ms;
  const connectAfter = a?.figures.connectMs ?? a?.figures.connectP95Ms;
  if (connectBefore !== undefined) change.connectBeforeMs = connectBefore;
  if (connectAfter !== undefined) change.connectAfterMs = connectAfter;
  return change;
}

function listFor(c: Comparison, change: CheckChange, ranBefore: boolean, ranAfter: boolean): CheckChange[] {
  const { before, after } = change;
  if (before === 'absent') return ranBefore ? c.added : c.unmeasured;
  if (after === 'absent') return ranAfter ? c.removed : c.unmeasured;
  if (before === 'skipped' || after === 'skipped') return c.unmeasured;
  if (isPassing(after)) return isPassing(before) ? c.stillPassing : c.newlyPassing;
  return isFailing(before) ? c.stillFailing : c.newlyFailing;
}

function byPriorityThenName(a: CheckChange, b: CheckChange): number {
  return PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority) || a.name.localeCompare(b.name);
}
