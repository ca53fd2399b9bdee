/** The failures of a cycle, ranked for whoever (person or agent) fixes them next. */
import type { CycleRecord } from '../model/record.js';
import { PRIORITIES, type CheckResult } from '../model/check-result.js';
import { earlierCycles, failingOutcomes, isFailing, isStageResult, smokeCompleted, stageStatus } from './outcomes.js';
import { redactDeep, redactText } from '../redact.js';
import type { RankedIssue } from '../model/report.js';
import { buildChain } from '../evidence/chain.js';

/**
 * P0 first, then the longest failing (the streak that started earliest), then by name. Build and
 * deploy failures are P0 issues named `build` and `deploy`.
 */
export function rankIssues(current: CycleRecord, history: CycleRecord[]): RankedIssue[] {
  const earlier = earlierCycles(current, history);
  const later = history.filter((h) => h.service === current.service && h.cycle > current.cycle);
  const found = failingOutcomes(current).map((result) => {
    const streak = failingStreak(current, earlier, result);
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
function failingStreak(current: CycleRecord, earlier: CycleRecord[], result: CheckResult): Streak {
  const streak: Streak = { since: current.cycle, count: 1, startIndex: earlier.length };
  for (let i = earlier.length - 1; i >= 0; i--) {
    const record = earlier[i]!;
    const seen = observe(record, result);
    if (seen === 'not-failing') break;
    if (seen === 'failing') {
      streak.since = record.cycle;
      streak.count++;
      streak.startIndex = i;
    }
  }
  return streak;
}

function observe(record: CycleRecord, result: CheckResult): Observation {
  const own = record.smoke.results.find((r) => r.name === result.name);
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
