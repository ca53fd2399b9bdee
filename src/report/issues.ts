/** The failures of a cycle, ranked for whoever (person or agent) fixes them next. */
import type { CycleRecord } from '../model/record.js';
import { PRIORITIES, type CheckResult } from '../model/check-result.js';
import { earlierCycles, failingOutcomes, isFailing, isStageResult, smokeCompleted, stageStatus } from './outcomes.js';
import { redactDeep, redactText } from '../redact.js';
import type { RankedIssue } from '../model/report.js';
import type { FixIssuesFile } from '../model/fix-issues.js';
import { attributeChanges } from './changes.js';
import { compareCycles } from './compare.js';
import { buildChain } from '../evidence/chain.js';

/**
 * P0 first, then the longest failing (the streak that started earliest), then by name. Build and
 * deploy failures are P0 issues named `build` and `deploy`.
 */
export function rankIssues(current: CycleRecord, history: CycleRecord[]): RankedIssue[] {
  const earlier = earlierCycles(current, history);
  const later = history.filter((h) => h.service === current.service && h.cycle > current.cycle);
  const failing = failingOutcomes(current);
  const own = ownResults(earlier, failing);
  const found = failing.map((result) => {
    const streak = failingStreak(current, earlier, result, own);
    return { result, streak };
  });
  found.sort(
    (a, b) =>
      PRIORITIES.indexOf(a.result.priority) - PRIORITIES.indexOf(b.result.priority) ||
      a.streak.startIndex - b.streak.startIndex ||
      a.result.name.localeCompare(b.result.name),
  );
  return found.map(({ result, streak }, i) => {
    const issue: RankedIssue = {
      rank: i + 1,
      priority: result.priority,
      check: result.name,
      class: result.failure?.class ?? 'check-error',
      message: redactText(result.failure?.message ?? `the check ended with status ${result.status} and recorded no failure`),
      evidence: redactDeep(result.failure?.evidence ?? {}),
      failingSince: streak.since,
      failingCycles: streak.count,
    };
    const location = current.checkLocations[result.name];
    if (location !== undefined) issue.location = location;
    // Later cycles in `history` (a re-rendered report) give the chain its fix link.
    issue.chain = redactDeep(buildChain(issue, current.cycle, later));
    return issue;
  });
}

type Observation = 'failing' | 'not-failing' | 'unmeasured';

interface Streak {
  since: number;
  count: number;
  /** Position in the timeline (history index; history.length for the current cycle). */
  startIndex: number;
}

/**
 * Walks back through the history while the check keeps failing. Cycles that did not measure it
 * (smoke never ran, check skipped, stage skipped) neither extend nor end the streak.
 */
function failingStreak(current: CycleRecord, earlier: CycleRecord[], result: CheckResult, own: Map<string, CheckResult>[]): Streak {
  const streak: Streak = { since: current.cycle, count: 1, startIndex: earlier.length };
  for (let i = earlier.length - 1; i >= 0; i--) {
    const record = earlier[i]!;
    const seen = observe(record, result, own[i]!.get(result.name));
    if (seen === 'not-failing') break;
    if (seen === 'failing') {
      streak.since = record.cycle;
      streak.count++;
      streak.startIndex = i;
    }
  }
  return streak;
}

/**
 * Each earlier cycle's results for the checks failing now (the first of a name, as `find` would):
 * one pass over each cycle's results instead of a search per failing check per cycle, which made
 * ranking cost failing checks × checks × cycles (bench: render).
 */
function ownResults(earlier: CycleRecord[], failing: CheckResult[]): Map<string, CheckResult>[] {
  const names = new Set(failing.map((r) => r.name));
  return earlier.map((record) => {
    const own = new Map<string, CheckResult>();
    for (const r of record.smoke.results) if (names.has(r.name) && !own.has(r.name)) own.set(r.name, r);
    return own;
  });
}

/** `own` is the record's result of the same name, if it has one. */
function observe(record: CycleRecord, result: CheckResult, own: CheckResult | undefined): Observation {
  if (own !== undefined) {
    if (own.status === 'skipped') return 'unmeasured';
    return isFailing(own.status) ? 'failing' : 'not-failing';
  }
  if (isStageResult(result)) {
    const status = stageStatus(record, result.kind);
    if (status === 'skipped') return 'unmeasured';
    return isFailing(status) ? 'failing' : 'not-failing';
  }
  // Absent from a cycle that ran every check: the check did not exist then, so the streak starts after it.
  return smokeCompleted(record) ? 'not-failing' : 'unmeasured';
}

/**
 * The fix issues file's `changes` and `attribution`: what the previous fix changed and what it did
 * to the checks, as the cycle's report states them (the same records, the same functions).
 */
export function fixProvenance(current: CycleRecord, history: readonly CycleRecord[]): Pick<FixIssuesFile, 'changes' | 'attribution'> {
  if (!current.changes) return {};
  const previous = earlierCycles(current, history).at(-1);
  const attribution = attributeChanges(current, previous, compareCycles(current, previous));
  return { changes: current.changes, ...(attribution ? { attribution } : {}) };
}
