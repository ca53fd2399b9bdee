/**
 * The gate: a pure function of check results and per-priority minimum pass rates. It fails closed:
 * a suite that ran nothing fails, a priority gated above 0% with no check of that priority fails
 * (the default `P0: 100` included: a suite with no P0 check cannot show that every P0 passes;
 * write `P0: 0` to run one on purpose), and a pass that needed a retry (flaky) does not count as
 * passing unless `allowFlaky: true`. Figure thresholds (thresholds.ts) must each hold, and fail with zero samples.
 */
import type { GateConfig } from '../config/schema.js';
import { passedOnRetry } from '../report/flaky.js';
import { PRIORITIES, isPassing, type CheckResult } from '../model/check-result.js';
import type { GateVerdict, PriorityTally } from '../model/record.js';
import { evaluateThresholds, thresholdReason } from '../model/thresholds.js';

export interface GateExtras {
  /** Reasons from outside the results that block the gate (an unaccepted suite change). */
  blockers?: string[];
}

const STAGE_KINDS: readonly CheckResult['kind'][] = ['build', 'deploy', 'traffic'];

export function assessGate(results: readonly CheckResult[], gate: GateConfig, extras: GateExtras = {}): GateVerdict {
  const reasons: string[] = [];
  const nothingRan = results.length === 0;
  if (nothingRan) reasons.push('no check ran: a suite that ran nothing cannot pass');
  // A build or deploy that failed is the reason; "no P1 check ran" would only repeat it.
  const stageFailures = results.filter((r) => STAGE_KINDS.includes(r.kind) && !isPassing(r.status));
  const suiteDidNotRun = stageFailures.length > 0 && stageFailures.length === results.length;
  for (const f of stageFailures) {
    const what = f.status === 'error' ? `the ${f.name} step failed with an error` : `the ${f.name} failed`;
    reasons.push(`${what}: ${f.failure?.message ?? 'no message'}${suiteDidNotRun ? '; the smoke suite did not run' : ''}`);
  }
  const allowFlaky = gate.allowFlaky === true;
  const tallies: PriorityTally[] = PRIORITIES.map((priority) => {
    const mine = results.filter((r) => r.priority === priority);
    const flaky = mine.filter(passedOnRetry).length;
    const passed = mine.filter((r) => isPassing(r.status) && (allowFlaky || !passedOnRetry(r))).length;
    const total = mine.length;
    const threshold = gate[priority] ?? null;
    const passRate = total === 0 ? null : round1((passed / total) * 100);
    let ok: boolean;
    if (threshold === null) ok = true;
    else if (total === 0) {
      // Zero samples prove nothing: only a threshold that asks for nothing (0%) holds.
      ok = threshold === 0;
      if (!ok && !nothingRan && !suiteDidNotRun) reasons.push(`${priority} is gated at ${threshold}% but no ${priority} check ran`);
    } else {
      ok = (passRate ?? 0) >= threshold;
      if (!ok && !(suiteDidNotRun && priority === 'P0')) {
        const flakyNote = flaky > 0 && !allowFlaky ? `; ${flaky} passed only on retry (flaky), which counts as not passed unless gate.allowFlaky` : '';
        reasons.push(`${priority} passed ${passed} of ${total} (${passRate}%), needs ${threshold}%${flakyNote}`);
      }
    }
    const tally: PriorityTally = { priority, total, passed, failed: total - passed, passRate, threshold, ok };
    if (flaky > 0) tally.flaky = flaky;
    return tally;
  });
  const thresholds = evaluateThresholds(results, gate.thresholds ?? []);
  for (const t of thresholds) if (!t.passed && !nothingRan && !suiteDidNotRun) reasons.push(thresholdReason(t));
  reasons.push(...(extras.blockers ?? []));
  const verdict: GateVerdict = { passed: reasons.length === 0, tallies, reasons };
  if (thresholds.length > 0) verdict.thresholds = thresholds;
  return verdict;
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
