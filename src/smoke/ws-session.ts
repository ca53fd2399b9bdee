/**
 * One client WebSocket connection as the script sees it: every event (open, message, close, error,
 * refused handshake) is recorded as state, and the script waits for the state it needs. Waiting on
 * state instead of on events means nothing is missed when an event fires between two steps.
 */
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { onAbort } from './abort-fanout.js';
import { MAX_BODY_BYTES } from './attempt.js';

/** While the script runs, at most this many unread messages / bytes are held; a flood beyond that fails the connection. */
export const MAX_QUEUED_MESSAGES = 1000;
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** How much of a refused handshake's response body is read for the excerpt. */
const MAX_REJECTION_BODY_BYTES = 64 * 1024;
/** How long a client-initiated close waits for the server's close frame before the socket is cut. */
const CLOSE_GRACE_MS = 1000;

export interface Frame {
  text: string;
  binary: boolean;
  bytes: number;
  /** performance.now() when it arrived: a message's latency is measured from the send before it. */
  at?: number;
}

/** A FIFO of frames with hard caps on count and bytes. */
export class FrameQueue {
  private items: Frame[] = [];
  private size = 0;
  constructor(
    readonly maxMessages = MAX_QUEUED_MESSAGES,
    readonly maxBytes = MAX_QUEUED_BYTES,
  ) {}
  /** False (and nothing queued) when the frame would break a cap. */
  push(frame: Frame): boolean {
    if (this.items.length >= this.maxMessages || this.size + frame.bytes > this.maxBytes) return false;
    this.items.push(frame);
    this.size += frame.bytes;
    return true;
  }
  shift(): Frame | undefined {
    const f = this.items.shift();
    if (f) this.size -= f.bytes;
    return f;
  }
  clear(): void {
    this.items = [];
    this.size = 0;
  }
  get length(): number {
    return this.items.length;
  }
  get bytes(): number {
    return this.size;
  }
}

export interface CloseInfo {
  code: number;
  reason: string;
}

export interface Rejection {
  status: number;
  body: string;
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** Reads the start of a refused handshake's body; resolves on end, error, close or limit. */
function readSome(res: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks).subarray(0, limit).toString('utf8'));
    };
    res.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) {
        finish();
        res.destroy();
      }
    });
    res.once('end', finish);
    res.once('error', finish);
    res.once('close', finish);
  });
}

/** How many of the first frames a failure's evidence shows: how the conversation started. */
export const FIRST_FRAMES = 3;

interface Waiter {
  resolve: () => void;
  reject: (reason: Error) => void;
  signal: AbortSignal;
}

interface Watch {
  signal: AbortSignal;
  stop: () => void;
}

/** What a wait can wait for: predicates over the session, shared, so a wait allocates no closure. */
export type SessionState = (s: WsSession) => boolean;
export const handshakeDone: SessionState = (s) => s.opened || s.closed !== undefined || s.error !== undefined || s.rejection !== undefined;
export const ended: SessionState = (s) => s.closed !== undefined || s.error !== undefined;
export const endedOrFlooded: SessionState = (s) => s.closed !== undefined || s.error !== undefined || s.overflow;
export const readable: SessionState = (s) => s.queue.length > 0 || s.closed !== undefined || s.error !== undefined || s.overflow;
const closedOrGraceOver: SessionState = (s) => s.closed !== undefined || s.error !== undefined || s.graceOver;

/**
 * The close grace of every session in the process, on one timer: every grace is CLOSE_GRACE_MS long,
 * so deadlines arrive in the order they were set and a FIFO with a timer for its head is a complete
 * timer wheel. A session whose close came in time just drops its mark; the queue skips it later.
 */
class GraceQueue {
  private readonly queue: WsSession[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | undefined;

  add(s: WsSession): void {
    s.graceDeadline = performance.now() + CLOSE_GRACE_MS;
    this.queue.push(s);
    if (!this.timer) this.arm(CLOSE_GRACE_MS);
  }

  private arm(ms: number): void {
    this.timer = setTimeout(expireGraces, Math.max(1, Math.ceil(ms)), this).unref();
  }

  expire(): void {
    this.timer = undefined;
    const now = performance.now();
    while (this.head < this.queue.length) {
      const s = this.queue[this.head] as WsSession;
      if (s.graceDeadline === undefined) {
        this.head++;
        continue;
      }
      if (s.graceDeadline > now) break;
      this.head++;
      s.graceDeadline = undefined;
      s.graceOver = true;
      s.wake();
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    // Only cleared marks left: nothing to wait for, and nothing holds the sessions.
    let next: WsSession | undefined;
    while (this.head < this.queue.length && (next = this.queue[this.head])?.graceDeadline === undefined) this.head++;
    if (this.head >= this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
      return;
    }
    this.arm((next?.graceDeadline ?? now) - now);
  }
}

function expireGraces(q: GraceQueue): void {
  q.expire();
}

const graces = new GraceQueue();

/** For a close with no signal of its own: a wait that only its state ends. */
const neverAborted = new AbortController().signal;

export class WsSession {
  readonly ws: WebSocket;
  private readonly startedAt = performance.now();
  connectMs: number | undefined;
  opened = false;
  closed: CloseInfo | undefined;
  /** The first error the socket reported. */
  error: Error | undefined;
  /** Set once a non-101 handshake response has been read. */
  rejection: Rejection | undefined;
  /** The server sent more unread messages than the queue holds; the socket was cut. */
  overflow = false;
  /** Messages received, queued or not. */
  messages = 0;
  /** The start of the last frame received, for evidence. */
  lastFrame: string | undefined;
  /** The start of each of the first frames received (up to FIRST_FRAMES), for failure evidence. */
  readonly firstFrames: string[] = [];
  readonly queue = new FrameQueue();
  /** Frames are queued only while the script can still read them. */
  private queueing = true;
  /** Waits under way (one, as a script runs its steps in turn) and the abort watch on each signal they use. */
  private waiters: Waiter[] = [];
  private watches: Watch[] = [];
  /** When this session's close grace ends (set while a client close waits for the server's frame). */
  graceDeadline: number | undefined;
  graceOver = false;

  constructor(url: URL, protocols: string[], headers: Record<string, string>) {
    this.ws = new WebSocket(url, protocols, {
      headers,
      // A frame (after inflating) over 1 MiB makes ws fail the connection with 1009 instead of buffering it.
      maxPayload: MAX_BODY_BYTES,
      followRedirects: false,
    });
    const ws = this.ws;
    ws.on('open', () => {
      this.opened = true;
      this.connectMs = Math.round(performance.now() - this.startedAt);
      this.notify();
    });
    ws.on('message', (data, isBinary) => this.onMessage(toBuffer(data), isBinary));
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8') };
      this.notify();
    });
    ws.on('error', (err) => {
      this.error ??= err;
      this.notify();
    });
    // With a listener here ws leaves the refused request to us, so the body can be read for evidence.
    ws.on('unexpected-response', (_req, res) => {
      void readSome(res, MAX_REJECTION_BODY_BYTES).then((body) => {
        this.rejection = { status: res.statusCode ?? 0, body };
        this.notify();
      });
    });
  }

  private onMessage(buf: Buffer, binary: boolean): void {
    this.messages++;
    // One decode for the usual small frame: its start is all of it.
    const text = this.queueing || (!binary && buf.length <= 4096) ? buf.toString('utf8') : undefined;
    this.lastFrame = binary ? `[binary frame, ${buf.length} bytes]` : buf.length <= 4096 && text !== undefined ? text : buf.subarray(0, 4096).toString('utf8');
    if (this.firstFrames.length < FIRST_FRAMES) this.firstFrames.push(this.lastFrame);
    if (!this.queueing || text === undefined) return;
    if (!this.queue.push({ text, binary, bytes: buf.length, at: performance.now() })) {
      this.overflow = true;
      this.stopQueueing();
      this.ws.terminate();
    }
    this.notify();
  }

  /** After the script, frames are only counted: nothing reads them. */
  stopQueueing(): void {
    this.queueing = false;
    this.queue.clear();
  }

  private notify(): void {
    if (this.waiters.length === 0) return;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.resolve();
  }

  /** Wakes the waits so they look at the state again (the close grace ended). */
  wake(): void {
    this.notify();
  }

  /** Resolves on the next recorded event; rejects with the signal's reason when it aborts. */
  private changed(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.reject(signal.reason as Error);
    if (!this.watches.some((w) => w.signal === signal)) this.watch(signal);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject, signal });
    });
  }

  /**
   * One abort watch per signal for the whole session, not one per wait: every connection of a check
   * waits on the same signal, through the fan-out (one listener on the signal), a few times each.
   */
  private watch(signal: AbortSignal): void {
    // A watch no wait uses any more (a finished step's own timeout) goes first.
    if (this.watches.length > 0) {
      this.watches = this.watches.filter((w) => {
        const used = this.waiters.some((x) => x.signal === w.signal);
        if (!used) w.stop();
        return used;
      });
    }
    this.watches.push({ signal, stop: onAbort(signal, () => this.aborted(signal)) });
  }

  private aborted(signal: AbortSignal): void {
    this.watches = this.watches.filter((w) => w.signal !== signal);
    if (!this.waiters.some((w) => w.signal === signal)) return;
    const hit = this.waiters.filter((w) => w.signal === signal);
    this.waiters = this.waiters.filter((w) => w.signal !== signal);
    for (const w of hit) w.reject(signal.reason as Error);
  }

  /** Waits until `cond` holds; rejects with the signal's reason (a TimeoutError on timeout) when it aborts first. */
  async until(cond: SessionState, signal: AbortSignal): Promise<void> {
    while (!cond(this)) await this.changed(signal);
  }

  /** Waits for the handshake to finish one way or another. */
  waitHandshake(signal: AbortSignal): Promise<void> {
    return this.until(handshakeDone, signal);
  }

  /** True when the frame was handed to the socket. */
  send(text: string): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(text);
    return true;
  }

  /** Client close with 1000, waiting a moment for the server's close frame (the code lands in `closed`). */
  closeNormally(signal: AbortSignal): Promise<void> {
    return this.close(1000, '', signal);
  }

  /**
   * Sends a close frame with `code` and waits up to CLOSE_GRACE_MS for the server's, so the server
   * sees a clean close (its code, not a 1006 "no close frame received") and a proxy no reset. The
   * caller cuts the socket afterwards if the server never answers. `signal` only ends the wait early.
   */
  async close(code: number, reason: string, signal?: AbortSignal): Promise<void> {
    if (this.closed) return;
    // CLOSING: a close is under way (the server's, or ours); wait for it to finish all the same.
    if (this.ws.readyState !== WebSocket.OPEN && this.ws.readyState !== WebSocket.CLOSING) return;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(code, reason);
    // The process's one grace queue rather than a timer (or an AbortSignal.any + AbortSignal.timeout)
    // per connection; the mark is dropped when the close comes, so nothing fires late.
    this.graceOver = false;
    graces.add(this);
    try {
      await this.until(closedOrGraceOver, signal ?? neverAborted);
    } catch {
      // Aborted: the caller cuts the socket.
    } finally {
      this.graceDeadline = undefined;
    }
  }

  /** Cuts the socket whatever its state; safe to call more than once. */
  terminate(): void {
    this.stopQueueing();
    for (const w of this.watches) w.stop();
    this.watches = [];
    if (this.ws.readyState !== WebSocket.CLOSED) this.ws.terminate();
  }
}
