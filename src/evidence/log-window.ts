/**
 * Evidence that belongs to its check: each failing check gets the log records the revision wrote
 * during its own attempts, not the revision's last lines pinned on every failure. Pure: results and
 * timestamped lines in, results with evidence out.
 *
 * A record (a whole traceback, see records.ts) belongs to the check whose attempt was running when
 * its first line was captured. A record captured between attempts goes to the nearest attempt
 * within `marginMs` (a line is captured a moment after it is written; a server may log just after
 * it answered; the runner leaves a short gap after a failed check for those lines, see
 * SuiteOptions.settleMs). When two checks ran at the time (concurrency > 1), it cannot be tied to
 * one: each gets it with logScope 'concurrent' and the other names in logSharedWith. A check whose attempts carry no times gets
 * the revision's tail, said to be the revision's (logScope 'revision').
 */
import type { CheckResult, Evidence, LogScope } from '../model/check-result.js';
import type { TimedLine } from '../model/log-line.js';
import { groupRecords, type LogRecord } from './records.js';

export interface AttachLogOptions {
  /** How far before an attempt's start and after its end a record still counts as its own. */
  marginMs?: number;
  /** Lines per check at most; whole records are kept, an oversized one keeps its head and its end. */
  maxLines?: number;
  /** Applied to each line kept (e.g. mapBuildFrames, redaction). */
  mapLine?: (text: string) => string;
}

export const DEFAULT_MARGIN_MS = 250;
export const DEFAULT_MAX_LINES = 40;

interface Window {
  check: number;
  from: number;
  to: number;
}

function windowsOf(results: readonly CheckResult[]): Window[] {
  return results.flatMap((r, check) =>
    (r.attemptLog ?? []).flatMap((a) => (a.startedAt !== undefined && a.endedAt !== undefined ? [{ check, from: a.startedAt, to: a.endedAt }] : [])),
  );
}

/** Which checks a record captured at `at` may belong to. */
function ownersAt(at: number, windows: readonly Window[], margin: number): Set<number> {
  const inside = new Set(windows.filter((w) => at >= w.from && at <= w.to).map((w) => w.check));
  if (inside.size > 0) return inside;
  // Between attempts: the nearest one within the margin (a line logged as a failure ends goes to it,
  // not to the check that starts next); equally near ones share it.
  const near = windows
    .map((w) => ({ check: w.check, gap: at < w.from ? w.from - at : at - w.to }))
    .filter((n) => n.gap <= margin);
  const best = Math.min(...near.map((n) => n.gap));
  return new Set(near.filter((n) => n.gap === best).map((n) => n.check));
}

/** Whole records up to `max` lines; what does not fit is counted, never cut mid-record but for one oversized record. */
function fit(records: readonly LogRecord[], max: number, mapLine: (t: string) => string): string[] {
  const out: string[] = [];
  let left = 0;
  for (const rec of records) {
    const lines = rec.lines.map((l) => mapLine(l.text));
    if (out.length + lines.length <= max) out.push(...lines);
    else if (out.length === 0) {
      // One record longer than the budget: its first lines (Node's message) and last (Python's exception).
      const head = Math.ceil((max - 1) / 2);
      const tail = max - 1 - head;
      out.push(...lines.slice(0, head), `… ${lines.length - head - tail} lines of this record cut …`, ...lines.slice(lines.length - tail));
    } else left += lines.length;
  }
  if (left > 0) out.push(`… ${left} more lines logged during this check's attempts`);
  return out;
}

function withLogs(r: CheckResult, logTail: string[], logScope: LogScope, sharedWith: string[] = []): CheckResult {
  if (!r.failure) return r;
  const evidence: Evidence = { ...r.failure.evidence, logTail, logScope };
  if (sharedWith.length > 0) evidence.logSharedWith = sharedWith;
  return { ...r, failure: { ...r.failure, evidence } };
}

/** Failing results that do not carry their own output already (a command check's, a stage's). */
function wantsLogs(r: CheckResult): boolean {
  return r.failure !== undefined && r.failure.evidence.logTail === undefined && r.status !== 'skipped';
}

/**
 * Each failing result with the log records of its own attempts. `lines` are the revision's output
 * in capture order. Results that already carry a logTail are left as they are.
 */
export function attachCheckLogs(results: readonly CheckResult[], lines: readonly TimedLine[], opts: AttachLogOptions = {}): CheckResult[] {
  const margin = opts.marginMs ?? DEFAULT_MARGIN_MS;
  const max = opts.maxLines ?? DEFAULT_MAX_LINES;
  const mapLine = opts.mapLine ?? ((t: string) => t);
  const windows = windowsOf(results);
  const records = groupRecords(lines);
  const mine = results.map(() => [] as LogRecord[]);
  const shared = results.map(() => new Set<number>());
  for (const rec of records) {
    const owners = ownersAt(rec.at, windows, margin);
    for (const o of owners) {
      mine[o]!.push(rec);
      for (const other of owners) if (other !== o) shared[o]!.add(other);
    }
  }
  const untimed = results.filter((r, i) => wantsLogs(r) && !windows.some((w) => w.check === i));
  const tail = untimed.length > 0 ? revisionTail(records, max, mapLine) : [];
  return results.map((r, i) => {
    if (!wantsLogs(r)) return r;
    if (!windows.some((w) => w.check === i)) return withLogs(r, tail, 'revision');
    const names = [...shared[i]!].map((j) => results[j]!.name);
    return withLogs(r, fit(mine[i]!, max, mapLine), names.length > 0 ? 'concurrent' : 'check', names);
  });
}

/** The last whole records that fit in `max` lines. */
function revisionTail(records: readonly LogRecord[], max: number, mapLine: (t: string) => string): string[] {
  const kept: LogRecord[] = [];
  let n = 0;
  for (let i = records.length - 1; i >= 0; i--) {
    // A record starting indented is the end of a trace whose start was dropped from the buffer.
    if (/^\s/.test(records[i]!.lines[0]?.text ?? '') && kept.length > 0) break;
    const size = records[i]!.lines.length;
    if (n + size > max && kept.length > 0) break;
    kept.unshift(records[i]!);
    n += size;
  }
  return fit(kept, max, mapLine);
}

/**
 * For a target whose logs carry no times: every failing check gets the same tail, said to be the
 * revision's and shared, starting at a record's first line.
 */
export function attachRevisionTail(results: readonly CheckResult[], tail: readonly string[], opts: AttachLogOptions = {}): CheckResult[] {
  if (tail.length === 0) return [...results];
  const lines = tail.map((text) => ({ at: 0, text }));
  const shown = revisionTail(groupRecords(lines), opts.maxLines ?? DEFAULT_MAX_LINES, opts.mapLine ?? ((t) => t));
  return results.map((r) => (wantsLogs(r) ? withLogs(r, shown, 'revision') : r));
}
