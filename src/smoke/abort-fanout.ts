/**
 * One 'abort' listener per signal, fanned out to any number of callbacks. EventTarget's
 * add/removeEventListener walk the signal's listener list, so N waiters on one signal (the N
 * connections of a websocket check) each adding and removing their own listener cost O(N²). Here a
 * waiter is a Set entry, O(1) to add and remove, and the signal holds a single listener only while
 * someone waits.
 */

interface FanOut {
  callbacks: Set<() => void>;
  fire: () => void;
}

const fanOuts = new WeakMap<AbortSignal, FanOut>();

/**
 * Calls `cb` once when `signal` aborts, unless the returned function is called first (calling it again,
 * or after the abort, does nothing). Every call registers separately, even with the same `cb`. The
 * caller checks `signal.aborted` first: on an aborted signal `cb` is never called.
 */
export function onAbort(signal: AbortSignal, cb: () => void): () => void {
  let fan = fanOuts.get(signal);
  if (!fan) {
    const callbacks = new Set<() => void>();
    const fire = (): void => {
      fanOuts.delete(signal);
      // A callback removed by an earlier one is skipped, as EventTarget skips a listener removed mid-dispatch.
      for (const f of callbacks) {
        try {
          f();
        } catch (err) {
          // As EventTarget does: the others still run, the error is reported as uncaught.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
      callbacks.clear();
    };
    fan = { callbacks, fire };
    fanOuts.set(signal, fan);
    signal.addEventListener('abort', fire, { once: true });
  }
  const current = fan;
  const entry = (): void => cb();
  current.callbacks.add(entry);
  return () => {
    if (!current.callbacks.delete(entry) || current.callbacks.size > 0) return;
    // The last waiter left: drop the listener so a long-lived signal keeps nothing from us.
    fanOuts.delete(signal);
    signal.removeEventListener('abort', current.fire);
  };
}
