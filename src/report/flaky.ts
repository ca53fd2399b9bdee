/**
 * Flakiness, derived from recorded results rather than stored: a check that failed and then passed
 * on retry within a cycle, or whose outcome flips between cycles that ran the same code, is flaky.
 * A flaky pass is never reported as a fix.
 */
import type { CycleRecord } from '../model/record.js';
import { isPassing, type CheckResult, type CheckStatus } from '../model/check-result.js';

export type ReportedStatus = CheckStatus | 'flaky';

/** Passed only after at least one failed (or errored) attempt in the same cycle. */
export function passedOnRetry(result: CheckResult): boolean {
  if (!isPassing(result.status)) return false;
  return (result.attemptLog ?? []).some((a) => a.status === 'fail' || a.status === 'error');
}

/** The status a report shows: `flaky` for a pass that needed a retry, else the recorded status. */
export function reportedStatus(result: CheckResult): ReportedStatus {
  return passedOnRetry(result) ? 'flaky' : result.status;
}

/**
 * Whether two cycles ran the same revision: the same code (the same revision name, or the same image
 * digest: local revisions get a new name per cycle) and the same deploy inputs (env, command, target
 * settings). A check that flips after an env change was fixed or broken by that change: not flaky.
 */
export function sameRevision(a: CycleRecord, b: CycleRecord): boolean {
  if (changedInputs(a, b).length > 0) return false;
  if (a.deploy.revision !== undefined && a.deploy.revision === b.deploy.revision) return true;
  if (a.build.digest !== undefined && a.build.digest === b.build.digest) return true;
  // An image builder may not build the same context to the same digest: the recorded build context
  // (record.changes, against exactly this cycle) is the code then. The command builder's digest is
  // exact (context and build settings), so it alone decides there.
  if (a.build.kind === 'command' && b.build.kind === 'command') return false;
  const [older, newer] = a.cycle < b.cycle ? [a, b] : [b, a];
  const c = newer.changes;
  return c !== undefined && c.sinceCycle === older.cycle && c.files.length === 0 && !c.filesOmitted && c.inputs.length === 0;
}

/** The deploy inputs that differ between two cycles (`target.env.FAULT`, …); none when either did not record them. */
export function changedInputs(a: CycleRecord, b: CycleRecord): string[] {
  const x = a.deploy.inputs;
  const y = b.deploy.inputs;
  if (!x || !y || x.sha256 === y.sha256) return [];
  const names = [...new Set([...Object.keys(x.fields), ...Object.keys(y.fields)])].sort();
  return names.filter((n) => x.fields[n] !== y.fields[n]);
}
