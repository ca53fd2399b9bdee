/**
 * DEPLOY_LOOP_PROMPT_MD: a self-contained markdown brief for a coding agent run as the fix command.
 * It holds what the issues file holds (the ranked issues, their evidence chains with the source
 * lines they end at), what earlier fixes of this run changed and what each did to the checks (from
 * the records), the gate to meet, and the rules. Every part is redacted before it is measured
 * against the budget, and parts that do not fit are left out whole and counted, so a cut never
 * splits a secret or a fence. Pure.
 */
import type { CycleRecord } from '../model/record.js';
import type { FixIssuesFile } from '../model/fix-issues.js';
import type { RankedIssue } from '../model/report.js';
import { changeSubjects } from '../evidence/chain.js';
import { fence, inlineCode, plural } from '../report/format.js';
import { redactText, truncateRedacted } from '../redact.js';

/**
 * The prompt's size budget in characters (about 6,000 tokens): enough for the top issues with their
 * chains and excerpts, small enough to leave an agent's context for the code itself. Issues that do
 * not fit are named as left out; the issues file has them all.
 */
export const PROMPT_BUDGET = 24_000;
/** Log lines quoted per issue: the first record of the window, where the chain's log link comes from, usually fits. */
const LOG_LINES = 12;

export interface PromptInput {
  file: FixIssuesFile;
  /** The cycle the issues come from. */
  record: CycleRecord;
  /** Earlier records (any run); only this run's fixes are described. */
  history: readonly CycleRecord[];
  /** The build context as the fix command's working directory sees it (relative, `.` for itself). */
  context: string;
  /** The other files the fix command is given, relative to its working directory. */
  paths: { issues: string; notes: string; reportMd: string };
  budget?: number;
  secrets?: readonly string[];
}

const isFailing = (s: string): boolean => s === 'fail' || s === 'error';

function header(input: PromptInput): string {
  const { record, file } = input;
  const n = file.issues.length;
  return [
    `# Fix brief: ${record.service}, after cycle ${record.cycle}`,
    `deploy-loop built, deployed and smoke-tested ${inlineCode(record.service)}; cycle ${record.cycle} ended with **${record.verdict}** and ${plural(n, 'remaining issue')}. Your job: change the service's source so the next cycle passes the gate. Everything below was measured by deploy-loop unless it says otherwise.`,
    `- Build context (the only folder to edit): ${inlineCode(input.context)}`,
    `- All issues with full evidence (JSON): ${inlineCode(input.paths.issues)}; the cycle report: ${inlineCode(input.paths.reportMd)}`,
    `- Your notes file: ${inlineCode(input.paths.notes)} (DEPLOY_LOOP_FIX_NOTES)`,
  ].join('\n');
}

function rules(input: PromptInput): string {
  return [
    '## Rules',
    `1. Edit only files inside the build context ${inlineCode(input.context)}. deploy-loop records every file that changes there between cycles, with a diff, and ties each check that flips to that change.`,
    '2. Do not weaken the smoke suite or the gate (the checks, their expectations, priorities, thresholds). Both are fingerprinted: a weakening change blocks the gate until a person accepts it with `deploy-loop accept-suite`, so it cannot make a cycle pass.',
    '3. Fix the cause the evidence chain points at, not the check that reports it.',
    `4. Before you exit, write what you changed and why to ${inlineCode(input.paths.notes)}. The next report shows it under "The fix command says", apart from what was measured; it is your claim, the next cycle's measurements are the facts.`,
    '5. Exit 0 when you are done; a non-zero exit is recorded as a failed fix step.',
  ].join('\n');
}

function gate(record: CycleRecord): string {
  const out = ['## The gate to meet'];
  const lines = record.gate.tallies
    .filter((t) => t.threshold !== null)
    .map((t) => `- ${t.priority}: at least ${t.threshold}% of ${t.priority} checks pass (cycle ${record.cycle}: ${t.passed} of ${t.total}${t.ok ? ', met' : ', not met'})`);
  for (const t of record.gate.thresholds ?? []) {
    lines.push(`- ${inlineCode(t.expr)} over ${t.scope} (cycle ${record.cycle}: ${t.passed ? 'met' : 'not met'})`);
  }
  out.push(lines.length > 0 ? lines.join('\n') : 'No priority is gated.');
  if (!record.gate.passed && record.gate.reasons.length > 0) out.push(['Why it failed:', ...record.gate.reasons.map((r) => `- ${r}`)].join('\n'));
  return out.join('\n\n');
}

function issuePart(issue: RankedIssue): string {
  const out = [`### ${issue.rank}. [${issue.priority}] ${issue.check}: ${issue.class}`];
  const since = issue.failingCycles > 1 ? `failing since cycle ${issue.failingSince} (${plural(issue.failingCycles, 'cycle')})` : `failing since cycle ${issue.failingSince}`;
  out.push(`Message: ${inlineCode(issue.message)}; ${since}${issue.location ? `; check defined at ${inlineCode(issue.location)}` : ''}.`);
  const chain = issue.chain ?? [];
  if (chain.length > 0) {
    out.push(
      'Evidence chain:',
      chain
        .map((link, i) => {
          const text = link.kind === 'frame' && link.file !== undefined && link.line !== undefined ? `${inlineCode(`${link.file}:${link.line}`)} (innermost frame in your source)` : inlineCode(link.text);
          const excerpt = link.excerpt && link.excerpt.length > 0 ? `\n\n${fence(link.excerpt.join('\n')).replace(/^/gm, '   ')}` : '';
          return `${i + 1}. ${link.kind}, from ${link.source}: ${text}${link.missing ? ' (missing)' : ''}${excerpt}`;
        })
        .join('\n'),
    );
  }
  const tail = issue.evidence.logTail ?? [];
  const shown = tail.slice(0, LOG_LINES);
  if (shown.length > 0) out.push(`The first ${plural(shown.length, 'line')} of its log window (of ${tail.length}; all are in the issues file):\n\n${fence(shown.join('\n'))}`);
  return out.join('\n\n');
}

/** What each earlier fix of this run changed and which checks flipped in the cycle after it. */
function earlierFixes(input: PromptInput): string | undefined {
  const run = [...input.history, input.record].filter((r) => r.runId === input.record.runId && r.service === input.record.service);
  const byCycle = new Map(run.map((r) => [r.cycle, r]));
  const items: string[] = [];
  for (const rec of run.sort((a, b) => a.cycle - b.cycle)) {
    if (!rec.fix) continue;
    const before = byCycle.get(rec.fix.afterCycle);
    const changed = rec.changes ? changeSubjects(rec.changes) : undefined;
    const what = changed === undefined ? 'no change list recorded' : changed.length === 0 ? 'nothing in the build context, deploy inputs or suite' : changed.join(', ');
    const flips = before ? flipped(before, rec) : [];
    const did = flips.length > 0 ? flips.join(', ') : before ? 'no check changed outcome' : 'no earlier record to compare with';
    items.push(`- Fix after cycle ${rec.fix.afterCycle} (exit ${rec.fix.exitCode ?? 'none'}${rec.fix.timedOut ? ', timed out' : ''}): changed ${what}. In cycle ${rec.cycle}: ${did}.`);
  }
  if (items.length === 0) return undefined;
  return ['## Earlier fixes in this run (measured)', items.join('\n')].join('\n\n');
}

function flipped(before: CycleRecord, after: CycleRecord): string[] {
  const was = new Map(before.smoke.results.map((r) => [r.name, r.status]));
  return after.smoke.results.flatMap((r) => {
    const old = was.get(r.name);
    if (old === undefined || old === r.status || old === 'skipped' || r.status === 'skipped') return [];
    const mark = isFailing(old) && !isFailing(r.status) ? ' (fixed)' : !isFailing(old) && isFailing(r.status) ? ' (**broken**)' : '';
    return [`${r.name} ${old} → ${r.status}${mark}`];
  });
}

/** The brief, redacted, at most `budget` characters. */
export function renderFixPrompt(input: PromptInput): string {
  const budget = input.budget ?? PROMPT_BUDGET;
  const secrets = input.secrets ?? [];
  const r = (s: string) => redactText(s, secrets);
  const fixed = [header(input), rules(input), gate(input.record)].map(r);
  const history = earlierFixes(input);
  const optional = history ? [r(history)] : [];
  const issues = input.file.issues.map((i) => r(issuePart(i)));
  const parts = [...fixed];
  let used = fixed.join('\n\n').length + optional.join('\n\n').length + 200;
  parts.push(issues.length > 0 ? '## Remaining issues, most important first' : '## Remaining issues\n\nNone: the failure is in the gate (see above).');
  let left = 0;
  for (const part of issues) {
    if (used + part.length + 2 > budget && parts.length > fixed.length + 1) {
      left++;
      continue;
    }
    parts.push(part);
    used += part.length + 2;
  }
  if (left > 0) parts.push(`${plural(left, 'more issue')} left out to keep this brief within ${budget} characters; all are in ${inlineCode(input.paths.issues)}.`);
  parts.push(...optional);
  const full = `${parts.join('\n\n')}\n`;
  if (full.length <= budget) return full;
  // One issue larger than the budget on its own: cut after redaction, never before; the note fits in the budget.
  return truncateRedacted(full, budget - 40, secrets, { note: true });
}
