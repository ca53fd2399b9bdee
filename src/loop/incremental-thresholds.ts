/**
 * The `abortOnFail` thresholds, evaluated incrementally: each finished result is added once, and a
 * threshold's value is read from running counts (rate, count, min, max, avg) or a sorted list kept by
 * binary insertion (percentiles). firstAbortingThreshold re-measures every threshold over all results
 * after every check, which made a 10,000-check suite quadratic.
 *
 * Same answers as firstAbortingThreshold (src/model/thresholds.ts) over the same results, in the same
 * threshold order; test/unit/incremental-thresholds.test.ts compares the two at every step.
 */
import { isPassing, type CheckResult } from '../model/check-result.js';
import type { ThresholdResult } from '../model/record.js';
import { sampleValues } from '../model/samples.js';
import { compareThreshold, evaluateThreshold, inThresholdScope, parseThreshold, type ParsedThreshold, type ThresholdConfig } from '../model/thresholds.js';

interface Watch {
  config: ThresholdConfig;
  parsed: ParsedThreshold | undefined;
  /** scopeText of the model, read once from an evaluation over no results. */
  scope: string;
  /** Rate/count: results in scope (not skipped). Times: sample values kept (the avg's divisor). */
  total: number;
  /** Times: samples measured, which may be more than the values a result keeps (the model's `samples`). */
  measured: number;
  /** For rate/count: results of the metric (pass or fail). */
  matching: number;
  /** For times: every sample, sorted ascending. */
  sorted: number[];
  sum: number;
}

function insertSorted(xs: number[], x: number): void {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((xs[mid] as number) <= x) lo = mid + 1;
    else hi = mid;
  }
  xs.splice(lo, 0, x);
}

/** Nearest-rank percentile, as the model computes it (src/model/samples.ts). */
function percentile(sorted: number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1] ?? NaN;
}

function value(w: Watch, p: ParsedThreshold): { value: number | null; samples: number } {
  if (p.fn === 'rate' || p.fn === 'count') {
    if (w.total === 0) return { value: null, samples: 0 };
    return { value: p.fn === 'count' ? w.matching : w.matching / w.total, samples: w.total };
  }
  const xs = w.sorted;
  if (xs.length === 0) return { value: null, samples: 0 };
  switch (p.fn) {
    case 'p50': return { value: percentile(xs, 50), samples: w.measured };
    case 'p90': return { value: percentile(xs, 90), samples: w.measured };
    case 'p95': return { value: percentile(xs, 95), samples: w.measured };
    case 'p99': return { value: percentile(xs, 99), samples: w.measured };
    default: return { value: null, samples: 0 }; // min, max, avg: minMaxAvgValue
  }
}

export interface IncrementalWatch {
  /** Adds finished results; returns the first abortOnFail threshold that now fails, if any. */
  add(results: Iterable<CheckResult>): ThresholdResult | undefined;
  /** How many results were added, in scope or not (the stop's `afterResults`). */
  readonly count: number;
}

/** Watches the `abortOnFail` thresholds among `thresholds`; the others are ignored. */
export function watchThresholds(thresholds: readonly ThresholdConfig[]): IncrementalWatch {
  const watches: Watch[] = thresholds
    .filter((t) => t.abortOnFail)
    .map((t) => {
      const parsed = parseThreshold(t.expr);
      return { config: t, parsed: parsed.ok ? parsed.threshold : undefined, scope: evaluateThreshold([], t).scope, total: 0, measured: 0, matching: 0, sorted: [], sum: 0 };
    });
  let count = 0;
  const addOne = (r: CheckResult): void => {
    count++;
    for (const w of watches) {
      if (!w.parsed || !inThresholdScope(r, w.config)) continue;
      const p = w.parsed;
      if (p.fn === 'rate' || p.fn === 'count') {
        w.total++;
        if (p.metric === 'pass' ? isPassing(r.status) : !isPassing(r.status)) w.matching++;
        continue;
      }
      // Every sample the result keeps, as the model reads them (figures.samples, else the one figure).
      const s = sampleValues(r.figures, p.metric === 'latency' ? 'latencyMs' : 'connectMs');
      w.measured += s.count;
      for (const x of s.values) {
        if (p.fn === 'min' || p.fn === 'max' || p.fn === 'avg') {
          // Only the ends and the sum matter: keep two values, not all of them.
          w.sum += x;
          w.total++;
          const xs = w.sorted;
          if (xs.length < 2) insertSorted(xs, x);
          else if (x < (xs[0] as number)) xs[0] = x;
          else if (x > (xs[1] as number)) xs[1] = x;
        } else insertSorted(w.sorted, x);
      }
    }
  };
  return {
    get count() {
      return count;
    },
    add(results) {
      for (const r of results) addOne(r);
      for (const w of watches) {
        // An unreadable expression fails closed in the model with zero samples: never an abort.
        if (!w.parsed) continue;
        const m = minMaxAvg(w) ? { value: minMaxAvgValue(w, w.parsed), samples: w.total === 0 ? 0 : w.measured } : value(w, w.parsed);
        if (m.samples === 0 || m.value === null) continue;
        if (!compareThreshold(m.value, w.parsed.op, w.parsed.value)) {
          return { expr: w.config.expr, scope: w.scope, value: m.value, passed: false, samples: m.samples };
        }
      }
      return undefined;
    },
  };
}

function minMaxAvg(w: Watch): boolean {
  const fn = w.parsed?.fn;
  return fn === 'min' || fn === 'max' || fn === 'avg';
}

function minMaxAvgValue(w: Watch, p: ParsedThreshold): number | null {
  if (w.total === 0) return null;
  const lo = w.sorted[0] as number;
  const hi = w.sorted[w.sorted.length - 1] as number;
  if (p.fn === 'min') return lo;
  if (p.fn === 'max') return hi;
  return Math.round((w.sum / w.total) * 10) / 10;
}
