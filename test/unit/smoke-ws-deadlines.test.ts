import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue, cancelDeadline, type Deadlined } from '../../src/smoke/ws-deadlines.js';

/** A waiter that records when its deadline passed (in fake milliseconds since the test began). */
class Waiter implements Deadlined {
  deadline = 0;
  deadlineQueue: DeadlineQueue | undefined;
  fired: number[] = [];
  constructor(
    readonly name: string,
    private readonly log: string[],
    private readonly onFire?: (w: Waiter) => void,
  ) {}
  deadlinePassed(): void {
    this.fired.push(performance.now());
    this.log.push(this.name);
    this.onFire?.(this);
  }
}

describe('DeadlineQueue', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ends 1,000 waits of one length on a single timer, in the order they began, at their deadline', () => {
    const q = new DeadlineQueue(1000);
    const log: string[] = [];
    const waiters = Array.from({ length: 1000 }, (_, i) => new Waiter(`w${i}`, log));
    for (const [i, w] of waiters.entries()) {
      // Each wait begins 1 ms after the one before.
      if (i > 0) vi.advanceTimersByTime(1);
      q.add(w);
    }
    expect(vi.getTimerCount()).toBe(1);
    // 1,000 ms after the first wait began, only the first has passed its deadline.
    vi.advanceTimersByTime(1000 - 999);
    expect(log).toEqual(['w0']);
    vi.advanceTimersByTime(998);
    expect(log).toHaveLength(999);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(waiters.map((w) => w.name));
    // Each fired at its own deadline, not before.
    for (const w of waiters) {
      expect(w.fired).toHaveLength(1);
      expect(w.fired[0]).toBeGreaterThanOrEqual(w.deadline);
      expect(w.deadlineQueue).toBeUndefined();
    }
    expect(vi.getTimerCount()).toBe(0);
    expect(q.pending).toBe(0);
  });

  it('never calls a cancelled wait, and stops its timer when only cancelled waits are left', () => {
    const q = new DeadlineQueue(500);
    const log: string[] = [];
    const a = new Waiter('a', log);
    const b = new Waiter('b', log);
    const c = new Waiter('c', log);
    q.add(a);
    vi.advanceTimersByTime(100);
    q.add(b);
    vi.advanceTimersByTime(100);
    q.add(c);
    cancelDeadline(a);
    cancelDeadline(c);
    vi.advanceTimersByTime(2000);
    expect(log).toEqual(['b']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a wait left and begun again fires once, at the later deadline', () => {
    const q = new DeadlineQueue(1000);
    const log: string[] = [];
    const a = new Waiter('a', log);
    const b = new Waiter('b', log);
    q.add(a);
    q.add(b);
    vi.advanceTimersByTime(300);
    // a leaves its wait and begins another: its first entry is stale, behind it b's is still current.
    cancelDeadline(a);
    q.add(a);
    vi.advanceTimersByTime(700);
    expect(log).toEqual(['b']);
    vi.advanceTimersByTime(299);
    expect(log).toEqual(['b']);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['b', 'a']);
    expect(a.fired).toHaveLength(1);
  });

  it('a wait begun from inside a deadline callback gets its own full length, on one timer', () => {
    const q = new DeadlineQueue(1000);
    const log: string[] = [];
    let again = true;
    const a = new Waiter('a', log, (w) => {
      if (!again) return;
      again = false;
      q.add(w);
    });
    q.add(a);
    vi.advanceTimersByTime(1000);
    expect(log).toEqual(['a']);
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(999);
    expect(log).toEqual(['a']);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(['a', 'a']);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('dispose stops the timer and forgets every wait, also when called from a deadline callback', () => {
    const q = new DeadlineQueue(1000);
    const log: string[] = [];
    const waiters = Array.from({ length: 3 }, (_, i) => new Waiter(`w${i}`, log, () => q.dispose()));
    for (const w of waiters) q.add(w);
    vi.advanceTimersByTime(1000);
    // The first callback disposed of the queue: the others, due at the same moment, are not called.
    expect(log).toEqual(['w0']);
    expect(vi.getTimerCount()).toBe(0);
    expect(q.pending).toBe(0);

    const q2 = new DeadlineQueue(1000);
    const later = new Waiter('later', log);
    q2.add(later);
    q2.dispose();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(log).toEqual(['w0']);
  });
});
