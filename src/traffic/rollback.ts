/**
 * `deploy-loop rollback`: which revision to put back, decided from the history (pure), and the split
 * that gives it all the traffic. Applying it is the target's job, as for every other split.
 */
import type { TrafficEntry } from '../model/traffic.js';
import type { CycleRecord } from '../model/record.js';

export type RollbackChoice = { ok: true; revision: string; why: string } | { ok: false; message: string; hint?: string };

/**
 * The named revision, or else the newest revision that passed a cycle and was promoted, other than
 * the one that serves all traffic now (rolling back to what already serves would change nothing).
 */
export function chooseRollbackRevision(history: readonly CycleRecord[], current: readonly TrafficEntry[], named?: string): RollbackChoice {
  if (named) return { ok: true, revision: named, why: 'named with --revision' };
  const servingAll = current.find((e) => e.percent === 100)?.revision;
  const good = [...history]
    .reverse()
    .filter((r) => r.verdict === 'passed' && r.traffic.action === 'promoted' && r.deploy.revision)
    .map((r) => ({ revision: r.deploy.revision as string, cycle: r.cycle }));
  const pick = good.find((g) => g.revision !== servingAll);
  if (pick) return { ok: true, revision: pick.revision, why: `the newest revision that passed a cycle (cycle ${pick.cycle})` };
  if (good.length > 0) {
    return {
      ok: false,
      message: `the only revision that passed a recorded cycle, ${good[0]?.revision}, already serves 100% of traffic`,
      hint: 'name another revision with --revision NAME',
    };
  }
  return { ok: false, message: 'no recorded cycle passed and was promoted, so there is no last good revision', hint: 'name a revision with --revision NAME' };
}

/** All traffic to `revision`; tags stay on their revisions (at 0%) so tag URLs keep working. */
export function planRollbackTo(current: readonly TrafficEntry[], revision: string): TrafficEntry[] {
  const tagOfTarget = current.find((e) => e.revision === revision && e.tag !== undefined)?.tag;
  const out: TrafficEntry[] = [tagOfTarget ? { revision, percent: 100, tag: tagOfTarget } : { revision, percent: 100 }];
  for (const e of current) {
    if (e.tag === undefined || e.tag === tagOfTarget) continue;
    out.push({ revision: e.revision, percent: 0, tag: e.tag });
  }
  return out;
}
