/**
 * One connection of a `websocket` check: handshake, the send/expect script, and the close, as a state
 * machine driven by the socket's events, the check's abort and the deadline queues. Each connection
 * reports once to its check (CheckRun.done) with what happened; an abort of the attempt becomes a
 * failure of its class (the runner turns an aborted suite into a skipped check).
 *
 * A state machine rather than an async function per connection: a check holding 10,000 connections
 * held, per connection, four suspended async frames, their promises, a waiter and an abort watch; here
 * it holds the connection object and nothing else.
 */
import type { WebSocketCheckConfig } from '../config/schema.js';
import { MAX_BODY_BYTES, excerpt, failure, type AttemptContext } from './attempt.js';
import { classifyCloseCode, classifyError, describeError } from './classify.js';
import { formatMismatches, matchJson } from './match.js';
import { redactText } from '../redact.js';
import type { Evidence, Failure } from '../model/check-result.js';
import { MAX_QUEUED_BYTES, MAX_QUEUED_MESSAGES, WsSession } from './ws-session.js';
import { cancelDeadline, type Deadlined, type DeadlineQueue } from './ws-deadlines.js';

/** Each first frame in evidence is cut to this many characters. */
const FRAME_CHARS = 200;

type Step = WebSocketCheckConfig['script'][number];
type ExpectStep = Extract<Step, { expect: unknown }>;
type SendStep = Extract<Step, { send: unknown }>;

/** A script step as every connection of a check runs it: what is the same for all, worked out once. */
export interface ScriptStep {
  /** The frame a send step sends. */
  send?: string;
  expect?: ExpectStep['expect'];
  /** An expect step's own timeout. */
  timeoutMs?: number;
  /** An expect step's `matches`, compiled. */
  pattern?: RegExp;
  /** Where this expect step's latency goes among the connection's latency samples. */
  latencySlot: number;
}

export interface CompiledScript {
  steps: ScriptStep[];
  /** Expect steps, each with one latency slot per connection. */
  latencySlots: number;
}

/** Per script (the parsed config's array): a loop runs the same checks every cycle. */
const compiled = new WeakMap<WebSocketCheckConfig['script'], CompiledScript>();

/** The steps of a check's script, worked out once per script rather than per connection or attempt. */
export function compileScript(script: WebSocketCheckConfig['script']): CompiledScript {
  const known = compiled.get(script);
  if (known) return known;
  let latencySlots = 0;
  const steps = script.map((step): ScriptStep => {
    if ('send' in step) return { send: typeof step.send === 'string' ? step.send : JSON.stringify(step.send), latencySlot: -1 };
    const out: ScriptStep = { expect: step.expect, latencySlot: latencySlots++ };
    if (step.timeoutMs) out.timeoutMs = step.timeoutMs;
    // Shared by every connection: a RegExp without the g or y flag keeps no state between tests.
    if (step.expect.matches !== undefined) out.pattern = new RegExp(step.expect.matches);
    return out;
  });
  const made = { steps, latencySlots };
  compiled.set(script, made);
  return made;
}

/** What a connection needs from its check: shared by all its connections, one object per attempt. */
export interface CheckRun {
  readonly check: WebSocketCheckConfig;
  readonly ctx: AttemptContext;
  readonly steps: readonly ScriptStep[];
  /** ctx.signal, read once (reading it may make the attempt's timer). */
  readonly attemptSignal: AbortSignal;
  /** The close grace of every connection of the check. */
  readonly graces: DeadlineQueue;
  /** Starts the check's one watch on the suite's abort (before a wait that only it may end). */
  watchSuite(): void;
  /** The queue for expect steps with this timeoutMs. */
  stepTimeouts(ms: number): DeadlineQueue;
  /** An expect step's latency sample (ms from the send before it). */
  latency(index: number, slot: number, ms: number): void;
  /** The connection is over: called exactly once per connection. */
  done(index: number, connectMs: number | undefined, closeCode: number | undefined, messages: number, failure: Failure | undefined): void;
}

/**
 * What the connection is waiting for: the handshake; the end of a connection a send found unusable;
 * a frame for an expect step; the server's close (expectClose); the server's answer to our close
 * (or the grace). 'none' while a step runs, 'done' once reported.
 */
type Wait = 'handshake' | 'send' | 'expect' | 'server-close' | 'close' | 'none' | 'done';

/** Which abort ends a wait: the attempt's (timeout or suite abort), or the suite's alone (the courtesy close after a failure). */
export type AbortKind = 'attempt' | 'suite';

/**
 * The close code the client sends after a failed step: 1008 (policy violation, RFC 6455 §7.4.1)
 * says the server's messages broke the check's expectations. ws itself closes with 1002/1007/1009
 * when the server breaks the protocol, so those never reach here with the socket open.
 */
export const FAILED_CHECK_CLOSE_CODE = 1008;

/** Close codes ws uses when it fails a connection itself, by error code. */
const WS_ERROR_CLOSE_CODES: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007,
};

function errorCode(err: Error | undefined): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describeExpect(e: ExpectStep['expect']): string {
  const parts: string[] = [];
  if (e.json !== undefined) parts.push(`json ⊇ ${JSON.stringify(e.json)}`);
  if (e.text !== undefined) parts.push(`text containing "${e.text}"`);
  if (e.matches !== undefined) parts.push(`matching /${e.matches}/`);
  return parts.join(' and ');
}

export class ConnectionRun extends WsSession implements Deadlined {
  /** Index of the step being run; -1 during the handshake, script.length while closing. */
  private step = -1;
  /** performance.now() of the last send not yet answered by an expect step. */
  private sentAt: number | undefined;
  private wait: Wait = 'none';
  /** While closing: the abort that ends the wait early. */
  private closeAbort: AbortKind = 'attempt';
  /** The failure being reported, set when the close after it starts. */
  private failed: Failure | undefined;
  /** The close grace ended without the server's close frame. */
  private graceOver = false;
  deadline = 0;
  deadlineQueue: DeadlineQueue | undefined;

  constructor(
    private readonly owner: CheckRun,
    readonly index: number,
    url: URL,
  ) {
    super(url, owner.check.subprotocols, owner.ctx.headers);
  }

  /** Starts the script: the handshake is the first wait. */
  start(): void {
    try {
      this.waitFor('handshake');
    } catch (err) {
      this.crashed(err);
    }
  }

  protected changed(): void {
    if (this.wait === 'none' || this.wait === 'done') return;
    try {
      if (this.ready()) this.proceed();
    } catch (err) {
      this.crashed(err);
    }
  }

  protected takeFrame(text: string, binary: boolean, bytes: number, at: number): boolean {
    if (this.wait !== 'expect') return false;
    try {
      this.wait = 'none';
      cancelDeadline(this);
      if (this.checkFrame(text, binary, bytes, at)) this.runSteps();
    } catch (err) {
      this.crashed(err);
    }
    return true;
  }

  /** The check's abort of this kind fired, with this reason: a wait it ends, ends. */
  aborted(kind: AbortKind, reason: unknown): void {
    try {
      this.abortWait(kind, reason);
    } catch (err) {
      this.crashed(err);
    }
  }

  deadlinePassed(): void {
    try {
      if (this.wait === 'expect') {
        this.wait = 'none';
        const step = this.owner.steps[this.step];
        const expected = step?.expect ? describeExpect(step.expect) : '';
        this.fail(failure('timeout', `step ${this.step}: no message within ${step?.timeoutMs} ms (expected ${expected})`, this.evidence({ expected })));
      } else if (this.wait === 'close') {
        this.graceOver = true;
        this.changed();
      }
    } catch (err) {
      this.crashed(err);
    }
  }

  /** Whether the state the current wait needs has come. */
  private ready(): boolean {
    switch (this.wait) {
      case 'handshake':
        return this.opened || this.closed !== undefined || this.error !== undefined || this.rejection !== undefined;
      case 'send':
        return this.closed !== undefined || this.error !== undefined || this.overflow;
      case 'expect':
        return (this.queue !== undefined && this.queue.length > 0) || this.closed !== undefined || this.error !== undefined || this.overflow;
      case 'server-close':
        return this.closed !== undefined || this.error !== undefined;
      case 'close':
        return this.closed !== undefined || this.error !== undefined || this.graceOver;
      default:
        return false;
    }
  }

  /**
   * Enters a wait: ends it at once when its state is already there, or its abort already fired.
   * True when the connection is now waiting.
   */
  private waitFor(w: Wait): boolean {
    this.wait = w;
    if (this.ready()) {
      this.proceed();
      return false;
    }
    const signal = w === 'close' && this.closeAbort === 'suite' ? this.owner.ctx.suiteSignal : this.owner.attemptSignal;
    if (!signal?.aborted) return true;
    this.abortWait(w === 'close' ? this.closeAbort : 'attempt', signal.reason);
    return false;
  }

  /** The state the wait needed has come: the script goes on. */
  private proceed(): void {
    const w = this.wait;
    this.wait = 'none';
    switch (w) {
      case 'handshake': {
        const refused = this.handshakeFailure();
        return refused ? this.fail(refused) : this.runSteps();
      }
      case 'send':
        return this.fail(this.interruption());
      case 'expect': {
        cancelDeadline(this);
        // Frames that arrived before a close are still read in order.
        const frame = this.queue?.shift();
        if (!frame) return this.fail(this.interruption());
        if (this.checkFrame(frame.text, frame.binary, frame.bytes, frame.at)) this.runSteps();
        return;
      }
      case 'server-close':
        return this.serverClosed();
      case 'close':
        cancelDeadline(this);
        return this.closeFinished();
      default:
        this.wait = w;
    }
  }

  private abortWait(kind: AbortKind, reason: unknown): void {
    const w = this.wait;
    if (w === 'none' || w === 'done') return;
    if (w === 'close') {
      if (kind !== this.closeAbort) return;
      // Aborted: the close ends here, the socket is cut.
      this.wait = 'none';
      cancelDeadline(this);
      return this.closeFinished();
    }
    if (kind !== 'attempt') return;
    this.wait = 'none';
    cancelDeadline(this);
    if (w === 'server-close' && classifyError(reason) === 'timeout') {
      const want = this.owner.check.expectClose;
      return this.fail(failure('timeout', `server did not close within ${this.owner.ctx.timeoutMs} ms (expected close ${want?.code})`, this.evidence({ expected: String(want?.code) })));
    }
    this.fail(this.abortFailure(reason));
  }

  /** Runs the steps after the current one until one waits, fails, or the script is done. */
  private runSteps(): void {
    const steps = this.owner.steps;
    for (;;) {
      const step = steps[++this.step];
      if (step === undefined) break;
      if (step.send !== undefined) {
        if (!this.closed && !this.error && !this.overflow && this.sendText(step.send)) {
          this.sentAt = performance.now();
          continue;
        }
        // The server's close frame may be in but the close not finished: wait for its code to report it.
        this.waitFor('send');
        return;
      }
      const frame = this.queue?.shift();
      if (frame) {
        if (!this.checkFrame(frame.text, frame.binary, frame.bytes, frame.at)) return;
        continue;
      }
      if (this.waitFor('expect') && step.timeoutMs) this.owner.stepTimeouts(step.timeoutMs).add(this);
      return;
    }
    this.step = steps.length;
    this.stopQueueing();
    if (this.owner.check.expectClose) this.waitFor('server-close');
    else this.startClose(1000, '', 'attempt');
  }

  /** The frame for the current expect step: false (and the connection failing) when it does not match. */
  private checkFrame(text: string, binary: boolean, bytes: number, at: number | undefined): boolean {
    const step = this.owner.steps[this.step] as ScriptStep;
    // The first message after a send, arrived after it, answers it: its latency is a sample.
    if (this.sentAt !== undefined && at !== undefined && at >= this.sentAt) this.owner.latency(this.index, step.latencySlot, Math.round(at - this.sentAt));
    this.sentAt = undefined;
    const e = step.expect as ExpectStep['expect'];
    const problem = mismatch(e, step.pattern, text);
    if (!problem) return true;
    const expected = describeExpect(e);
    this.fail(
      failure('assertion', `step ${this.step}: unexpected message: ${problem.message}`, {
        ...this.evidence(),
        excerpt: excerpt(binary ? `[binary frame, ${bytes} bytes] ${text}` : text, this.owner.ctx.secrets),
        expected,
        actual: problem.actual,
      }),
    );
    return false;
  }

  /** expectClose: the connection ended; was it the close the check expects? */
  private serverClosed(): void {
    const want = this.owner.check.expectClose as { code: number; reason?: string };
    if (!this.closed || this.error) return this.fail(this.interruption());
    const { code, reason } = this.closed;
    const evidence = this.evidence({ closeCode: code, closeReason: reason, expected: `${want.code}${want.reason ? ` "${want.reason}"` : ''}`, actual: `${code}${reason ? ` "${reason}"` : ''}` });
    if (code !== want.code) {
      return this.fail(failure(classifyCloseCode(code), `expected the server to close with ${want.code}, it closed with ${code}${reason ? ` "${reason}"` : ''}`, evidence));
    }
    if (want.reason !== undefined && !reason.includes(want.reason)) {
      return this.fail(failure('assertion', `server closed with ${code} as expected, but the reason "${reason}" does not contain "${want.reason}"`, evidence));
    }
    this.scriptPassed();
  }

  private scriptPassed(): void {
    const f = this.connectTimeProblem();
    if (f) this.fail(f);
    else this.finish(undefined);
  }

  /**
   * A failed step ends the conversation with a close frame, not a cut: a server that logs abnormal
   * closes (1006, "no close frame received") would otherwise log our failure as its own. Only the
   * suite's abort cuts that courtesy short.
   */
  private fail(f: Failure): void {
    this.failed = f;
    this.owner.watchSuite();
    this.startClose(FAILED_CHECK_CLOSE_CODE, this.closeReason(), 'suite');
  }

  /**
   * Sends a close frame with `code` and waits up to the grace for the server's, so the server sees a
   * clean close (its code, not a 1006 "no close frame received") and a proxy no reset; the socket is
   * cut afterwards if the server never answers. The check's one grace queue rather than a timer per
   * connection; leaving the wait drops the mark, so nothing fires late.
   */
  private startClose(code: number, reason: string, abort: AbortKind): void {
    // CLOSING: a close is under way (the server's, or ours); wait for it to finish all the same.
    if (this.closed || (this.readyState !== WsSession.OPEN && this.readyState !== WsSession.CLOSING)) return this.closeFinished();
    if (this.readyState === WsSession.OPEN) this.close(code, reason);
    this.graceOver = false;
    this.closeAbort = abort;
    this.owner.graces.add(this);
    this.waitFor('close');
  }

  private closeFinished(): void {
    if (this.failed) this.finish(this.failed);
    else this.scriptPassed();
  }

  /** Reports the connection to its check and cuts the socket. */
  private finish(f: Failure | undefined): void {
    this.wait = 'done';
    cancelDeadline(this);
    let out = f;
    if (f && this.firstFrames) {
      // Redacted before the cut, so a secret straddling it cannot leave a readable half.
      const secrets = this.owner.ctx.secrets;
      const firstFrames = this.firstFrames.map((t) => {
        const r = redactText(t, secrets);
        return r.length > FRAME_CHARS ? `${r.slice(0, FRAME_CHARS)}…` : r;
      });
      out = { ...f, evidence: { ...f.evidence, firstFrames } };
    }
    // How the connection ended: the close seen, else the one the failure names. A connection the client
    // cut itself after a failure has no close worth counting.
    const closeCode = this.opened ? (this.closed?.code ?? f?.evidence.closeCode) : undefined;
    const { connectMs, messages } = this;
    this.cut();
    this.owner.done(this.index, connectMs, closeCode, messages, out);
  }

  /** A bug in the script's own code: the connection fails with it rather than the process. */
  private crashed(err: unknown): void {
    if (this.wait === 'done') throw err;
    this.finish(this.abortFailure(err));
  }

  private evidence(extra: Evidence = {}): Evidence {
    const ev: Evidence = { connection: this.index, ...extra };
    if (this.step >= 0 && this.step < this.owner.steps.length) ev.step = this.step;
    if (this.lastFrame !== undefined && ev.excerpt === undefined) ev.excerpt = excerpt(this.lastFrame, this.owner.ctx.secrets);
    return ev;
  }

  /** At most 123 bytes (RFC 6455 §5.5: a control frame's payload is at most 125, 2 for the code). */
  private closeReason(): string {
    const at = this.step < 0 ? 'handshake' : this.step >= this.owner.steps.length ? 'close' : `step ${this.step}`;
    return `deploy-loop: check failed at ${at}`;
  }

  private handshakeFailure(): Failure | undefined {
    if (this.opened) return undefined;
    if (this.rejection) {
      const body = excerpt(this.rejection.body, this.owner.ctx.secrets);
      return failure('ws-handshake-rejected', `handshake rejected with HTTP ${this.rejection.status}`, {
        connection: this.index,
        status: this.rejection.status,
        ...(body ? { excerpt: body } : {}),
      });
    }
    const err = this.error;
    const cls = err ? classifyError(err) : 'ws-handshake-rejected';
    // Errors that are not transport errors come from the 101 response itself (bad accept key, subprotocol).
    const shown = cls === 'check-error' ? 'ws-handshake-rejected' : cls;
    return failure(shown, `handshake failed: ${err ? describeError(err) : 'closed before it was established'}`, {
      connection: this.index,
    });
  }

  /** The connection ended (or was cut) while the script still needed it. */
  private interruption(): Failure {
    const left = this.owner.steps.length - this.step;
    const where = `at step ${this.step} (${left} step(s) not done)`;
    if (this.overflow) {
      return failure(
        'assertion',
        `server flooded the connection: more than ${MAX_QUEUED_MESSAGES} unread messages or ${MAX_QUEUED_BYTES} bytes ${where}; connection cut`,
        this.evidence({ closeCode: 1006 }),
      );
    }
    const code = errorCode(this.error);
    if (code?.startsWith('WS_ERR_')) {
      const closeCode = WS_ERROR_CLOSE_CODES[code] ?? 1002;
      const what = code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? `a message over ${MAX_BODY_BYTES} bytes` : `an invalid frame (${describeError(this.error)})`;
      return failure('ws-unexpected-close', `server sent ${what} ${where}; connection closed with ${closeCode}`, this.evidence({ closeCode }));
    }
    if (this.closed && !(this.closed.code === 1006 && this.error)) {
      const { code: closeCode, reason } = this.closed;
      const said = reason ? ` "${reason}"` : '';
      return failure(classifyCloseCode(closeCode), `server closed the connection with ${closeCode}${said} ${where}`, this.evidence({ closeCode, closeReason: reason }));
    }
    const lost = this.error ? `: ${describeError(this.error)}` : '';
    return failure('ws-unexpected-close', `connection lost ${where}${lost}`, this.evidence({ closeCode: 1006 }));
  }

  private connectTimeProblem(): Failure | undefined {
    const max = this.owner.check.maxConnectMs;
    const took = this.connectMs;
    if (max === undefined || took === undefined || took <= max) return undefined;
    return failure('connect-time', `connect time ${took} ms over ${max} ms (maxConnectMs)`, { connection: this.index, expected: `<= ${max} ms`, actual: `${took} ms` });
  }

  private abortFailure(err: unknown): Failure {
    const phase = this.step < 0 ? 'during the handshake' : this.step >= this.owner.steps.length ? 'while closing' : `at step ${this.step}`;
    const cls = classifyError(err);
    const detail = cls === 'timeout' ? `timed out after ${this.owner.ctx.timeoutMs} ms` : describeError(err);
    return failure(cls, `${detail} ${phase}`, this.evidence());
  }
}

function mismatch(e: ExpectStep['expect'], pattern: RegExp | undefined, text: string): { message: string; actual: string } | undefined {
  if (e.json !== undefined) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { message: 'expected JSON, got a message that is not JSON', actual: 'not JSON' };
    }
    const m = matchJson(e.json, parsed);
    const first = m.mismatches[0];
    if (first) {
      const more = m.mismatches.length > 1 ? ` (and ${m.mismatches.length - 1} more)` : '';
      return { message: `${first.message}${more}`, actual: formatMismatches(m.mismatches) };
    }
  }
  if (e.text !== undefined && !text.includes(e.text)) return { message: `does not contain "${e.text}"`, actual: 'see excerpt' };
  if (pattern !== undefined && !pattern.test(text)) return { message: `does not match /${e.matches}/`, actual: 'see excerpt' };
  return undefined;
}
