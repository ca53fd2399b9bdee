/**
 * One connection of a `websocket` check: handshake, the send/expect script, and the close. Returns
 * what happened; never throws except for an abort of the attempt, which the caller turns into a
 * timeout (or the runner into a skipped check).
 */
import type { WebSocketCheckConfig } from '../config/schema.js';
import { MAX_BODY_BYTES, excerpt, failure, type AttemptContext } from './attempt.js';
import { classifyCloseCode, classifyError, describeError } from './classify.js';
import { formatMismatches, matchJson } from './match.js';
import { redactText } from '../redact.js';
import type { Evidence, Failure } from '../model/check-result.js';
import { MAX_QUEUED_BYTES, MAX_QUEUED_MESSAGES, ended, endedOrFlooded, readable, type WsSession } from './ws-session.js';

/** Each first frame in evidence is cut to this many characters. */
const FRAME_CHARS = 200;

type Step = WebSocketCheckConfig['script'][number];
type ExpectStep = Extract<Step, { expect: unknown }>;
type SendStep = Extract<Step, { send: unknown }>;

export interface ConnectionOutcome {
  index: number;
  connectMs?: number;
  /** Close code this connection ended with, when it ended in a close (not cut by the client). */
  closeCode?: number;
  messages: number;
  /** Per expect step that followed a send: ms from the send to the message's arrival. */
  latencies: number[];
  failure?: Failure;
}

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

export class ConnectionRun {
  /** Index of the step being run; -1 during the handshake, script.length while closing. */
  private step = -1;
  /** performance.now() of the last send not yet answered by an expect step. */
  private sentAt: number | undefined;
  readonly latencies: number[] = [];

  constructor(
    private readonly s: WsSession,
    private readonly index: number,
    private readonly check: WebSocketCheckConfig,
    private readonly ctx: AttemptContext,
  ) {}

  private evidence(extra: Evidence = {}): Evidence {
    const ev: Evidence = { connection: this.index, ...extra };
    if (this.step >= 0 && this.step < this.check.script.length) ev.step = this.step;
    if (this.s.lastFrame !== undefined && ev.excerpt === undefined) ev.excerpt = excerpt(this.s.lastFrame, this.ctx.secrets);
    return ev;
  }

  async run(): Promise<Failure | undefined> {
    const f = await this.runScript();
    // A failed step ends the conversation with a close frame, not a cut: a server that logs
    // abnormal closes (1006, "no close frame received") would otherwise log our failure as its own.
    if (f) await this.s.close(FAILED_CHECK_CLOSE_CODE, this.closeReason(), this.ctx.suiteSignal);
    if (!f || this.s.firstFrames.length === 0) return f;
    // Redacted before the cut, so a secret straddling it cannot leave a readable half.
    const firstFrames = this.s.firstFrames.map((t) => {
      const r = redactText(t, this.ctx.secrets);
      return r.length > FRAME_CHARS ? `${r.slice(0, FRAME_CHARS)}…` : r;
    });
    return { ...f, evidence: { ...f.evidence, firstFrames } };
  }

  private async runScript(): Promise<Failure | undefined> {
    try {
      await this.s.waitHandshake(this.ctx.signal);
      const refused = this.handshakeFailure();
      if (refused) return refused;
      for (const [i, step] of this.check.script.entries()) {
        this.step = i;
        const f = 'send' in step ? await this.send(step.send) : await this.expectNext(step);
        if (f) return f;
      }
      this.step = this.check.script.length;
      this.s.stopQueueing();
      const closeProblem = this.check.expectClose ? await this.awaitServerClose(this.check.expectClose) : await this.closeOurselves();
      if (closeProblem) return closeProblem;
      return this.connectTimeProblem();
    } catch (err) {
      return this.abortFailure(err);
    }
  }

  /** At most 123 bytes (RFC 6455 §5.5: a control frame's payload is at most 125, 2 for the code). */
  private closeReason(): string {
    const at = this.step < 0 ? 'handshake' : this.step >= this.check.script.length ? 'close' : `step ${this.step}`;
    return `deploy-loop: check failed at ${at}`;
  }

  private handshakeFailure(): Failure | undefined {
    const s = this.s;
    if (s.opened) return undefined;
    if (s.rejection) {
      const body = excerpt(s.rejection.body, this.ctx.secrets);
      return failure('ws-handshake-rejected', `handshake rejected with HTTP ${s.rejection.status}`, {
        connection: this.index,
        status: s.rejection.status,
        ...(body ? { excerpt: body } : {}),
      });
    }
    const err = s.error;
    const cls = err ? classifyError(err) : 'ws-handshake-rejected';
    // Errors that are not transport errors come from the 101 response itself (bad accept key, subprotocol).
    const shown = cls === 'check-error' ? 'ws-handshake-rejected' : cls;
    return failure(shown, `handshake failed: ${err ? describeError(err) : 'closed before it was established'}`, {
      connection: this.index,
    });
  }

  private async send(payload: SendStep['send']): Promise<Failure | undefined> {
    const s = this.s;
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    if (!s.closed && !s.error && !s.overflow && s.send(text)) {
      this.sentAt = performance.now();
      return undefined;
    }
    // The server's close frame may be in but the close not finished: wait for its code to report it.
    await s.until(endedOrFlooded, this.ctx.signal);
    return this.interruption();
  }

  private async expectNext(step: ExpectStep): Promise<Failure | undefined> {
    const s = this.s;
    const signal = step.timeoutMs ? AbortSignal.any([this.ctx.signal, AbortSignal.timeout(step.timeoutMs)]) : this.ctx.signal;
    try {
      await s.until(readable, signal);
    } catch (err) {
      if (this.ctx.signal.aborted) throw err;
      return failure('timeout', `step ${this.step}: no message within ${step.timeoutMs} ms (expected ${describeExpect(step.expect)})`, this.evidence({ expected: describeExpect(step.expect) }));
    }
    // Frames that arrived before a close are still read in order.
    const frame = s.queue.shift();
    if (!frame) return this.interruption();
    // The first message after a send, arrived after it, answers it: its latency is a sample.
    if (this.sentAt !== undefined && frame.at !== undefined && frame.at >= this.sentAt) this.latencies.push(Math.round(frame.at - this.sentAt));
    this.sentAt = undefined;
    const problem = this.mismatch(step.expect, frame.text);
    if (!problem) return undefined;
    return failure('assertion', `step ${this.step}: unexpected message: ${problem.message}`, {
      ...this.evidence(),
      excerpt: excerpt(frame.binary ? `[binary frame, ${frame.bytes} bytes] ${frame.text}` : frame.text, this.ctx.secrets),
      expected: describeExpect(step.expect),
      actual: problem.actual,
    });
  }

  private mismatch(e: ExpectStep['expect'], text: string): { message: string; actual: string } | undefined {
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
    if (e.matches !== undefined && !new RegExp(e.matches).test(text)) return { message: `does not match /${e.matches}/`, actual: 'see excerpt' };
    return undefined;
  }

  /** The connection ended (or was cut) while the script still needed it. */
  private interruption(): Failure {
    const s = this.s;
    const left = this.check.script.length - this.step;
    const where = `at step ${this.step} (${left} step(s) not done)`;
    if (s.overflow) {
      return failure(
        'assertion',
        `server flooded the connection: more than ${MAX_QUEUED_MESSAGES} unread messages or ${MAX_QUEUED_BYTES} bytes ${where}; connection cut`,
        this.evidence({ closeCode: 1006 }),
      );
    }
    const code = errorCode(s.error);
    if (code?.startsWith('WS_ERR_')) {
      const closeCode = WS_ERROR_CLOSE_CODES[code] ?? 1002;
      const what = code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? `a message over ${MAX_BODY_BYTES} bytes` : `an invalid frame (${describeError(s.error)})`;
      return failure('ws-unexpected-close', `server sent ${what} ${where}; connection closed with ${closeCode}`, this.evidence({ closeCode }));
    }
    if (s.closed && !(s.closed.code === 1006 && s.error)) {
      const { code: closeCode, reason } = s.closed;
      const said = reason ? ` "${reason}"` : '';
      return failure(classifyCloseCode(closeCode), `server closed the connection with ${closeCode}${said} ${where}`, this.evidence({ closeCode, closeReason: reason }));
    }
    const lost = s.error ? `: ${describeError(s.error)}` : '';
    return failure('ws-unexpected-close', `connection lost ${where}${lost}`, this.evidence({ closeCode: 1006 }));
  }

  private async awaitServerClose(want: { code: number; reason?: string }): Promise<Failure | undefined> {
    const s = this.s;
    try {
      await s.until(ended, this.ctx.signal);
    } catch (err) {
      if (classifyError(err) !== 'timeout') throw err;
      return failure('timeout', `server did not close within ${this.ctx.timeoutMs} ms (expected close ${want.code})`, this.evidence({ expected: String(want.code) }));
    }
    if (!s.closed || s.error) return this.interruption();
    const { code, reason } = s.closed;
    const evidence = this.evidence({ closeCode: code, closeReason: reason, expected: `${want.code}${want.reason ? ` "${want.reason}"` : ''}`, actual: `${code}${reason ? ` "${reason}"` : ''}` });
    if (code !== want.code) {
      return failure(classifyCloseCode(code), `expected the server to close with ${want.code}, it closed with ${code}${reason ? ` "${reason}"` : ''}`, evidence);
    }
    if (want.reason !== undefined && !reason.includes(want.reason)) {
      return failure('assertion', `server closed with ${code} as expected, but the reason "${reason}" does not contain "${want.reason}"`, evidence);
    }
    return undefined;
  }

  private async closeOurselves(): Promise<Failure | undefined> {
    await this.s.closeNormally(this.ctx.signal);
    return undefined;
  }

  private connectTimeProblem(): Failure | undefined {
    const max = this.check.maxConnectMs;
    const took = this.s.connectMs;
    if (max === undefined || took === undefined || took <= max) return undefined;
    return failure('connect-time', `connect time ${took} ms over ${max} ms (maxConnectMs)`, { connection: this.index, expected: `<= ${max} ms`, actual: `${took} ms` });
  }

  private abortFailure(err: unknown): Failure {
    const phase = this.step < 0 ? 'during the handshake' : this.step >= this.check.script.length ? 'while closing' : `at step ${this.step}`;
    const cls = classifyError(err);
    const detail = cls === 'timeout' ? `timed out after ${this.ctx.timeoutMs} ms` : describeError(err);
    return failure(cls, `${detail} ${phase}`, this.evidence());
  }
}
