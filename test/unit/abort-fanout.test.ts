import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onAbort } from '../../src/smoke/abort-fanout.js';

const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length;

describe('onAbort fan-out', () => {
  it('puts one listener on the signal however many wait, and calls each once in order on abort', () => {
    const ac = new AbortController();
    const calls: number[] = [];
    for (let i = 0; i < 1000; i++) onAbort(ac.signal, () => calls.push(i));
    expect(listeners(ac.signal)).toBe(1);
    ac.abort();
    expect(calls).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(listeners(ac.signal)).toBe(0);
    ac.signal.dispatchEvent(new Event('abort'));
    expect(calls).toHaveLength(1000);
  });

  it('removes its listener when the last waiter leaves, and N sequential waits do not grow it', () => {
    const ac = new AbortController();
    const stops = Array.from({ length: 100 }, () => onAbort(ac.signal, () => expect.fail('stopped waiter called')));
    for (const stop of stops.slice(0, 99)) stop();
    expect(listeners(ac.signal)).toBe(1);
    stops[99]?.();
    expect(listeners(ac.signal)).toBe(0);
    for (let i = 0; i < 1000; i++) {
      const stop = onAbort(ac.signal, () => expect.fail('stopped waiter called'));
      expect(listeners(ac.signal)).toBe(1);
      stop();
      stop();
    }
    expect(listeners(ac.signal)).toBe(0);
    ac.abort();
  });

  it('skips a waiter that stopped before the abort, and keeps the others', () => {
    const ac = new AbortController();
    const called: string[] = [];
    onAbort(ac.signal, () => called.push('a'));
    const stopB = onAbort(ac.signal, () => called.push('b'));
    const same = (): number => called.push('c');
    onAbort(ac.signal, same);
    onAbort(ac.signal, same);
    stopB();
    ac.abort();
    expect(called).toEqual(['a', 'c', 'c']);
  });

  it('skips a waiter another waiter stops during the abort, as EventTarget does', () => {
    const ac = new AbortController();
    const called: string[] = [];
    let stopB = (): void => undefined;
    onAbort(ac.signal, () => {
      called.push('a');
      stopB();
    });
    stopB = onAbort(ac.signal, () => called.push('b'));
    ac.abort();
    expect(called).toEqual(['a']);
  });

  it('keeps separate signals apart and works on timeout signals', async () => {
    const a = new AbortController();
    const timeout = AbortSignal.timeout(20);
    const seen: string[] = [];
    onAbort(a.signal, () => seen.push('a'));
    const reason = new Promise<unknown>((resolve) => onAbort(timeout, () => resolve(timeout.reason)));
    expect((await reason) as Error).toMatchObject({ name: 'TimeoutError' });
    expect(seen).toEqual([]);
    expect(listeners(timeout)).toBe(0);
    a.abort();
    expect(seen).toEqual(['a']);
  });
});
