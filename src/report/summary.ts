/**
 * The derived facts both the markdown and the JSON report state, computed once from the same
 * records so the two can never disagree. Sentences here are plain text; renderers escape them.
 */
import type { CycleRecord, CycleVerdict } from '../model/record.js';
import { compareCycles } from './compare.js';
import { passedOnRetry } from './flaky.js';
import { formatPercent, joinWords, plural } from './format.js';
import { groupIssues } from './groups.js';
import { rankIssues } from './issues.js';
import { earlierCycles } from './outcomes.js';
import { redactDeep } from '../redact.js';
import { attributeChanges } from './changes.js';
import type { Attribution } from '../model/changes.js';
import { type Comparison, type IssueGroup, type RankedIssue } from '../model/report.js';

export interface CycleSummary {
  /** The redacted record the report is about. */
  record: CycleRecord;
  /**
   * Earlier cycles of the same service, oldest first. Only statuses and names are read from them;
   * `previous`, whose figures and evidence are printed, is redacted.
   */
  history: CycleRecord[];
  previous: CycleRecord | undefined;
  verdictText: string;
  trafficAction: string;
  comparison: Comparison;
  issues: RankedIssue[];
  /** The issues grouped by root cause; next steps refer to these ranks. Additive. */
  issueGroups: IssueGroup[];
  nextSteps: string[];
  /** What changed since the previous cycle and which checks flipped with it (report/changes.ts). */
  attribution?: Attribution;
}

const VERDICT_TEXT: Record<CycleVerdict, string> = {
  passed: 'gate passed',
  'gate-failed': 'gate failed',
  'build-failed': 'build failed',
  'deploy-failed': 'deploy failed',
  interrupted: 'interrupted',
  error: 'internal error',
};

export function verdictText(verdict: CycleVerdict): string {
  return VERDICT_TEXT[verdict];
}

export function summarizeCycle(current: CycleRecord, history: readonly CycleRecord[]): CycleSummary {
  const record = redactDeep(current);
  // Redacting all of history on every render made rendering quadratic in cycles (bench: render);
  // records are redacted before they are written, and only the previous cycle's text is printed.
  const earlier = earlierCycles(current, history);
  const last = earlier[earlier.length - 1];
  const previous = last ? redactDeep(last) : undefined;
  const issues = rankIssues(record, earlier);
  const issueGroups = groupIssues(issues);
  const comparison = compareCycles(record, previous);
  const attribution = attributeChanges(record, previous, comparison);
  return {
    record,
    history: earlier,
    previous,
    verdictText: verdictText(record.verdict),
    trafficAction: describeTrafficAction(record, earlier.length === 0),
    comparison,
    issues,
    issueGroups,
    nextSteps: deriveNextSteps(record, issues, issueGroups),
    ...(attribution ? { attribution } : {}),
  };
}

function describeTrafficAction(record: CycleRecord, firstCycle: boolean): string {
  const { traffic } = record;
  const serving = traffic.after.filter((e) => e.percent > 0).map((e) => `${e.revision} (${e.percent}%)`);
  let sentence: string;
  switch (traffic.action) {
    case 'promoted':
      sentence = `Traffic moved 100% to ${record.deploy.revision ?? traffic.after.find((e) => e.percent === 100)?.revision ?? 'the candidate'}.`;
      break;
    case 'kept': {
      const rev = traffic.lastGoodRevision ?? joinWords(serving);
      sentence = traffic.lastGoodRevision
        ? `Traffic kept on ${rev} (last good revision).`
        : `Traffic kept where it was${rev ? `: ${rev}` : ''}.`;
      break;
    }
    case 'none':
      // Stated from the split itself: a record that says `none` while a revision serves is described as kept.
      if (serving.length > 0) {
        sentence = `Traffic kept where it was: ${joinWords(serving)}.`;
        break;
      }
      sentence = `No revision serves traffic yet: ${firstCycle ? 'this is the first cycle' : 'no revision served traffic before this cycle'} and ${notPromotedBecause(record.verdict)}.`;
      break;
  }
  return traffic.note ? `${sentence} ${traffic.note}` : sentence;
}

function notPromotedBecause(verdict: CycleVerdict): string {
  switch (verdict) {
    case 'build-failed':
      return 'the build failed';
    case 'deploy-failed':
      return 'the candidate did not deploy';
    case 'interrupted':
      return 'the cycle was interrupted';
    case 'error':
      return 'the cycle stopped on an internal error';
    default:
      return 'the candidate did not pass the gate';
  }
}

/** Next steps follow mechanically from the verdict, the gate and the ranked issues; nothing else. */
function deriveNextSteps(record: CycleRecord, issues: RankedIssue[], groups: IssueGroup[]): string[] {
  const steps: string[] = [];
  // The report numbers groups, so steps name the groups their checks belong to.
  const groupOf = new Map(groups.flatMap((g) => g.checks.map((c) => [c.rank, g.rank] as const)));
  const refs = (list: RankedIssue[]): string => {
    const ranks = [...new Set(list.map((i) => groupOf.get(i.rank) ?? i.rank))].sort((a, b) => a - b);
    return ranks.length === 1 ? `issue ${ranks[0]}` : `issues ${joinWords(ranks.map(String))}`;
  };

  const isStage = (i: RankedIssue): boolean => i.class === 'build-failure' || i.class === 'deploy-failure';
  for (const stage of ['build', 'deploy'] as const) {
    const stageIssues = issues.filter((i) => i.class === `${stage}-failure`);
    if (stageIssues.length === 0) continue;
    const consequence = stage === 'build' ? 'nothing was deployed or checked' : 'no smoke check ran against it';
    steps.push(`Fix the ${stage} failure (${refs(stageIssues)}); ${consequence}.`);
  }
  for (const tally of record.gate.tallies) {
    const mine = issues.filter((i) => i.priority === tally.priority);
    const rate = formatPercent(tally.passRate);
    if (!tally.ok) {
      // A priority failing only because of a build or deploy failure is covered by the step above.
      if (mine.length > 0 && mine.every(isStage)) continue;
      const needs = `the gate needs ${tally.priority} at ${formatPercent(tally.threshold)} (now ${rate})`;
      if (mine.length > 0) {
        steps.push(`Fix the ${tally.priority} issues above (${refs(mine)}); ${needs}.`);
        continue;
      }
      const flaky = record.smoke.results.filter((r) => r.priority === tally.priority && passedOnRetry(r));
      if (flaky.length > 0) {
        steps.push(
          `${tally.priority} counts ${plural(flaky.length, 'flaky check')} (${joinWords(flaky.map((r) => r.name))}) as not passed: they passed only on retry; make them pass first time, or set gate.allowFlaky; ${needs}.`,
        );
        continue;
      }
      // No failure measured: the shortfall is checks that were skipped (an interrupted cycle, say).
      const skipped = record.smoke.results.filter((r) => r.priority === tally.priority && r.status === 'skipped');
      steps.push(
        skipped.length > 0
          ? `${tally.priority} counts ${plural(skipped.length, 'skipped check')} (${joinWords(skipped.map((r) => r.name))}) as not passed; ${needs}.`
          : `Make ${tally.priority} pass; ${needs}.`,
      );
    } else if (mine.length > 0) {
      const standing =
        tally.threshold === null
          ? `${tally.priority} is not gated`
          : `the gate allows it (needs ${formatPercent(tally.threshold)}, now ${rate})`;
      steps.push(`${tally.priority} has ${plural(mine.length, 'failing check')} (${refs(mine)}); ${standing}.`);
    }
  }
  const stop = record.smoke.stoppedEarly;
  if (stop) {
    steps.push(
      `The smoke run stopped early at abortOnFail threshold ${stop.expr} (${stop.scope}), so ${plural(stop.skipped, 'check')} did not run; they run again in the next cycle.`,
    );
  }
  if (record.verdict === 'interrupted') steps.push('The cycle was interrupted before a verdict; run it again to get one.');
  if (record.verdict === 'error') steps.push('The cycle stopped on an internal error; the run log has the cause.');
  if (steps.length === 0 && !record.gate.passed) {
    steps.push(`Make the gate pass: ${record.gate.reasons.join('; ') || 'it recorded no reason'}.`);
  }
  if (steps.length === 0) steps.push('None: the gate passed and no check failed.');
  return steps;
}
