/**
 * What a cycle measured, in one shape: the smoke results plus the build and deploy stages seen as
 * P0 checks. A build or deploy failure is a P0 issue like any failing check, so comparison,
 * ranking and JUnit treat all of them alike.
 */
import type { CycleRecord } from '../model/record.js';
import type { CheckResult, CheckStatus, Evidence } from '../model/check-result.js';

export type Stage = 'build' | 'deploy';
export const STAGES: readonly Stage[] = ['build', 'deploy'];

export function isFailing(status: CheckStatus): boolean {
  return status === 'fail' || status === 'error';
}

export function isStageResult(result: CheckResult): result is CheckResult & { kind: Stage } {
  return result.kind === 'build' || result.kind === 'deploy';
}

/** The results of smoke checks proper, without build/deploy failures the loop records as results. */
export function checkResults(record: CycleRecord): CheckResult[] {
  return record.smoke.results.filter((r) => !isStageResult(r));
}

/**
 * Whether the smoke stage ran to the end. A cycle whose build or deploy failed, or that was
 * interrupted, did not reach every check; a check it has no result for was unmeasured there, not removed.
 */
export function smokeCompleted(record: CycleRecord): boolean {
  return record.verdict === 'passed' || record.verdict === 'gate-failed';
}

export function stageStatus(record: CycleRecord, stage: Stage): CheckStatus {
  const status = stage === 'build' ? record.build.status : record.deploy.status;
  if (status === 'ok') return 'pass';
  return status === 'failed' ? 'fail' : 'skipped';
}

/**
 * A stage as a P0 result: the one the loop recorded among the smoke results (it records failures
 * that way), or else one derived from the build or deploy record, named `build` or `deploy`.
 */
export function stageOutcome(record: CycleRecord, stage: Stage): CheckResult {
  return record.smoke.results.find((r) => r.kind === stage) ?? stageResult(record, stage);
}

/** Derived stage results for stages not already among the smoke results, so none counts twice. */
export function stageResults(record: CycleRecord): CheckResult[] {
  return STAGES.filter((stage) => !record.smoke.results.some((r) => r.kind === stage)).map((stage) =>
    stageResult(record, stage),
  );
}

function stageResult(record: CycleRecord, stage: Stage): CheckResult {
  const status = stageStatus(record, stage);
  const base = {
    name: stage,
    kind: stage,
    priority: 'P0',
    status,
    durationMs: stage === 'build' ? record.build.durationMs : record.deploy.durationMs,
    attempts: status === 'skipped' ? 0 : 1,
    figures: {},
  } satisfies CheckResult;
  if (status !== 'fail') return base;
  if (stage === 'build') {
    const b = record.build;
    return {
      ...base,
      failure: {
        class: 'build-failure',
        message: b.message ?? 'the build failed',
        evidence: exitEvidence(b.exitCode, b.outputTail),
      },
    };
  }
  const d = record.deploy;
  const what = d.message ?? (d.revision ? `revision ${d.revision} did not become ready` : 'the deploy failed');
  return {
    ...base,
    failure: {
      class: 'deploy-failure',
      message: d.reason ? `${what} (reason: ${d.reason})` : what,
      evidence: exitEvidence(d.exitCode, d.logTail ?? []),
    },
  };
}

function exitEvidence(exitCode: number | null | undefined, logTail: string[]): Evidence {
  const evidence: Evidence = {};
  if (exitCode !== undefined) evidence.actual = exitCode === null ? 'no exit code' : `exit code ${exitCode}`;
  if (logTail.length > 0) evidence.logTail = logTail;
  return evidence;
}

/** Smoke results followed by the stage results that failed: everything a report lists as a check. */
export function failingOutcomes(record: CycleRecord): CheckResult[] {
  return [...stageResults(record).filter((r) => isFailing(r.status)), ...record.smoke.results.filter((r) => isFailing(r.status))];
}

/** Whether two records are the same cycle (a caller may pass the current cycle inside history). */
export function sameCycle(a: CycleRecord, b: CycleRecord): boolean {
  return a.runId === b.runId && a.cycle === b.cycle && a.startedAt === b.startedAt;
}

/** Earlier cycles of the same service, oldest first, without the current one. */
export function earlierCycles(current: CycleRecord, history: readonly CycleRecord[]): CycleRecord[] {
  return history.filter((h) => h.service === current.service && !sameCycle(h, current));
}
