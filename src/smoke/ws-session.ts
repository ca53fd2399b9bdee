/**
 * One client WebSocket connection as the script sees it: every event (open, message, close, error,
 * refused handshake) is recorded as state, and the subclass (the script, ws-script.ts) is told after
 * each change and looks at the state it waits for. Waiting on state instead of on events means
 * nothing is missed when an event fires between two steps.
 *
 * The session *is* the ws client (a subclass), and its event listeners are functions shared by every
 * session (ws calls them with the socket as `this`): a check may hold 10,000 connections, and a
 * session object, a closure per listener and a frame queue each per connection were most of what a
 * check held beyond the sockets themselves.
 */
import WebSocket from 'ws';
import type { IncomingMessage } from 'node:http';
import { MAX_BODY_BYTES } from './attempt.js';

/** While the script runs, at most this many unread messages / bytes are held; a flood beyond that fails the connection. */
export const MAX_QUEUED_MESSAGES = 1000;
export const MAX_QUEUED_BYTES = 8 * 1024 * 1024;
/** How much of a refused handshake's response body is read for the excerpt. */
const MAX_REJECTION_BODY_BYTES = 64 * 1024;
/** How long a client-initiated close waits for the server's close frame before the socket is cut. */
export const CLOSE_GRACE_MS = 1000;

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

/**
 * When the frames being emitted now arrived: one stamp per synchronous run of 'message' events (ws
 * emits every frame of a socket read in one go), cleared at the next microtask. The script runs its
 * steps inside those events, so a send it makes on the first frame of a read comes before the rest
 * of that read is emitted; stamping those frames when they are emitted would count a frame that was
 * already here as an answer to the send (a 0 ms latency). With one stamp per read, it arrived before.
 */
let readAt: number | undefined;

function clearReadAt(): void {
  readAt = undefined;
}

function arrivedAt(): number {
  if (readAt === undefined) {
    readAt = performance.now();
    queueMicrotask(clearReadAt);
  }
  return readAt;
}

export abstract class WsSession extends WebSocket {
  private readonly startedAt: number;
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
  /** The start of each of the first frames received (up to FIRST_FRAMES), for failure evidence; made on the first frame. */
  firstFrames: string[] | undefined;
  /**
   * Frames received while the script was not waiting for one; made on the first such frame. A frame
   * that arrives while the script waits is handed over directly (takeFrame) and never queued.
   */
  queue: FrameQueue | undefined;
  /** Frames are queued only while the script can still read them. */
  private queueing = true;

  constructor(url: URL, protocols: string[], headers: Record<string, string>) {
    const startedAt = performance.now();
    super(url, protocols, {
      headers,
      // A frame (after inflating) over 1 MiB makes ws fail the connection with 1009 instead of buffering it.
      maxPayload: MAX_BODY_BYTES,
      followRedirects: false,
    });
    this.startedAt = startedAt;
    this.on('open', sessionOpened);
    this.on('message', sessionMessage);
    this.on('close', sessionClosed);
    this.on('error', sessionError);
    // With a listener here ws leaves the refused request to us, so the body can be read for evidence.
    this.on('unexpected-response', sessionRefused);
  }

  /** Called after every change of the recorded state; the script looks at what it waits for. */
  protected abstract changed(): void;

  /**
   * A text-decoded frame arrived and nothing is queued: true when the script was waiting for a frame
   * and took this one, false to have it queued.
   */
  protected abstract takeFrame(text: string, binary: boolean, bytes: number, at: number): boolean;

  /** @internal ws listener bodies (see the shared functions below). */
  static onOpen(s: WsSession): void {
    s.opened = true;
    s.connectMs = Math.round(performance.now() - s.startedAt);
    s.changed();
  }

  /** @internal */
  static onMessage(s: WsSession, buf: Buffer, binary: boolean): void {
    s.messages++;
    // One decode for the usual small frame: its start is all of it.
    const text = s.queueing || (!binary && buf.length <= 4096) ? buf.toString('utf8') : undefined;
    const last = binary ? `[binary frame, ${buf.length} bytes]` : buf.length <= 4096 && text !== undefined ? text : buf.subarray(0, 4096).toString('utf8');
    s.lastFrame = last;
    if (s.firstFrames === undefined) s.firstFrames = [last];
    else if (s.firstFrames.length < FIRST_FRAMES) s.firstFrames.push(last);
    if (!s.queueing || text === undefined) return;
    const at = arrivedAt();
    if ((s.queue === undefined || s.queue.length === 0) && s.takeFrame(text, binary, buf.length, at)) return;
    s.queue ??= new FrameQueue();
    if (!s.queue.push({ text, binary, bytes: buf.length, at })) {
      s.overflow = true;
      s.stopQueueing();
      s.terminate();
    }
    s.changed();
  }

  /** @internal */
  static onClose(s: WsSession, code: number, reason: Buffer): void {
    s.closed = { code, reason: reason.toString('utf8') };
    s.changed();
  }

  /** @internal */
  static onError(s: WsSession, err: Error): void {
    s.error ??= err;
    s.changed();
  }

  /** @internal */
  static onRefused(s: WsSession, res: IncomingMessage): void {
    void readSome(res, MAX_REJECTION_BODY_BYTES).then((body) => {
      s.rejection = { status: res.statusCode ?? 0, body };
      s.changed();
    });
  }

  /** After the script, frames are only counted: nothing reads them. */
  stopQueueing(): void {
    this.queueing = false;
    this.queue = undefined;
  }

  /** True when the frame was handed to the socket. */
  sendText(text: string): boolean {
    if (this.readyState !== WebSocket.OPEN) return false;
    this.send(text);
    return true;
  }

  /** Cuts the socket whatever its state; safe to call more than once. */
  cut(): void {
    this.stopQueueing();
    if (this.readyState !== WebSocket.CLOSED) this.terminate();
  }
}

// ws calls its listeners with the socket as `this`; every session is a WsSession, so one function per
// event serves them all.
function sessionOpened(this: WebSocket): void {
  WsSession.onOpen(this as WsSession);
}
function sessionMessage(this: WebSocket, data: WebSocket.RawData, isBinary: boolean): void {
  WsSession.onMessage(this as WsSession, toBuffer(data), isBinary);
}
function sessionClosed(this: WebSocket, code: number, reason: Buffer): void {
  WsSession.onClose(this as WsSession, code, reason);
}
function sessionError(this: WebSocket, err: Error): void {
  WsSession.onError(this as WsSession, err);
}
function sessionRefused(this: WebSocket, _req: unknown, res: IncomingMessage): void {
  WsSession.onRefused(this as WsSession, res);
}
