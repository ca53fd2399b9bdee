/**
 * Process-level safety net: every process group exec.ts starts is killed when this process exits,
 * even if nobody stopped it (an uncaught error, process.exit() in the middle of a stop).
 */
import { killGroupNow, type GroupId } from './process-group.js';

interface Tracked {
  group: GroupId;
  /** Removes the group's process journal entry. */
  forget: () => void;
}

const live = new Set<Tracked>();
let hooked = false;

/**
 * Tracks a live group until the returned function is called. On 'exit' nothing asynchronous runs
 * any more, so there is no grace period: SIGKILL to the whole group, then its journal entry goes
 * (the group is as good as gone). execa's own `cleanup` covers deaths by an unhandled signal, which
 * emit no 'exit' (it sends SIGTERM to the group; the journal catches what ignores it). No SIGINT
 * handler is added here: that would change how Ctrl-C behaves for the CLI, which owns signals.
 */
export function trackGroup(group: GroupId, forget: () => void): () => void {
  const tracked: Tracked = { group, forget };
  live.add(tracked);
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
  }
  return () => {
    live.delete(tracked);
  };
}

/** Groups started by this process and not yet stopped (for diagnostics and tests). */
export function liveGroups(): GroupId[] {
  return [...live].map((t) => ({ ...t.group }));
}

function killAll(): void {
  for (const tracked of live) {
    killGroupNow(tracked.group);
    try {
      tracked.forget();
    } catch {
      // Best effort on the way out.
    }
  }
  live.clear();
}
