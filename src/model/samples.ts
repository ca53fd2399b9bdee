/**
 * The samples behind a check's figures and the one percentile every figure uses. A threshold such as
 * `max(connectMs) < 60ms` over a check with `connections: 7` must see all seven connect times, not
 * connection 0's: the samples are stored in the result so the gate (and a re-rendered report) can.
 * Pure; imports nothing.
 */

/** Samples kept per metric and result; beyond it the stored values are thinned (see thinSamples). */
export const MAX_SAMPLES = 1000;

export type SampleMetric = 'latencyMs' | 'connectMs';

/** The part of a check's figures that samples are read from (a structural subset of CheckFigures). */
export interface SampledFigures {
  latencyMs?: number | undefined;
  connectMs?: number | undefined;
  samples?:
    | {
        latencyMs?: number[] | undefined;
        connectMs?: number[] | undefined;
        measured?: { latencyMs?: number | undefined; connectMs?: number | undefined } | undefined;
      }
    | undefined;
}

/** Nearest-rank percentile of ascending values; undefined for no values. */
export function percentile(sorted: readonly number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1];
}

/**
 * At most MAX_SAMPLES values: all of them when they fit, else evenly spaced ranks of the sorted
 * values, the smallest and the largest always among them, so min and max stay exact and
 * percentiles stay within one rank step.
 */
export function thinSamples(values: readonly number[], max = MAX_SAMPLES): number[] {
  if (values.length <= max) return [...values];
  const sorted = [...values].sort((a, b) => a - b);
  return Array.from({ length: max }, (_, i) => sorted[Math.round((i * (sorted.length - 1)) / (max - 1))]!);
}

/**
 * The values of one metric and how many were measured. Records written before samples were stored
 * have only the single figure; it stands as one sample.
 */
export function sampleValues(f: SampledFigures, metric: SampleMetric): { values: number[]; count: number } {
  const stored = f.samples?.[metric];
  if (stored !== undefined) return { values: stored, count: f.samples?.measured?.[metric] ?? stored.length };
  const one = f[metric];
  return one === undefined ? { values: [], count: 0 } : { values: [one], count: 1 };
}

/** Samples of several attempts (or connections) as one set, thinned to the bound, with the true count. */
export function mergeSamples(parts: readonly SampledFigures[]): NonNullable<SampledFigures['samples']> | undefined {
  const out: NonNullable<SampledFigures['samples']> = {};
  const measured: Record<string, number> = {};
  for (const metric of ['latencyMs', 'connectMs'] as const) {
    const sets = parts.map((p) => sampleValues(p, metric)).filter((s) => s.count > 0);
    if (sets.length === 0) continue;
    const all = sets.flatMap((s) => s.values);
    const count = sets.reduce((n, s) => n + s.count, 0);
    out[metric] = thinSamples(all);
    if (count !== out[metric].length) measured[metric] = count;
  }
  if (Object.keys(measured).length > 0) out.measured = measured;
  return out.latencyMs || out.connectMs ? out : undefined;
}
