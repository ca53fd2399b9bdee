/**
 * The data the HTML report embeds, derived from the same per-cycle JSON report (renderCycleJson) so
 * the numbers cannot disagree with it. Check rows are stored column by column (one character per
 * status, priority and kind; names as indexes into one table, in runs) because 50 cycles of 10,000
 * checks as objects would be over 100 MB; failures keep their full evidence.
 */
import type { CycleRecord } from '../model/record.js';
import { PRIORITIES, type CheckResult, type CheckStatus, type Evidence } from '../model/check-result.js';
import type { Comparison, CycleReportJson } from '../model/report.js';
import type { EvidenceChain } from '../model/changes.js';
import { renderCycleJson } from './json.js';
import { cleanText } from './format.js';
import { lineCounts } from './changes.js';

export const HTML_DATA_VERSION = 1;

export const STATUS_CODES: readonly CheckStatus[] = ['pass', 'degraded', 'fail', 'error', 'skipped'];
export const KIND_CODES: readonly CheckResult['kind'][] = ['http', 'websocket', 'command', 'build', 'deploy'];

export interface HtmlFailure {
  /** Index of the check's row in its cycle. */
  row: number;
  class: string;
  message: string;
  /** Every evidence field the record holds, as recorded (text cleaned of control characters). */
  evidence: Record<string, unknown>;
  location?: string;
  /** Failed attempts before the last one, with their own class and message. */
  attempts: { attempt: number; status: string; durationMs: number; class?: string; message?: string }[];
  /** The issue's evidence chain, as the JSON report's issue carries it (text cleaned of control characters). */
  chain?: EvidenceChain;
}

export interface HtmlCycle {
  cycle: number;
  revision: string | null;
  verdict: CycleReportJson['verdict'];
  verdictText: string;
  startedAt: string;
  finishedAt: string;
  durations: { buildMs: number; deployMs: number; smokeMs: number; totalMs: number };
  /** Stages that did not run are null, so the chart leaves a gap instead of drawing 0. */
  stageMs: { build: number | null; deploy: number | null; smoke: number | null };
  gate: CycleReportJson['gate'];
  /** Pass rate per priority (P0..P3); null where the cycle counted no check of it. */
  passRates: (number | null)[];
  checks: {
    count: number;
    /** Runs of consecutive name indexes, flattened: [firstIndex, length, firstIndex, length, …]. */
    nameRuns: number[];
    /** One character per row: index into STATUS_CODES / PRIORITIES / KIND_CODES. */
    status: string;
    priority: string;
    kind: string;
    /** Duration per row, rounded to whole ms. */
    ms: number[];
    /** Attempts per row, one base-36 character each. */
    attempts: string;
  };
  failures: HtmlFailure[];
  /** What the fix command before this cycle wrote to DEPLOY_LOOP_FIX_NOTES: its claims, shown apart from the measurements. */
  fixNotes?: string;
  /** What changed since the previous cycle (record.changes) and the attribution sentence, as the JSON report has them. */
  changes?: HtmlChanges;
}

export interface HtmlChanges {
  since: number;
  /** The attribution sentence; absent when the cycle has changes but no attribution. */
  text?: string;
  files: { path: string; counts: string }[];
  regressions: string[];
  diff: string;
  diffTruncated: boolean;
}

export interface HtmlReportData {
  version: typeof HTML_DATA_VERSION;
  service: string;
  runId: string;
  /** The run's verdict: how the last cycle's run ended when it says, else the last cycle's verdict. */
  verdict: { cycle: number; passed: boolean; text: string; detail?: string };
  priorities: readonly string[];
  statuses: readonly string[];
  kinds: readonly string[];
  names: string[];
  cycles: HtmlCycle[];
}

/** What the page states about one cycle besides its check rows: the JSON report without its bulk. */
export type CycleFacts = Omit<CycleReportJson, 'record' | 'comparison' | 'issues' | 'issueGroups'> & {
  record: Omit<CycleRecord, 'smoke'> & { smoke: Omit<CycleRecord['smoke'], 'results'> };
  comparison: Pick<Comparison, 'previousCycle' | 'newlyPassing' | 'newlyFailing' | 'stillFailing'>;
};

/** One cycle as the page needs it, derived from its JSON report. */
export interface CycleView {
  facts: CycleFacts;
  /** One entry per smoke result, in record order. */
  names: string[];
  cycle: Omit<HtmlCycle, 'checks'> & { checks: Omit<HtmlCycle['checks'], 'nameRuns'> };
}

/**
 * Views of cycles already in the history, by record. Summarizing a cycle of 10,000 checks takes a
 * few hundred ms (redaction, comparison), and `deploy-loop report` publishes every cycle with all
 * the cycles before it, so without this re-rendering 50 cycles would summarize each of them 50 times.
 * An entry is used only for the same record object with the same earlier records and the same
 * run status (the one field the loop sets on a record after publishing it); the cycle being
 * published is always summarized afresh.
 */
const viewCache = new WeakMap<CycleRecord, { earlier: readonly CycleRecord[]; runStatus: unknown; view: CycleView }>();

/** The views of one service's records (the last record's service), oldest first, each summarized with the cycles before it. */
export function cycleViews(records: readonly CycleRecord[]): CycleView[] {
  const sorted = [...records].sort((a, b) => a.cycle - b.cycle);
  const service = sorted.at(-1)?.service;
  const mine = sorted.filter((r) => r.service === service);
  return mine.map((r, i) => {
    const earlier = mine.slice(0, i);
    const isCurrent = i === mine.length - 1;
    const hit = isCurrent ? undefined : viewCache.get(r);
    if (hit && hit.runStatus === r.runStatus && sameList(hit.earlier, earlier)) return hit.view;
    const view = toView(renderCycleJson(r, earlier));
    viewCache.set(r, { earlier, runStatus: r.runStatus, view });
    return view;
  });
}

function sameList(a: readonly CycleRecord[], b: readonly CycleRecord[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const RUN_STATUS_TEXT: Record<string, string> = {
  passed: 'run passed',
  'max-cycles': 'run ended at max cycles without passing',
  'max-minutes': 'run ended at max minutes without passing',
  stalled: 'run stalled: the same checks kept failing',
  'fix-failed': 'run ended: the fix command failed',
  regression: 'run ended: a change broke a passing check',
  interrupted: 'run interrupted',
};

export function buildHtmlData(views: readonly CycleView[]): HtmlReportData {
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  const indexOf = (name: string): number => {
    let i = nameIndex.get(name);
    if (i === undefined) {
      i = names.length;
      names.push(name);
      nameIndex.set(name, i);
    }
    return i;
  };
  const cycles = views.map((v): HtmlCycle => ({ ...v.cycle, checks: { ...v.cycle.checks, nameRuns: nameRuns(v.names, indexOf) } }));
  const last = views.at(-1)?.facts;
  return {
    version: HTML_DATA_VERSION,
    service: last?.service ?? '',
    runId: last?.runId ?? '',
    verdict: runVerdict(last),
    priorities: PRIORITIES,
    statuses: STATUS_CODES,
    kinds: KIND_CODES,
    names,
    cycles,
  };
}

function nameRuns(names: readonly string[], indexOf: (name: string) => number): number[] {
  const runs: number[] = [];
  for (const name of names) {
    const idx = indexOf(name);
    const n = runs.length;
    if (n > 0 && (runs[n - 2] as number) + (runs[n - 1] as number) === idx) runs[n - 1] = (runs[n - 1] as number) + 1;
    else runs.push(idx, 1);
  }
  return runs;
}

function runVerdict(last: CycleFacts | undefined): HtmlReportData['verdict'] {
  if (!last) return { cycle: 0, passed: false, text: 'no cycle recorded' };
  const status = last.runStatus;
  const text = status ? (RUN_STATUS_TEXT[status] ?? status) : last.verdictText;
  return {
    cycle: last.cycle,
    passed: status ? status === 'passed' : last.verdict === 'passed',
    text,
    ...(last.runStatusDetail ? { detail: last.runStatusDetail } : {}),
  };
}

function toView(rep: CycleReportJson): CycleView {
  const { record: rec, comparison, issues, issueGroups: _groups, ...rest } = rep;
  const chains = new Map(issues.flatMap((i) => (i.chain && reachesSource(i.chain) ? [[i.check, cleanDeep(i.chain) as EvidenceChain] as const] : [])));
  const results = rec.smoke.results;
  const names: string[] = new Array<string>(results.length);
  let status = '';
  let priority = '';
  let kind = '';
  let attempts = '';
  const ms: number[] = new Array<number>(results.length);
  const failures: HtmlFailure[] = [];
  results.forEach((r, row) => {
    names[row] = r.name;
    status += code(STATUS_CODES.indexOf(r.status));
    priority += code(PRIORITIES.indexOf(r.priority));
    kind += code(KIND_CODES.indexOf(r.kind));
    attempts += Math.min(Math.max(r.attempts, 0), 35).toString(36);
    ms[row] = Math.round(r.durationMs);
    if (r.failure) {
      const failure = toFailure(r, row, rec.checkLocations[r.name]);
      const chain = chains.get(r.name);
      failures.push(chain ? { ...failure, chain } : failure);
    }
  });
  const { results: _results, ...smoke } = rec.smoke;
  const facts: CycleFacts = {
    ...rest,
    record: { ...rec, smoke },
    comparison: {
      previousCycle: comparison.previousCycle,
      newlyPassing: comparison.newlyPassing,
      newlyFailing: comparison.newlyFailing,
      stillFailing: comparison.stillFailing,
    },
  };
  return {
    facts,
    names,
    cycle: {
      cycle: rep.cycle,
      revision: rec.deploy.revision ?? null,
      verdict: rep.verdict,
      verdictText: rep.verdictText,
      startedAt: rep.startedAt,
      finishedAt: rep.finishedAt,
      durations: rec.durations,
      // As summary.md's table: a skipped deploy and an empty smoke stage did not run.
      stageMs: {
        build: rec.durations.buildMs,
        deploy: rec.deploy.status === 'skipped' ? null : rec.durations.deployMs,
        smoke: rec.smoke.durationMs > 0 ? rec.durations.smokeMs : null,
      },
      gate: rep.gate,
      passRates: PRIORITIES.map((p) => {
        const t = rep.gate.tallies.find((x) => x.priority === p);
        return t && t.total > 0 ? t.passRate : null;
      }),
      checks: { count: results.length, status, priority, kind, ms, attempts },
      failures,
      ...(rec.changes ? { changes: htmlChanges(rec.changes, rep.attribution) } : {}),
      ...(rec.fix?.notes !== undefined ? { fixNotes: cleanText(rec.fix.notes) } : {}),
    },
  };
}

function htmlChanges(c: NonNullable<CycleRecord['changes']>, a: CycleReportJson['attribution']): HtmlChanges {
  return {
    since: c.sinceCycle,
    ...(a ? { text: a.text } : {}),
    files: c.files.map((f) => ({ path: f.path, counts: `${f.status === 'modified' ? '' : `${f.status}, `}${lineCounts(f)}` })),
    regressions: (a?.regressions ?? []).map((f) => `${f.check} (${f.before} → ${f.after})`),
    diff: cleanText(c.diff),
    diffTruncated: c.diffTruncated,
  };
}

/** A value this renderer does not know (a newer record) is stored as '?' and shown as unknown, never as another value. */
function code(i: number): string {
  return i < 0 ? '?' : String(i);
}

/**
 * The page embeds a chain only when it reaches past the evidence it already shows (a frame in the
 * user's source, or the fix): at 10,000 checks a chain per failure that only restates the failure
 * and its log would outgrow the size budget. The markdown and JSON carry every chain.
 */
function reachesSource(chain: EvidenceChain): boolean {
  return chain.some((l) => (l.kind === 'frame' || l.kind === 'fix') && !l.missing);
}

function toFailure(r: CheckResult, row: number, location: string | undefined): HtmlFailure {
  const failure = r.failure as NonNullable<CheckResult['failure']>;
  const earlier = (r.attemptLog ?? []).filter((a) => a.attempt !== r.attempts || a.status !== r.status);
  return {
    row,
    class: failure.class,
    message: cleanText(failure.message),
    // The frame is shown in the chain; embedding it twice would only cost size.
    evidence: cleanDeep(withoutFrame(failure.evidence)) as Record<string, unknown>,
    ...(location ? { location: withoutFolders(location) } : {}),
    attempts: earlier.map((a) => ({
      attempt: a.attempt,
      status: a.status,
      durationMs: Math.round(a.durationMs),
      ...(a.failure ? { class: a.failure.class, message: cleanText(a.failure.message) } : {}),
    })),
  };
}

/**
 * Records name a check's config as an absolute `file:line`; a page that travels as a CI artifact
 * names only the file (reports carry no absolute paths of the machine that wrote them).
 */
export function withoutFolders(location: string): string {
  return /^(?:[A-Za-z]:)?[\\/]/.test(location) ? location.replace(/^.*[\\/]/, '') : location;
}

function cleanDeep(value: unknown): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (Array.isArray(value)) return value.map(cleanDeep);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cleanDeep(v)]));
  return value;
}

function withoutFrame(e: Evidence): Omit<Evidence, 'frame' | 'frameSearched'> {
  const { frame: _frame, frameSearched: _searched, ...rest } = e;
  return rest;
}
