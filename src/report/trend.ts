/**
 * The trend across every cycle of a service (`reports/summary.md`): one row per cycle, a mermaid
 * chart of the pass rate per priority, and the life of each issue. A pure function of the records.
 */
import type { CycleRecord } from '../model/record.js';
import { PRIORITIES, isPassing, type Priority } from '../model/check-result.js';
import { passedOnRetry, sameRevision } from './flaky.js';
import { escapeText, formatMs, formatPercent, inlineCode, joinWords, renderTable } from './format.js';
import { failingOutcomes, isFailing, stageOutcome } from './outcomes.js';
import { verdictText } from './summary.js';
import { shortChanged } from './changes.js';

type Observation = 'failing' | 'passing' | 'retry-pass' | 'unmeasured';

export type IssueState = 'failing' | 'fixed' | 'flaky';

export interface IssueLife {
  check: string;
  priority: Priority;
  firstSeen: number;
  failingCycles: number[];
  /** Cycles in which a fix was observed: a plain pass on different code after a failure. */
  fixedIn: number[];
  /** Cycles in which it failed again after a fix. */
  reopenedIn: number[];
  /** Cycles where it passed only on retry, or flipped against a cycle that ran the same code. */
  flakyIn: number[];
  state: IssueState;
}

export function renderTrend(records: readonly CycleRecord[]): string {
  const sorted = [...records].sort((a, b) => a.cycle - b.cycle);
  const service = sorted.at(-1)?.service;
  if (service === undefined) return '# Trend\n\nNo cycle has been recorded yet.\n';
  const mine = sorted.filter((r) => r.service === service);
  const priorities = PRIORITIES.filter((p) => mine.some((r) => r.gate.tallies.some((t) => t.priority === p && t.total > 0)));
  const sections = [
    `# ${escapeText(service)} — trend over ${mine.length} ${mine.length === 1 ? 'cycle' : 'cycles'}`,
    renderCycles(mine, priorities),
    renderChart(mine, priorities),
    renderIssueLives(issueLives(mine)),
  ];
  return `${sections.join('\n\n')}\n`;
}

function renderCycles(records: CycleRecord[], priorities: Priority[]): string {
  const rows = records.map((r) => [
    String(r.cycle),
    r.deploy.revision ? inlineCode(r.deploy.revision) : '—',
    // A stopped run's pass rates count the checks it cut: say so where the rates are read.
    r.smoke.stoppedEarly ? `${verdictText(r.verdict)} (stopped early: ${r.smoke.stoppedEarly.skipped} not run)` : verdictText(r.verdict),
    ...priorities.map((p) => formatPercent(r.gate.tallies.find((t) => t.priority === p)?.passRate)),
    escapeText(shortChanged(r.changes)),
    formatMs(r.durations.buildMs),
    r.deploy.status === 'skipped' ? '—' : formatMs(r.durations.deployMs),
    r.smoke.durationMs > 0 ? formatMs(r.durations.smokeMs) : '—',
  ]);
  const table = renderTable(
    ['Cycle', 'Revision', 'Verdict', ...priorities.map((p) => `${p} pass rate`), 'Changed', 'Build', 'Deploy', 'Smoke'],
    rows,
    ['right', 'left', 'left', ...priorities.map(() => 'right' as const), 'left', 'right', 'right', 'right'],
  );
  return `## Cycles\n\n${table}`;
}

function renderChart(records: CycleRecord[], priorities: Priority[]): string {
  if (priorities.length === 0) return '## Pass rate\n\nNo cycle counted any check.';
  // xychart-beta draws no legend and cannot leave a gap in a line, so each priority gets a chart of
  // its own, titled with it, over only the cycles that counted a check of it: a cycle without one
  // is left out rather than drawn at 0%.
  const charts = priorities.map((p) => {
    const points = records.flatMap((r) => {
      const t = r.gate.tallies.find((x) => x.priority === p);
      return t && t.total > 0 && t.passRate !== null ? [{ cycle: r.cycle, rate: t.passRate }] : [];
    });
    const left = records.filter((r) => !points.some((x) => x.cycle === r.cycle)).map((r) => String(r.cycle));
    const chart = [
      '```mermaid',
      'xychart-beta',
      `  title "${p} pass rate (%)"`,
      `  x-axis "Cycle" [${points.map((x) => `"${x.cycle}"`).join(', ')}]`,
      '  y-axis "Pass rate (%)" 0 --> 100',
      `  line [${points.map((x) => x.rate).join(', ')}]`,
      '```',
    ].join('\n');
    const note = left.length > 0 ? `\n\nLeft out: ${left.length === 1 ? 'cycle' : 'cycles'} ${joinWords(left)}, with no ${p} check.` : '';
    return `### ${p}\n\n${chart}${note}`;
  });
  return `## Pass rate\n\n${charts.join('\n\n')}`;
}

function observe(record: CycleRecord, name: string): { obs: Observation; priority?: Priority } {
  const result =
    record.smoke.results.find((r) => r.name === name) ??
    (name === 'build' || name === 'deploy' ? stageOutcome(record, name) : undefined);
  if (!result) return { obs: 'unmeasured' };
  if (isFailing(result.status)) return { obs: 'failing', priority: result.priority };
  if (isPassing(result.status)) return { obs: passedOnRetry(result) ? 'retry-pass' : 'passing', priority: result.priority };
  return { obs: 'unmeasured', priority: result.priority };
}

/** Every check that ever failed or passed only on retry, followed through the cycles in order. */
export function issueLives(records: readonly CycleRecord[]): IssueLife[] {
  const names = new Set<string>();
  for (const r of records) {
    for (const f of failingOutcomes(r)) names.add(f.name);
    for (const res of r.smoke.results) if (passedOnRetry(res)) names.add(res.name);
  }
  const lives: IssueLife[] = [];
  for (const name of names) {
    const life: IssueLife = { check: name, priority: 'P3', firstSeen: 0, failingCycles: [], fixedIn: [], reopenedIn: [], flakyIn: [], state: 'failing' };
    let last: { obs: 'failing' | 'passing'; record: CycleRecord } | undefined;
    let fixed = false;
    for (const rec of records) {
      const { obs, priority } = observe(rec, name);
      if (priority) life.priority = priority;
      if (obs === 'unmeasured') continue;
      if (life.firstSeen === 0 && obs !== 'passing') life.firstSeen = rec.cycle;
      if (obs === 'retry-pass') {
        life.flakyIn.push(rec.cycle);
        life.state = 'flaky';
        continue;
      }
      // An outcome that flips against a cycle that ran the same code is flakiness, never a fix.
      const flipped = last !== undefined && last.obs !== obs && sameRevision(last.record, rec);
      if (obs === 'failing') {
        life.failingCycles.push(rec.cycle);
        if (flipped) life.flakyIn.push(rec.cycle);
        else if (fixed && last?.obs === 'passing') life.reopenedIn.push(rec.cycle);
        life.state = flipped ? 'flaky' : 'failing';
      } else if (last?.obs === 'failing') {
        if (flipped) {
          life.flakyIn.push(rec.cycle);
          life.state = 'flaky';
        } else {
          life.fixedIn.push(rec.cycle);
          fixed = true;
          life.state = 'fixed';
        }
      }
      last = { obs, record: rec };
    }
    if (life.firstSeen !== 0) lives.push(life);
  }
  return lives.sort(
    (a, b) => PRIORITIES.indexOf(a.priority) - PRIORITIES.indexOf(b.priority) || a.firstSeen - b.firstSeen || a.check.localeCompare(b.check),
  );
}

const STATE_TEXT: Record<IssueState, string> = { failing: 'still failing', fixed: 'fixed', flaky: 'flaky' };

function cycles(list: number[]): string {
  return list.length === 0 ? '—' : list.join(', ');
}

function renderIssueLives(lives: IssueLife[]): string {
  if (lives.length === 0) return '## Issues\n\nNo check has failed in any cycle.';
  const table = renderTable(
    ['Check', 'Priority', 'First seen', 'Cycles failing', 'Fixed in', 'Reopened in', 'Flaky in', 'Now'],
    lives.map((l) => [
      inlineCode(l.check),
      l.priority,
      String(l.firstSeen),
      `${l.failingCycles.length} (${cycles(l.failingCycles)})`,
      cycles(l.fixedIn),
      cycles(l.reopenedIn),
      cycles(l.flakyIn),
      STATE_TEXT[l.state],
    ]),
    ['left', 'left', 'right', 'left', 'left', 'left', 'left', 'left'],
  );
  return `## Issues\n\n${table}`;
}
