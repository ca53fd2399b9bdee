/**
 * The `websocket` check: `connections` clients opened in parallel, each running the script, summed
 * up into figures (connect-time percentiles, close-code histogram, message count). The check fails
 * if any connection fails; the failure shown is the lowest-numbered failing connection's.
 *
 * What all connections share lives here, once per attempt: the compiled script, one watch on each
 * abort signal, one deadline queue per wait length, and the figures, which each connection adds to
 * as it ends (connect times and latencies in arrays indexed by connection, so they come out in
 * connection order whatever order the connections end in).
 */
import type { WebSocketCheckConfig } from '../config/schema.js';
import { failedOutcome, failure, joinUrl, type AttemptContext, type AttemptOutcome } from './attempt.js';
import { describeError } from './classify.js';
import { redactUrl } from '../redact.js';
import type { CheckFigures, Failure } from '../model/check-result.js';
import { percentile, thinSamples } from '../model/samples.js';
import { onAbort } from './abort-fanout.js';
import { ConnectionRun, compileScript, type CheckRun, type ScriptStep } from './ws-script.js';
import { CLOSE_GRACE_MS } from './ws-session.js';
import { DeadlineQueue } from './ws-deadlines.js';

/** The check's URL: the base URL with http(s) turned into ws(s), the path appended. */
export function webSocketUrl(baseUrl: string, path: string): URL {
  const url = joinUrl(baseUrl, path);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  return url;
}

/**
 * The URL of each (base, path) seen, shared by every attempt and connection: parsing it and changing
 * its scheme was a measurable part of a one-connection check. Nothing mutates it (ws reads it, and
 * redactUrl parses a copy); a long loop sees a new tag URL per cycle, so the cache is bounded.
 */
const checkUrls = new Map<string, URL>();

function checkUrl(baseUrl: string, path: string): URL {
  const key = `${baseUrl} ${path}`;
  let url = checkUrls.get(key);
  if (url === undefined) {
    url = webSocketUrl(baseUrl, path);
    if (checkUrls.size >= 256) checkUrls.clear();
    checkUrls.set(key, url);
  }
  return url;
}

/**
 * The close-code histogram as the record's plain object, made by JSON.parse rather than by assigning
 * keys: V8 gives an object assigned the integer-like key "1000" a fast elements array of 1,001 slots
 * (12 KiB and 15-30 µs per object, measured on node 24), where JSON.parse makes the same object in
 * 0.2 KiB and under 1 µs. Keys and counts are integers, so the JSON needs no escaping.
 */
function histogram(counts: Map<number, number>): Record<string, number> {
  let json = '';
  for (const [code, count] of counts) json += `${json === '' ? '' : ','}"${code}":${count}`;
  return JSON.parse(`{${json}}`) as Record<string, number>;
}

class WebSocketCheckRun implements CheckRun {
  readonly steps: readonly ScriptStep[];
  readonly attemptSignal: AbortSignal;
  readonly graces = new DeadlineQueue(CLOSE_GRACE_MS);
  private stepQueues: Map<number, DeadlineQueue> | undefined;
  private readonly n: number;
  /** The connections still running, by index (a finished one is dropped, so it can be collected). */
  private readonly live: (ConnectionRun | undefined)[];
  private left: number;
  /** Per connection: its connect time (NaN: it never opened). */
  private readonly connects: Float64Array;
  /** Per connection and expect step (latencySlots per connection): the latency (NaN: none). */
  private readonly latencies: Float64Array;
  private readonly latencySlots: number;
  private messages = 0;
  private closeCodes: Map<number, number> | undefined;
  private failures = 0;
  private firstFailed: { index: number; failure: Failure } | undefined;
  private stopWatching: (() => void)[] = [];
  private suiteWatched = false;
  private finished: (() => void) | undefined;

  constructor(
    readonly check: WebSocketCheckConfig,
    readonly ctx: AttemptContext,
    private readonly url: URL,
  ) {
    const { steps, latencySlots } = compileScript(check.script);
    this.steps = steps;
    this.latencySlots = latencySlots;
    this.n = check.connections;
    this.left = this.n;
    this.live = new Array<ConnectionRun | undefined>(this.n);
    this.connects = new Float64Array(this.n).fill(NaN);
    this.latencies = new Float64Array(this.n * latencySlots).fill(NaN);
    this.attemptSignal = ctx.signal;
  }

  async run(): Promise<AttemptOutcome> {
    const allDone = new Promise<void>((resolve) => (this.finished = resolve));
    // One watch per signal for the whole check; an already aborted signal is seen by each wait.
    const attempt = this.attemptSignal;
    if (!attempt.aborted) this.stopWatching.push(onAbort(attempt, () => this.abortAll('attempt', attempt.reason)));
    for (let i = 0; i < this.n; i++) {
      let c: ConnectionRun;
      try {
        c = new ConnectionRun(this, i, this.url);
      } catch (err) {
        // ws validates the URL, subprotocols and header values synchronously: a problem of the check itself.
        this.done(i, undefined, undefined, 0, failure('check-error', `cannot open ${redactUrl(this.url, this.ctx.secrets)}: ${describeError(err)}`, { connection: i }));
        continue;
      }
      this.live[i] = c;
      c.start();
    }
    if (this.left > 0) await allDone;
    return this.outcome();
  }

  watchSuite(): void {
    // Only a failing connection's close waits on the suite alone, so a passing check never watches it.
    if (this.suiteWatched) return;
    this.suiteWatched = true;
    const suite = this.ctx.suiteSignal;
    if (suite && !suite.aborted) this.stopWatching.push(onAbort(suite, () => this.abortAll('suite', suite.reason)));
  }

  stepTimeouts(ms: number): DeadlineQueue {
    this.stepQueues ??= new Map();
    let q = this.stepQueues.get(ms);
    if (!q) {
      q = new DeadlineQueue(ms);
      this.stepQueues.set(ms, q);
    }
    return q;
  }

  latency(index: number, slot: number, ms: number): void {
    this.latencies[index * this.latencySlots + slot] = ms;
  }

  done(index: number, connectMs: number | undefined, closeCode: number | undefined, messages: number, f: Failure | undefined): void {
    this.live[index] = undefined;
    if (connectMs !== undefined) this.connects[index] = connectMs;
    this.messages += messages;
    if (closeCode !== undefined) {
      this.closeCodes ??= new Map();
      this.closeCodes.set(closeCode, (this.closeCodes.get(closeCode) ?? 0) + 1);
    }
    if (f) {
      this.failures++;
      if (!this.firstFailed || index < this.firstFailed.index) this.firstFailed = { index, failure: f };
    }
    if (--this.left > 0) return;
    for (const stop of this.stopWatching) stop();
    this.stopWatching = [];
    this.graces.dispose();
    if (this.stepQueues) for (const q of this.stepQueues.values()) q.dispose();
    this.finished?.();
  }

  private abortAll(kind: 'attempt' | 'suite', reason: unknown): void {
    for (let i = 0; i < this.n; i++) this.live[i]?.aborted(kind, reason);
  }

  private outcome(): AttemptOutcome {
    const figures = this.figures();
    const first = this.firstFailed;
    if (!first) return { status: 'pass', figures };
    const where = `${redactUrl(this.url, this.ctx.secrets)}`;
    const message = this.n > 1 ? `${where}: ${this.failures} of ${this.n} connections failed; connection ${first.index}: ${first.failure.message}` : `${where}: ${first.failure.message}`;
    return failedOutcome({ ...first.failure, message }, figures);
  }

  /** The check's figures, in one pass over the connections: the same figures, keys and sample thinning as mergeSamples. */
  private figures(): CheckFigures {
    const figures: CheckFigures = {};
    const n = this.n;
    const first = this.connects[0];
    if (first !== undefined && !Number.isNaN(first)) figures.connectMs = first;
    const connects: number[] = [];
    const latencies: number[] = [];
    const slots = this.latencySlots;
    for (let i = 0; i < n; i++) {
      const c = this.connects[i] as number;
      if (!Number.isNaN(c)) connects.push(c);
      for (let j = i * slots; j < (i + 1) * slots; j++) {
        const l = this.latencies[j] as number;
        if (!Number.isNaN(l)) latencies.push(l);
      }
    }
    figures.messages = this.messages;
    if (this.closeCodes) figures.closeCodes = histogram(this.closeCodes);
    // Every connection's connect time and every message latency: what thresholds run over.
    if (latencies.length > 0 || connects.length > 0) {
      const samples: NonNullable<CheckFigures['samples']> = {};
      const measured: { latencyMs?: number; connectMs?: number } = {};
      if (latencies.length > 0) {
        samples.latencyMs = thinSamples(latencies);
        if (samples.latencyMs.length !== latencies.length) measured.latencyMs = latencies.length;
      }
      if (connects.length > 0) {
        samples.connectMs = thinSamples(connects);
        if (samples.connectMs.length !== connects.length) measured.connectMs = connects.length;
      }
      if (measured.latencyMs !== undefined || measured.connectMs !== undefined) samples.measured = measured;
      figures.samples = samples;
    }
    if (n > 1) {
      figures.connections = n;
      connects.sort((a, b) => a - b);
      const p50 = percentile(connects, 50);
      const p95 = percentile(connects, 95);
      if (p50 !== undefined) figures.connectP50Ms = p50;
      if (p95 !== undefined) figures.connectP95Ms = p95;
      if (connects.length > 0) figures.connectMaxMs = connects[connects.length - 1];
    }
    return figures;
  }
}

export async function runWebSocketAttempt(check: WebSocketCheckConfig, baseUrl: string, ctx: AttemptContext): Promise<AttemptOutcome> {
  let url: URL;
  try {
    url = checkUrl(baseUrl, check.path);
  } catch (err) {
    return failedOutcome(failure('check-error', `invalid URL from base "${redactUrl(baseUrl)}" and path "${check.path}": ${describeError(err)}`));
  }
  return new WebSocketCheckRun(check, ctx, url).run();
}
