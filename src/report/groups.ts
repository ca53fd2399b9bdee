/**
 * Ranked issues grouped by root cause: five checks closed with the same 1011 reason are one thing to
 * fix, with five pieces of evidence. Pure: derived from the ranked issues alone.
 */
import { PRIORITIES } from '../model/check-result.js';
import { type RankedIssue } from '../model/report.js';
import type { IssueGroup } from '../model/report.js';

export function groupIssues(ranked: readonly RankedIssue[]): IssueGroup[] {
  const byKey = new Map<string, RankedIssue[]>();
  for (const issue of ranked) {
    const key = groupKey(issue);
    const list = byKey.get(key);
    if (list) list.push(issue);
    else byKey.set(key, [issue]);
  }
  const groups = [...byKey].map(([key, checks]) => {
    const sorted = [...checks].sort((a, b) => a.rank - b.rank);
    const first = sorted[0]!;
    return {
      rank: 0,
      priority: sorted.map((c) => c.priority).sort((a, b) => PRIORITIES.indexOf(a) - PRIORITIES.indexOf(b))[0]!,
      class: first.class,
      key,
      cause: describeCause(first, false),
      failingSince: Math.min(...sorted.map((c) => c.failingSince)),
      failingCycles: Math.max(...sorted.map((c) => c.failingCycles)),
      checks: sorted,
    } satisfies IssueGroup;
  });
  groups.sort(
    (a, b) =>
      PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority) ||
      a.failingSince - b.failingSince ||
      a.checks[0]!.rank - b.checks[0]!.rank,
  );
  return groups.map((g, i) => ({ ...g, rank: i + 1 }));
}

/** Failure class plus the normalized cause: checks with equal keys share a root cause. */
export function groupKey(issue: RankedIssue): string {
  return `${issue.class}: ${describeCause(issue, true)}`;
}

function describeCause(issue: RankedIssue, normalized: boolean): string {
  const norm = (text: string): string => (normalized ? normalizeText(text) : text);
  const e = issue.evidence;
  if (issue.class === 'build-failure') return 'build failed';
  if (issue.class === 'deploy-failure') return 'deploy failed';
  // The figure against the limit: `latency 1537 ms over 1000 ms`, not the body that came with it.
  if ((issue.class === 'latency' || issue.class === 'connect-time') && e.actual !== undefined && e.expected !== undefined) {
    const what = issue.class === 'latency' ? 'latency' : 'connect time';
    return norm(`${what} ${e.actual} over ${e.expected.replace(/^<=\s*/, '')}`);
  }
  if (e.closeCode !== undefined) return `close ${e.closeCode} ${JSON.stringify(norm(e.closeReason ?? ''))}`;
  if (e.status !== undefined) {
    const line = (e.excerpt ?? '').split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
    return `HTTP ${e.status} ${JSON.stringify(norm(line))}`;
  }
  return norm(issue.message);
}

/** URLs, ids (UUIDs, long hex) and numbers vary between checks and runs; the cause does not. */
export function normalizeText(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>)]+/gi, '<url>')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, '<id>')
    .replace(/\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{8,}\b/gi, '<id>')
    .replace(/\d+(\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim();
}
