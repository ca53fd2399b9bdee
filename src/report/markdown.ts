/**
 * The cycle report in GitHub-flavoured markdown. A pure function of the records: no clock, no
 * environment, so `report` can re-render any cycle from history. It states measured facts only.
 */
import type { TrafficEntry } from '../model/traffic.js';
import type { CycleRecord } from '../model/record.js';
import { formatThresholdValue, stoppedEarlyText } from '../model/thresholds.js';
import { escapeText, fence, formatCommand, formatMs, formatPercent, inlineCode, renderTable } from './format.js';
import { checkResults } from './outcomes.js';
import { renderComparison, renderIssues, renderNextSteps, renderResults } from './markdown-checks.js';
import { summarizeCycle, type CycleSummary } from './summary.js';
import { describeSnapshot } from '../model/snapshot-text.js';
import { renderChanges, renderRegression } from './changes-markdown.js';

/** `summary` lets a caller rendering several formats summarize once (renderCycleReports). */
export function renderCycleMarkdown(current: CycleRecord, history: CycleRecord[], summary: CycleSummary = summarizeCycle(current, history)): string {
  const sections = [
    renderHeader(summary),
    renderSuiteChange(summary.record),
    renderGate(summary.record),
    renderDeployment(summary),
    summary.record.fix ? renderFix(summary.record.fix) : '',
    // The fixer's own claims sit right under its step; what was measured to change follows.
    summary.record.fix?.notes !== undefined ? renderFixNotes(summary.record.fix) : '',
    renderChanges(summary),
    renderResults(summary.record),
    renderComparison(summary),
    renderIssues(summary),
    renderNextSteps(summary),
  ];
  return `${sections.filter((s) => s !== '').join('\n\n')}\n`;
}

/** Header, suite change and gate: the verdict in brief, for CI step summaries. */
export function renderCycleDigest(summary: CycleSummary): string {
  return [renderHeader(summary), renderSuiteChange(summary.record), renderGate(summary.record)].filter((x) => x !== '').join('\n\n');
}

function renderHeader(s: CycleSummary): string {
  const r = s.record;
  return [
    `# ${escapeText(r.service)} — cycle ${r.cycle}`,
    `**Verdict: ${s.verdictText}** — run ${inlineCode(r.runId)}, started ${escapeText(r.startedAt)}, took ${formatMs(r.durations.totalMs)}.`,
    // Only on the last cycle of a run: how the run ended.
    r.runStatus ? `**Run ended: ${r.runStatus}**${r.runStatusDetail ? ` — ${escapeText(r.runStatusDetail)}.` : '.'}` : '',
    // A change that broke a passing check is named before anything else.
    renderRegression(s),
  ].filter((x) => x !== '').join('\n\n');
}

/** Stated at the top: a suite that changed since the previous cycle may have been weakened by the fix step. */
function renderSuiteChange(r: CycleRecord): string {
  const suite = r.suite;
  if (!suite || suite.changes.length === 0) return '';
  const status = suite.blocked
    ? '**The gate is blocked until a person accepts the new suite with `deploy-loop accept-suite`.**'
    : suite.accepted
      ? 'The new suite was accepted with `deploy-loop accept-suite`.'
      : 'No change weakens the suite; the gate is not blocked.';
  const since = suite.comparedWithCycle !== undefined ? ` since cycle ${suite.comparedWithCycle}` : '';
  const lines = suite.changes.map((c) => `- ${c.weakening ? '**weakened**: ' : ''}${escapeText(c.text)}`);
  return [`## Suite changed${since}`, lines.join('\n'), status].join('\n\n');
}

function renderGate(r: CycleRecord): string {
  const out = ['## Gate'];
  const shown = r.gate.tallies.filter((t) => t.total > 0 || t.threshold !== null);
  if (checkResults(r).length === 0) out.push(`No smoke check ran${stageCause(r)}.`);
  // The loop records a build or deploy failure as a failing P0 result, which the gate counts.
  if (r.smoke.results.length > 0) {
    out.push(
      renderTable(
        ['Priority', 'Checks', 'Passed', 'Pass rate', 'Required', 'Result'],
        shown.map((t) => [
          t.priority,
          String(t.total),
          String(t.passed),
          formatPercent(t.passRate),
          t.threshold === null ? 'not gated' : formatPercent(t.threshold),
          t.total === 0 ? (t.ok ? 'no checks' : 'failed: no checks') : t.threshold === null ? '—' : t.ok ? 'passed' : 'failed',
        ]),
        ['left', 'right', 'right', 'right', 'right', 'left'],
      ),
    );
  }
  if (r.gate.thresholds && r.gate.thresholds.length > 0) {
    out.push(
      renderTable(
        ['Threshold', 'Over', 'Measured', 'Samples', 'Result'],
        r.gate.thresholds.map((t) => [inlineCode(t.expr), escapeText(t.scope), formatThresholdValue(t), String(t.samples), t.passed ? 'passed' : t.samples === 0 ? 'failed: no samples' : 'failed']),
        ['left', 'left', 'right', 'right', 'left'],
      ),
    );
  }
  if (r.smoke.stoppedEarly) out.push(`**Smoke run stopped early:** ${escapeText(stoppedEarlyText(r.smoke.stoppedEarly))}.`);
  if (!r.gate.passed && r.gate.reasons.length > 0) {
    out.push(['The gate failed:', '', ...r.gate.reasons.map((reason) => `- ${escapeText(reason)}`)].join('\n'));
  }
  return out.join('\n\n');
}

function stageCause(r: CycleRecord): string {
  if (r.build.status === 'failed') return ': the build failed';
  if (r.deploy.status === 'failed') return ': the deploy failed';
  if (r.verdict === 'interrupted') return ': the cycle was interrupted first';
  return '';
}

function renderDeployment(s: CycleSummary): string {
  const r = s.record;
  const { build, deploy } = r;
  const facts: string[] = [`Target: ${escapeText(r.target)}`];
  facts.push(`Build: ${escapeText(build.kind)}, ${build.status}, ${formatMs(build.durationMs)}`);
  const snapshot = describeSnapshot(build.snapshot);
  if (snapshot) facts.push(escapeText(snapshot));
  if (deploy.revision) facts.push(`Revision: ${inlineCode(deploy.revision)}`);
  const image = deploy.image ?? build.image;
  if (image) facts.push(`Image: ${inlineCode(image)}`);
  if (build.digest) facts.push(`Digest: ${inlineCode(build.digest)}`);
  if (deploy.status === 'skipped') {
    facts.push('Deploy: skipped');
  } else {
    const start =
      deploy.startMs !== undefined && deploy.startMs !== deploy.durationMs ? ` (revision ready after ${formatMs(deploy.startMs)})` : '';
    facts.push(`Deploy: ${deploy.status}, ${formatMs(deploy.durationMs)}${start}`);
  }
  if (r.smoke.coldStartMs !== undefined) facts.push(`First request after deploy: ${r.smoke.coldStartMs} ms`);
  if (deploy.tagUrl) facts.push(`Tag URL: ${inlineCode(deploy.tagUrl)}`);
  if (r.serviceUrl) facts.push(`Service URL: ${inlineCode(r.serviceUrl)}`);

  const out = ['## Deployment', facts.map((f) => `- ${f}`).join('\n')];
  if (build.status === 'failed') {
    out.push(renderFailedStage('Build failed', build.message, undefined, build.exitCode, build.outputTail, 'Output tail'));
  }
  if (deploy.status === 'failed') {
    out.push(renderFailedStage('Deploy failed', deploy.message, deploy.reason, deploy.exitCode, deploy.logTail ?? [], 'Log tail'));
  }
  out.push(
    '### Traffic',
    renderSplit('Before', r.traffic.before),
    renderSplit('After', r.traffic.after),
    escapeText(s.trafficAction),
  );
  const canary = r.traffic.canary;
  if (canary) out.push(`Canary steps: ${canary.steps.map((c) => `${c.percent}% ${c.passed ? 'passed' : `failed (${escapeText(c.results.failedChecks.join(', '))})`}`).join(' → ')}.`);
  for (const c of canary?.steps ?? []) {
    if (c.stoppedEarly) out.push(`The ${c.percent}% step's smoke run stopped early: ${escapeText(stoppedEarlyText(c.stoppedEarly))}.`);
  }
  return out.join('\n\n');
}

function renderFailedStage(
  title: string,
  message: string | undefined,
  reason: string | undefined,
  exitCode: number | null | undefined,
  tail: string[],
  tailName: string,
): string {
  const facts = [`- Message: ${message ? escapeText(message) : 'none recorded'}`];
  if (reason) facts.push(`- Reason: ${escapeText(reason)}`);
  if (exitCode !== undefined) facts.push(`- Exit code: ${exitCode === null ? 'none' : exitCode}`);
  const out = [`### ${title}`, facts.join('\n')];
  out.push(tail.length > 0 ? `${tailName}:\n\n${fence(tail.join('\n'))}` : `${tailName}: empty.`);
  return out.join('\n\n');
}

function renderSplit(label: string, split: TrafficEntry[]): string {
  if (split.length === 0) return `${label}: no revision served traffic.`;
  const table = renderTable(
    ['Revision', 'Percent', 'Tag'],
    split.map((e) => [inlineCode(e.revision), `${e.percent}%`, e.tag ? inlineCode(e.tag) : '—']),
    ['left', 'right', 'left'],
  );
  return `${label}:\n\n${table}`;
}

function renderFix(fix: NonNullable<CycleRecord['fix']>): string {
  const facts = [
    `- Command: ${inlineCode(formatCommand(fix.command))}`,
    `- Exit code: ${fix.exitCode === null ? 'none' : fix.exitCode}${fix.timedOut ? ' (timed out)' : ''}`,
    `- Duration: ${formatMs(fix.durationMs)}`,
  ];
  const tail = fix.outputTail.length > 0 ? `Output tail:\n\n${fence(fix.outputTail.join('\n'))}` : 'Output tail: empty.';
  return ['## Fix step', `Ran after cycle ${fix.afterCycle}, before this cycle.`, facts.join('\n'), tail].join('\n\n');
}

/**
 * What the fix command wrote to DEPLOY_LOOP_FIX_NOTES: its own account, not a measurement, so it
 * stands in its own section, fenced, after the measured fix step and before the results.
 */
function renderFixNotes(fix: NonNullable<CycleRecord['fix']>): string {
  const notes = fix.notes ?? '';
  const body = notes.trim() === '' ? 'It left its notes file empty.' : fence(notes, 'markdown');
  return [
    '## The fix command says',
    `What the fix command run after cycle ${fix.afterCycle} wrote to DEPLOY_LOOP_FIX_NOTES: its own claims, not measured by deploy-loop (the sections above and below are).`,
    body,
  ].join('\n\n');
}
