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
 * Whether two cycles ran the same code: the same revision, or the same image digest. Local
 * revisions get a new name per cycle, so the digest is what tells a rerun apart from a change.
 */
export function sameCode(a: CycleRecord, b: CycleRecord): boolean {
  if (a.deploy.revision !== undefined && a.deploy.revision === b.deploy.revision) return true;
  return a.build.digest !== undefined && a.build.digest === b.build.digest;
}
