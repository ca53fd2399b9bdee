/**
 * Traffic plans are pure: given the split before the cycle and the gate's verdict, say what the split
 * should be. Targets only apply splits; they never decide them.
 */
import type { TrafficEntry } from '../deploy/target.js';

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
