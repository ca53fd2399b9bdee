/**
 * After a run died mid-cycle (kill -9 in a canary step), the split may be half-moved, with an
 * unvetted candidate serving part of the traffic. The journal recorded the split before that
 * cycle; this puts it back before anything else happens, unless the user chose to adopt the live
 * split. Each outcome says what was done, for the log and the record.
 */
import type { StageContext } from '../context.js';
import type { Target, TrafficEntry } from '../deploy/target.js';
import { errorMessage } from '../errors.js';

export type AfterCrashAction = 'matched' | 'restored' | 'adopted' | 'not-restorable';

export interface AfterCrashOutcome {
  action: AfterCrashAction;
  live: TrafficEntry[];
  recorded: TrafficEntry[];
  /** One sentence: what was found and done. */
  note: string;
}

/** The serving part of a split, order-free: tags and 0% entries do not change who serves. */
function servingKey(split: readonly TrafficEntry[]): string {
  return JSON.stringify([...split].filter((e) => e.percent > 0).map((e) => [e.revision, e.percent]).sort());
}

export async function restoreTrafficAfterCrash(
  target: Pick<Target, 'kind' | 'currentTraffic' | 'setTraffic'>,
  unfinished: { cycle: number; traffic: { before: TrafficEntry[] } },
  ctx: StageContext,
  opts: { adoptLive?: boolean } = {},
): Promise<AfterCrashOutcome | undefined> {
  // A local target's traffic dies with its process: there is nothing left to restore.
  if (target.kind === 'local') return undefined;
  const recorded = unfinished.traffic.before;
  const live = await target.currentTraffic(ctx);
  const c = unfinished.cycle;
  if (servingKey(live) === servingKey(recorded)) {
    return { action: 'matched', live, recorded, note: `traffic matches the split recorded before unfinished cycle ${c}` };
  }
  if (opts.adoptLive) {
    return { action: 'adopted', live, recorded, note: `traffic differs from the split recorded before unfinished cycle ${c}; the live split is kept, as asked` };
  }
  if (recorded.filter((e) => e.percent > 0).length === 0) {
    return { action: 'not-restorable', live, recorded, note: `nothing served before unfinished cycle ${c}, so there is no split to put back; the live split is kept` };
  }
  try {
    await target.setTraffic(ctx, recorded);
  } catch (err) {
    return {
      action: 'not-restorable',
      live,
      recorded,
      note: `traffic differs from the split recorded before unfinished cycle ${c} and putting it back failed: ${errorMessage(err)}; the live split is kept (deploy-loop rollback moves it)`,
    };
  }
  return { action: 'restored', live, recorded, note: `traffic differed from the split recorded before unfinished cycle ${c}: the recorded split is restored` };
}
