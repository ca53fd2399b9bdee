/** The gate: a pure function of check results and per-priority minimum pass rates. */
import type { GateConfig } from '../config/schema.js';
import { PRIORITIES, type CheckResult } from '../smoke/result.js';
import type { GateVerdict, PriorityTally } from './record.js';

export function assessGate(results: readonly CheckResult[], gate: GateConfig): GateVerdict {
  const reasons: string[] = [];
  if (results.length === 0) {
    reasons.push('no check ran: a suite that ran nothing cannot pass');
  }
  const tallies: PriorityTally[] = PRIORITIES.map((priority) => {
    const mine = results.filter((r) => r.priority === priority);
    const passed = mine.filter((r) => r.status === 'pass').length;
    const total = mine.length;
    const threshold = gate[priority] ?? null;
    const passRate = total === 0 ? null : round1((passed / total) * 100);
    // A gated priority with no checks passes only when it asks for nothing (threshold 0); the
    // default P0 gate with no P0 check is vacuous and is reported as such rather than failed.
    const ok = threshold === null || passRate === null || passRate >= threshold;
    if (!ok) {
      reasons.push(`${priority} passed ${passed} of ${total} (${passRate}%), needs ${threshold}%`);
    }
    return { priority, total, passed, failed: total - passed, passRate, threshold, ok };
  });
  return { passed: reasons.length === 0, tallies, reasons };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
