/**
 * Deadlines of one fixed length (a close grace, one expect step's timeoutMs) for any number of
 * connections, on one timer. All waits in a queue are equally long, so deadlines arrive in the order
 * they were set: a FIFO with a timer for its head is a complete timer wheel, and 10,000 connections
 * waiting cost one timer instead of 10,000 (plus no AbortSignal.timeout/any pair per wait).
 */

/** What waits in a queue: it carries its own deadline, so leaving a wait is two field writes. */
export interface Deadlined {
  /** performance.now() at which the current wait ends; meaningful while `deadlineQueue` is set. */
  deadline: number;
  /** The queue the current wait is in; undefined when the item waits for no deadline. */
  deadlineQueue: DeadlineQueue | undefined;
  /** The wait's deadline passed (called once per wait, never after it was cancelled). */
  deadlinePassed(): void;
}

/** Drops `item`'s current wait; its entry stays in the queue and is skipped when it comes up. */
export function cancelDeadline(item: Deadlined): void {
  item.deadlineQueue = undefined;
}

export class DeadlineQueue {
  // Parallel arrays rather than an entry object per wait: an entry is valid while its item still
  // waits in this queue with this deadline (an item may wait, leave and wait again meanwhile).
  private items: Deadlined[] = [];
  private deadlines: number[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;
  private expiring = false;

  constructor(readonly ms: number) {}

  /** Starts `item`'s wait of `ms` from now. */
  add(item: Deadlined): void {
    const deadline = performance.now() + this.ms;
    item.deadline = deadline;
    item.deadlineQueue = this;
    this.items.push(item);
    this.deadlines.push(deadline);
    // During expire() the timer is armed once, at its end.
    if (!this.timer && !this.expiring) this.arm(this.ms);
  }

  private arm(ms: number): void {
    // Unref'd as AbortSignal.timeout is: a socket being waited on keeps the process alive, not this.
    this.timer = setTimeout(expire, Math.max(1, Math.ceil(ms)), this).unref();
  }

  /** Ends every wait whose deadline has passed and arms the timer for the next one still current. */
  expire(): void {
    this.timer = undefined;
    this.expiring = true;
    const items = this.items;
    const now = performance.now();
    try {
      while (this.head < items.length) {
        const d = this.deadlines[this.head] as number;
        const item = items[this.head] as Deadlined;
        const current = item.deadlineQueue === this && item.deadline === d;
        if (current && d > now) break;
        this.head++;
        if (!current) continue;
        item.deadlineQueue = undefined;
        item.deadlinePassed();
        // The owner disposed of the queue from inside the callback: nothing is left to expire.
        if (this.items !== items) return;
      }
    } finally {
      this.expiring = false;
    }
    if (this.head >= items.length) {
      this.reset();
      return;
    }
    if (this.head > 1024 && this.head * 2 > items.length) {
      items.splice(0, this.head);
      this.deadlines.splice(0, this.head);
      this.head = 0;
    }
    this.arm((this.deadlines[this.head] as number) - now);
  }

  /** Stops the timer and forgets every entry (the owner is done with all its items). */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.reset();
  }

  /** Entries not yet expired, cancelled or not: for tests. */
  get pending(): number {
    return this.items.length - this.head;
  }

  private reset(): void {
    this.items = [];
    this.deadlines = [];
    this.head = 0;
  }
}

function expire(q: DeadlineQueue): void {
  q.expire();
}
