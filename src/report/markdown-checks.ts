/** Markdown sections about checks: results by priority, before/after, ranked issues, next steps. */
import type { CycleRecord } from '../model/record.js';
import { PRIORITIES, isPassing, type CheckFigures, type CheckResult, type Evidence } from '../model/check-result.js';
import { percentile, sampleValues } from '../model/samples.js';
import { escapeText, fence, formatMs, inlineCode, joinWords, plural, renderTable } from './format.js';
import { passedOnRetry, reportedStatus } from './flaky.js';
import { checkResults, smokeCompleted } from './outcomes.js';
import { verdictText, type CycleSummary } from './summary.js';
import { type CheckChange, type Comparison, type IssueGroup, type RankedIssue } from '../model/report.js';
import type { EvidenceChain } from '../model/changes.js';

export function renderResults(r: CycleRecord): string {
  const out = ['## Results by priority'];
  const checks = checkResults(r).length;
  if (checks > 0) out.push(`${plural(checks, 'check')} in ${formatMs(r.smoke.durationMs)}.`);
  else out.push(r.smoke.results.length > 0 ? 'No smoke check ran; the stage failure the gate counted:' : 'No smoke check ran.');
  for (const priority of PRIORITIES) {
    const mine = r.smoke.results.filter((x) => x.priority === priority);
    if (mine.length === 0) continue;
    // A pass that needed a retry is flaky and not counted as passed, as the gate counts it.
    const flaky = mine.filter(passedOnRetry).length;
    const passed = mine.filter((x) => isPassing(x.status)).length - flaky;
    out.push(`### ${priority} — ${passed} of ${mine.length} passed${flaky > 0 ? `, ${flaky} flaky` : ''}`);
    out.push(
      renderTable(
        ['Check', 'Kind', 'Status', 'Attempts', 'Latency / connect', 'Detail'],
        mine.map((x) => [
          escapeText(x.name),
          x.kind,
          statusCell(x),
          String(x.attempts),
          figuresCell(x.figures),
          detailCell(x),
        ]),
        ['left', 'left', 'left', 'right', 'left', 'left'],
      ),
    );
  }
  return out.join('\n\n');
}

function statusCell(x: CheckResult): string {
  const status = reportedStatus(x);
  return status === 'pass' || status === 'skipped' ? status : `**${status}**`;
}

function figuresCell(f: CheckFigures): string {
  const parts: string[] = [];
  const latency = sampleValues(f, 'latencyMs');
  const connect = sampleValues(f, 'connectMs');
  if (f.latencyMs !== undefined) parts.push(formatMs(f.latencyMs));
  // More than one sample (retries, several messages): the spread thresholds were computed over.
  if (latency.count > 1 || (f.latencyMs === undefined && latency.count > 0)) parts.push(`latency ${spread(latency)}`);
  const shown = [
    f.connectP50Ms !== undefined ? `p50 ${formatMs(f.connectP50Ms)}` : '',
    f.connectP95Ms !== undefined ? `p95 ${formatMs(f.connectP95Ms)}` : '',
    f.connectMaxMs !== undefined ? `max ${formatMs(f.connectMaxMs)}` : '',
  ].filter((p) => p !== '');
  if (connect.count > 1) parts.push(`connect ${spread(connect)}`);
  else if (shown.length > 0) parts.push(`connect ${shown.join(', ')}`);
  else if (f.connectMs !== undefined) parts.push(`connect ${formatMs(f.connectMs)}`);
  return parts.join('; ') || '—';
}

/** `p50 5 ms, p95 9 ms, max 94 ms over 7 samples`, from the stored samples. */
function spread(s: { values: number[]; count: number }): string {
  const sorted = [...s.values].sort((a, b) => a - b);
  if (s.count === 1) return formatMs(sorted[0]);
  return `p50 ${formatMs(percentile(sorted, 50))}, p95 ${formatMs(percentile(sorted, 95))}, max ${formatMs(sorted.at(-1))} over ${plural(s.count, 'sample')}`;
}

function detailCell(x: CheckResult): string {
  const parts: string[] = [];
  if (x.failure) parts.push(inlineCode(x.failure.class), ...evidenceBits(x.failure.evidence));
  const f = x.figures;
  if (f.connections !== undefined && f.connections > 1) parts.push(plural(f.connections, 'connection'));
  if (f.messages !== undefined) parts.push(plural(f.messages, 'message'));
  const closes = Object.entries(f.closeCodes ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  // A single close already named by the evidence adds nothing; a histogram (20 × 1011) does.
  const onlyTheEvidenceClose =
    closes.length === 1 && closes[0]![0] === String(x.failure?.evidence.closeCode) && closes[0]![1] === 1;
  if (closes.length > 0 && !onlyTheEvidenceClose) {
    parts.push(`closes ${closes.map(([code, n]) => `${code} ×${n}`).join(', ')}`);
  }
  if (isPassing(x.status) && x.attempts > 1) parts.push(`passed on attempt ${x.attempts}`);
  return parts.join('; ');
}

function evidenceBits(e: Evidence): string[] {
  const bits: string[] = [];
  if (e.status !== undefined) bits.push(`HTTP ${e.status}`);
  if (e.closeCode !== undefined) bits.push(`close ${e.closeCode}${e.closeReason ? ` ${inlineCode(e.closeReason)}` : ''}`);
  if (e.step !== undefined) bits.push(`step ${e.step}${e.connection !== undefined ? ` of connection ${e.connection}` : ''}`);
  return bits;
}

const CHANGE_GROUPS: { key: Exclude<keyof Comparison, 'previousCycle' | 'changedInputs'>; label: string }[] = [
  { key: 'newlyPassing', label: 'newly passing' },
  { key: 'newlyFailing', label: 'newly failing' },
  { key: 'flaky', label: 'flaky' },
  { key: 'stillFailing', label: 'still failing' },
  { key: 'added', label: 'added' },
  { key: 'removed', label: 'removed' },
  { key: 'unmeasured', label: 'not compared' },
  { key: 'stillPassing', label: 'still passing' },
];

export function renderComparison(s: CycleSummary): string {
  const { previous, comparison } = s;
  if (previous === undefined) {
    return `## Compared with the previous cycle\n\nThere is no previous cycle of ${escapeText(s.record.service)} to compare with.`;
  }
  const out = [`## Compared with cycle ${previous.cycle}`];
  for (const [rec, who] of [[previous, `Cycle ${previous.cycle}`], [s.record, 'This cycle']] as const) {
    if (smokeCompleted(rec)) continue;
    const ran = checkResults(rec).length === 0 ? 'ran no smoke check' : 'did not finish its smoke checks';
    out.push(`${who} ${ran} (${verdictText(rec.verdict)}); checks it did not run are not compared.`);
  }
  if (comparison.changedInputs) {
    out.push(`Deploy inputs changed since cycle ${previous.cycle}: ${comparison.changedInputs.map(inlineCode).join(', ')} (values not shown); checks that flipped are counted as fixed or broken by that change, not as flaky.`);
  }
  out.push(
    CHANGE_GROUPS.filter((g) => comparison[g.key].length > 0 || g.key.startsWith('newly') || g.key === 'stillFailing')
      .map((g) => `${capitalize(g.label)}: ${comparison[g.key].length}`)
      .join(' · ') + '.',
  );
  const rows = CHANGE_GROUPS.flatMap((g) => comparison[g.key].map((c) => changeRow(c, g.label)));
  if (rows.length > 0) {
    out.push(
      renderTable(['Check', 'Priority', 'Change', 'Before', 'After', 'Latency', 'Connect'], rows, [
        'left', 'left', 'left', 'left', 'left', 'right', 'right',
      ]),
    );
  }
  return out.join('\n\n');
}

function changeRow(c: CheckChange, label: string): string[] {
  const delta = (before: number | undefined, after: number | undefined): string =>
    before === undefined || after === undefined ? '' : `${formatMs(before)} → ${formatMs(after)}`;
  return [
    escapeText(c.name),
    c.priority,
    label,
    c.before,
    c.after,
    delta(c.latencyBeforeMs, c.latencyAfterMs),
    delta(c.connectBeforeMs, c.connectAfterMs),
  ];
}

export function renderIssues(s: CycleSummary): string {
  if (s.issues.length === 0) {
    const none = smokeCompleted(s.record) ? 'No remaining failures.' : 'No failure was measured; this cycle did not run all its checks.';
    return `## Remaining issues\n\n${none}`;
  }
  return ['## Remaining issues', ...s.issueGroups.map((group) => renderGroup(group, s.record.cycle))].join('\n\n');
}

/** One root cause: a heading naming it, then every check that showed it, each with its evidence. */
function renderGroup(group: IssueGroup, cycle: number): string {
  const checks = group.checks.length === 1 ? escapeText(group.checks[0]!.check) : plural(group.checks.length, 'check');
  const out = [`### ${group.rank}. [${group.priority}] ${group.class}: ${escapeText(group.cause)} — ${checks}`];
  if (group.checks.length > 1) {
    out.push(
      `${group.checks.length} checks failed with this cause (${escapeText(joinWords(group.checks.map((c) => c.check)))}); failing since cycle ${group.failingSince}.`,
    );
  }
  // A revision tail shared by the group's checks is shown once, when all agree.
  const shared = sharedLogTail(group.checks);
  if (shared) out.push(`${logLabel(group.checks[0]!.evidence)} (the same for all ${group.checks.length} checks):\n\n${fence(shared.join('\n'))}`);
  return [...out, ...group.checks.map((issue) => renderIssue(issue, cycle, shared !== undefined))].join('\n\n');
}

function sharedLogTail(checks: readonly RankedIssue[]): string[] | undefined {
  const first = checks[0]?.evidence.logTail;
  if (checks.length < 2 || !first || first.length === 0) return undefined;
  const text = first.join('\n');
  return checks.every((c) => (c.evidence.logTail ?? []).join('\n') === text) ? first : undefined;
}

function renderIssue(issue: RankedIssue, cycle: number, tailShown = false): string {
  const out = [`#### [${issue.priority}] ${escapeText(issue.check)}`];
  out.push(`Message: ${escapeText(issue.message)}`);
  const facts: string[] = [];
  if (issue.location) facts.push(`Config: ${inlineCode(issue.location)}`);
  facts.push(
    issue.failingSince === cycle && issue.failingCycles === 1
      ? `Failing since: cycle ${cycle} (this cycle)`
      : `Failing since: cycle ${issue.failingSince} (failed in ${plural(issue.failingCycles, 'cycle')})`,
  );
  const e = issue.evidence;
  if (e.status !== undefined) facts.push(`HTTP status: ${e.status}`);
  if (e.closeCode !== undefined) facts.push(`Close code: ${e.closeCode}`);
  if (e.closeReason !== undefined) facts.push(`Close reason: ${e.closeReason === '' ? 'empty' : inlineCode(e.closeReason)}`);
  if (e.step !== undefined) facts.push(`Script step: ${e.step} (0-based)`);
  if (e.connection !== undefined) facts.push(`Connection: ${e.connection} (0-based)`);
  const blocks: string[] = [];
  for (const [label, value] of [['Expected', e.expected], ['Actual', e.actual]] as const) {
    if (value === undefined) continue;
    // Short one-liners read best inline; anything longer goes in a fence so it stays intact.
    if (value.length <= 120 && !value.includes('\n')) facts.push(`${label}: ${inlineCode(value)}`);
    else blocks.push(`${label}:\n\n${fence(value)}`);
  }
  out.push(facts.map((f) => `- ${f}`).join('\n'));
  if (issue.chain && issue.chain.length > 0) out.push(renderChain(issue.chain));
  if (e.excerpt !== undefined && e.excerpt !== '') blocks.push(`Excerpt:\n\n${fence(e.excerpt)}`);
  if (!tailShown && e.logTail !== undefined && e.logTail.length > 0) blocks.push(`${logLabel(e)}:\n\n${fence(e.logTail.join('\n'))}`);
  else if (e.logTail?.length === 0 && e.logScope === 'check') blocks.push(`${logLabel(e)}: none; the revision wrote nothing then.`);
  return [...out, ...blocks].join('\n\n');
}

/** Whose lines a log block holds, as evidence.logScope records it, in plain text (JUnit uses it as is). */
export function logLabelText(e: Evidence): string {
  switch (e.logScope) {
    case 'check':
      return "Log (the revision's lines from this check's own attempts)";
    case 'concurrent':
      return `Log (from this check's attempts, while ${joinWords(e.logSharedWith ?? [])} ran too: a line may be theirs)`;
    case 'revision':
      return "Revision log tail (the revision's latest lines, shared by every failing check, not tied to this one)";
    default:
      return 'Log tail';
  }
}

function logLabel(e: Evidence): string {
  return escapeText(logLabelText(e));
}

export function renderNextSteps(s: CycleSummary): string {
  return ['## Next steps', s.nextSteps.map((step, i) => `${i + 1}. ${escapeText(step)}`).join('\n')].join('\n\n');
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The evidence chain as a numbered list, each link with where it was measured; a frame link quotes
 * its source lines. A missing link is shown as missing, in italics, never left out.
 */
export function renderChain(chain: EvidenceChain): string {
  const items = chain.map((link, i) => {
    const where = `${link.kind} (${escapeText(link.source)})`;
    const what = link.kind === 'frame' && link.file !== undefined && link.line !== undefined && !link.missing
      ? `${inlineCode(`${link.file}:${link.line}`)}, the innermost frame in your source`
      : link.missing ? `_${escapeText(link.text)}_` : escapeText(link.text);
    const excerpt = link.excerpt && link.excerpt.length > 0 ? `\n\n${indent(fence(link.excerpt.join('\n')), '   ')}` : '';
    return `${i + 1}. ${where}: ${what}${excerpt}`;
  });
  return ['Evidence chain (each link as measured):', '', ...items].join('\n');
}

function indent(text: string, by: string): string {
  return text.split('\n').map((l) => (l === '' ? l : `${by}${l}`)).join('\n');
}
