/** Before/after of each check between a cycle and the one before it. */
import type { CycleRecord } from '../model/record.js';
import { PRIORITIES, isPassing, type CheckResult } from '../model/check-result.js';
import { changedInputs, passedOnRetry, sameRevision } from './flaky.js';
import { checkResults, isFailing, smokeCompleted, STAGES, stageOutcome } from './outcomes.js';
import type { CheckChange, Comparison } from '../model/report.js';


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
    const flipped = (list === comparison.newlyPassing || list === comparison.newlyFailing) && sameRevision(previous, current);
    const retried = a !== undefined && passedOnRetry(a) && list !== comparison.unmeasured && list !== comparison.added;
    (flipped || retried ? comparison.flaky : list).push(change);
  }
  const { previousCycle: _p, changedInputs: _c, ...lists } = comparison;
  for (const list of Object.values(lists)) list.sort(byPriorityThenName);
  const inputs = changedInputs(previous, current);
  if (inputs.length > 0) comparison.changedInputs = inputs;
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
  // A multi-connection check compares its p95, as the schema says; connectMs is connection 0's alone.
  const connectBefore = b?.figures.connectP95Ms ?? b?.figures.connectMs;
  const connectAfter = a?.figures.connectP95Ms ?? a?.figures.connectMs;
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
