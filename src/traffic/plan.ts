/**
 * Traffic plans are pure: given the split before the cycle and the gate's verdict, say what the split
 * should be. Targets only apply splits; they never decide them.
 */
import type { TrafficEntry } from '../model/traffic.js';

/** Revisions that carry traffic, largest share first. */
export function servingRevisions(split: readonly TrafficEntry[]): string[] {
  return [...split].filter((e) => e.percent > 0).sort((a, b) => b.percent - a.percent).map((e) => e.revision);
}

export type PromotionPlan = { action: 'promote'; split: TrafficEntry[] } | { action: 'keep'; split: TrafficEntry[] };

export function planPromotion(before: readonly TrafficEntry[], candidate: string, gatePassed: boolean): PromotionPlan {
  if (!gatePassed) return { action: 'keep', split: [...before] };
  return { action: 'promote', split: [{ revision: candidate, percent: 100 }] };
}

/** The split to restore after an interruption or a failed step: exactly what served before. */
export function planRollback(before: readonly TrafficEntry[]): TrafficEntry[] {
  return before.map((e) => ({ ...e }));
}

/** One canary step: the candidate's share and the whole split that gives it. */
export interface CanaryStep {
  percent: number;
  split: TrafficEntry[];
}

/**
 * The splits of a canary, one per step. Below 100% the revisions that served before keep their
 * relative shares of what is left (largest remainder, so percents stay whole and add up to 100) and
 * keep their tags; the candidate keeps `tag`. At 100% the split is what a direct promotion sets.
 * With nothing serving before there is nothing to compare against: one step, 100%.
 */
export function planCanary(before: readonly TrafficEntry[], candidate: string, steps: readonly number[], tag?: string): CanaryStep[] {
  const others = before.filter((e) => e.revision !== candidate && e.percent > 0);
  const full: CanaryStep = { percent: 100, split: [{ revision: candidate, percent: 100 }] };
  if (others.length === 0) return [full];
  return steps.map((p) => (p >= 100 ? full : { percent: p, split: splitWith(before, candidate, p, tag) }));
}

function splitWith(before: readonly TrafficEntry[], candidate: string, percent: number, tag?: string): TrafficEntry[] {
  // The candidate's own entries and any entry holding the candidate's tag are replaced by the candidate entry.
  const kept = before.filter((e) => e.revision !== candidate && (e.percent > 0 || (e.tag !== undefined && e.tag !== tag)));
  const total = kept.reduce((s, e) => s + e.percent, 0);
  const rest = 100 - percent;
  const exact = kept.map((e) => (total === 0 ? 0 : (e.percent * rest) / total));
  const shares = exact.map(Math.floor);
  let missing = rest - shares.reduce((s, n) => s + n, 0);
  const byRemainder = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (missing <= 0) break;
    if ((kept[i]?.percent ?? 0) === 0) continue;
    shares[i] = (shares[i] ?? 0) + 1;
    missing--;
  }
  const out: TrafficEntry[] = kept.map((e, i) => {
    const entry: TrafficEntry = { revision: e.revision, percent: shares[i] ?? 0 };
    if (e.tag !== undefined && e.tag !== tag) entry.tag = e.tag;
    return entry;
  });
  out.push(tag !== undefined ? { revision: candidate, percent, tag } : { revision: candidate, percent });
  return out;
}
