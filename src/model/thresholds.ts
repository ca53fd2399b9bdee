/**
 * Figure thresholds for the gate, in a small language close to k6's. Pure: text in, a parse or an
 * error out; results in, measured values out.
 *
 *   expr     := func '(' metric ')' op number [unit]
 *   func     := p50 | p90 | p95 | p99 | min | max | avg   over latency | connectMs   (milliseconds)
 *             | rate                                     over fail | pass          (a fraction 0..1)
 *             | count                                    over fail | pass          (how many results)
 *   op       := < | <= | > | >= | == | !=
 *   unit     := ms | s   for times;   %  for rates (5% == 0.05)
 *
 * e.g. `p95(latency) < 500ms`, `max(connectMs) < 1s`, `rate(fail) == 0`, `rate(pass) >= 99%`.
 * A threshold with zero samples fails (fail closed): no measurement cannot show a limit holds.
 * A skipped result is not a sample; an error counts as a failure.
 *
 * Time functions run over every sample of every result in scope (figures.samples): `connectMs` is
 * each connection's connect time on each attempt, `latency` each http attempt's response time and
 * each websocket message's time from the send before it. `rate` and `count` count results.
 */
import { isPassing, type CheckResult, type Priority } from './check-result.js';
import type { StoppedEarly, ThresholdResult } from './record.js';
import { percentile, sampleValues } from './samples.js';

export const THRESHOLD_FUNCTIONS = ['p50', 'p90', 'p95', 'p99', 'min', 'max', 'avg', 'rate', 'count'] as const;
type Fn = (typeof THRESHOLD_FUNCTIONS)[number];
const OPS = ['<=', '>=', '==', '!=', '<', '>'] as const;
type Op = (typeof OPS)[number];
type Metric = 'latency' | 'connectMs' | 'fail' | 'pass';

export interface ParsedThreshold {
  fn: Fn;
  metric: Metric;
  op: Op;
  /** In milliseconds for times, a fraction for rates, a count for counts. */
  value: number;
}

export type ThresholdParse = { ok: true; threshold: ParsedThreshold } | { ok: false; error: string };

export interface ThresholdConfig {
  expr: string;
  /** Only these checks (a `command` check's name covers all its test cases). */
  checks?: string[];
  /** Only checks of this priority. */
  priority?: Priority;
  /** Evaluated after each finished check as well: the first failure stops the smoke run (see firstAbortingThreshold). */
  abortOnFail?: boolean;
}

export type { ThresholdResult } from './record.js';

const SHAPE = /^\s*([a-z0-9]+)\s*\(\s*([A-Za-z]+)\s*\)\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*(ms|s|%)?\s*$/;
const HELP = 'expected e.g. "p95(latency) < 500ms", "max(connectMs) < 1s", "rate(fail) == 0" or "count(fail) <= 2"';

export function parseThreshold(expr: string): ThresholdParse {
  const m = SHAPE.exec(expr);
  if (!m) return { ok: false, error: `cannot read threshold "${expr}": ${HELP}` };
  const [, fnText = '', metricText = '', op = '<', num = '0', unit] = m;
  if (!(THRESHOLD_FUNCTIONS as readonly string[]).includes(fnText)) {
    return { ok: false, error: `unknown function "${fnText}" in "${expr}": use ${THRESHOLD_FUNCTIONS.join(', ')}` };
  }
  const fn = fnText as Fn;
  let value = Number(num);
  if (fn === 'rate' || fn === 'count') {
    if (metricText !== 'fail' && metricText !== 'pass') return { ok: false, error: `${fn}() takes fail or pass, not "${metricText}" (in "${expr}")` };
    if (fn === 'rate') {
      if (unit === 'ms' || unit === 's') return { ok: false, error: `rate() is a fraction, not a time: write 0.05 or 5% (in "${expr}")` };
      if (unit === '%') value /= 100;
      if (value < 0 || value > 1) return { ok: false, error: `rate() is between 0 and 1 (0% and 100%); got ${num}${unit ?? ''} in "${expr}"` };
    } else if (unit) return { ok: false, error: `count() is a plain number, without "${unit}" (in "${expr}")` };
  } else {
    if (metricText !== 'latency' && metricText !== 'connectMs') return { ok: false, error: `${fn}() takes latency or connectMs, not "${metricText}" (in "${expr}")` };
    if (unit === '%') return { ok: false, error: `${fn}(${metricText}) is a time: write ms or s, not % (in "${expr}")` };
    if (unit === 's') value *= 1000;
  }
  return { ok: true, threshold: { fn, metric: metricText as Metric, op: op as Op, value } };
}

export function compareThreshold(a: number, op: Op, b: number): boolean {
  switch (op) {
    case '<': return a < b;
    case '<=': return a <= b;
    case '>': return a > b;
    case '>=': return a >= b;
    case '==': return a === b;
    case '!=': return a !== b;
  }
}

/** Which results a threshold looks at: its priority, its checks (a command check's name covers its cases), never skipped ones. */
export function inThresholdScope(r: CheckResult, t: ThresholdConfig): boolean {
  if (t.priority && r.priority !== t.priority) return false;
  if (t.checks && !t.checks.some((n) => r.name === n || r.name.startsWith(`${n} › `))) return false;
  return r.status !== 'skipped';
}

function scopeText(t: ThresholdConfig): string {
  const parts: string[] = [];
  if (t.priority) parts.push(`${t.priority} checks`);
  if (t.checks) parts.push(`checks ${t.checks.join(', ')}`);
  return parts.length > 0 ? parts.join(' among ') : 'all checks';
}

/** The measured value and its sample count, before comparison. */
export function measure(p: ParsedThreshold, results: readonly CheckResult[]): { value: number | null; samples: number } {
  if (p.fn === 'rate' || p.fn === 'count') {
    const n = results.filter((r) => (p.metric === 'pass' ? isPassing(r.status) : !isPassing(r.status))).length;
    if (results.length === 0) return { value: null, samples: 0 };
    return { value: p.fn === 'count' ? n : n / results.length, samples: results.length };
  }
  const key = p.metric === 'latency' ? 'latencyMs' : 'connectMs';
  const sets = results.map((r) => sampleValues(r.figures, key));
  const xs = sets.flatMap((s) => s.values).sort((a, b) => a - b);
  const count = sets.reduce((n, s) => n + s.count, 0);
  if (xs.length === 0) return { value: null, samples: 0 };
  const pick: Record<Exclude<Fn, 'rate' | 'count'>, () => number> = {
    p50: () => percentile(xs, 50) ?? NaN,
    p90: () => percentile(xs, 90) ?? NaN,
    p95: () => percentile(xs, 95) ?? NaN,
    p99: () => percentile(xs, 99) ?? NaN,
    min: () => xs[0] ?? NaN,
    max: () => xs[xs.length - 1] ?? NaN,
    avg: () => Math.round((xs.reduce((a, b) => a + b, 0) / xs.length) * 10) / 10,
  };
  return { value: pick[p.fn](), samples: count };
}

export function evaluateThreshold(results: readonly CheckResult[], t: ThresholdConfig): ThresholdResult {
  const scope = scopeText(t);
  const parsed = parseThreshold(t.expr);
  // The schema rejects unreadable expressions; one that slips through fails closed.
  if (!parsed.ok) return { expr: t.expr, scope, value: null, passed: false, samples: 0 };
  const { value, samples } = measure(parsed.threshold, results.filter((r) => inThresholdScope(r, t)));
  const passed = value !== null && samples > 0 && compareThreshold(value, parsed.threshold.op, parsed.threshold.value);
  return { expr: t.expr, scope, value, passed, samples };
}

export function evaluateThresholds(results: readonly CheckResult[], thresholds: readonly ThresholdConfig[]): ThresholdResult[] {
  return thresholds.map((t) => evaluateThreshold(results, t));
}

/**
 * The first `abortOnFail` threshold that fails on the results so far, as k6 evaluates its thresholds
 * during a test. Zero samples so far is not yet a failure: the run has not measured that figure.
 */
export function firstAbortingThreshold(soFar: readonly CheckResult[], thresholds: readonly ThresholdConfig[]): ThresholdResult | undefined {
  for (const t of thresholds) {
    if (!t.abortOnFail) continue;
    const r = evaluateThreshold(soFar, t);
    if (r.samples > 0 && !r.passed) return r;
  }
  return undefined;
}

/** The gate's reason for a failed threshold, with its measured value. */
export function thresholdReason(r: ThresholdResult): string {
  if (r.samples === 0) return `threshold ${r.expr} (${r.scope}) had no samples: nothing measured cannot pass`;
  return `threshold ${r.expr} (${r.scope}) failed: measured ${formatThresholdValue(r)}`;
}

/** One sentence for the gate's reasons and the report: which threshold stopped the smoke run, and when. */
export function stoppedEarlyText(s: StoppedEarly): string {
  const results = `${s.afterResults} result${s.afterResults === 1 ? '' : 's'}`;
  const skipped = `${s.skipped} check${s.skipped === 1 ? '' : 's'} did not finish`;
  return `abortOnFail threshold ${s.expr} (${s.scope}) failed after ${results}, measured ${formatThresholdValue(s)}: the smoke run stopped and ${skipped}`;
}

/** ms for times, percent for rates, a number for counts. */
export function formatThresholdValue(r: Pick<ThresholdResult, 'expr' | 'value'>): string {
  if (r.value === null) return 'no samples';
  const fn = /^\s*([a-z0-9]+)/.exec(r.expr)?.[1];
  if (fn === 'rate') return `${Math.round(r.value * 1000) / 10}%`;
  if (fn === 'count') return String(r.value);
  return `${r.value} ms`;
}
