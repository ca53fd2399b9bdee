/**
 * The `websocket` check: `connections` clients opened in parallel, each running the script, summed
 * up into figures (connect-time percentiles, close-code histogram, message count). The check fails
 * if any connection fails; the failure shown is the lowest-numbered failing connection's.
 */
import type { WebSocketCheckConfig } from '../config/schema.js';
import { failedOutcome, failure, joinUrl, type AttemptContext, type AttemptOutcome } from './attempt.js';
import { describeError } from './classify.js';
import { redactUrl } from '../redact.js';
import type { CheckFigures } from '../model/check-result.js';
import { percentile, thinSamples } from '../model/samples.js';
import { ConnectionRun, type ConnectionOutcome } from './ws-script.js';
import { WsSession } from './ws-session.js';

/** The check's URL: the base URL with http(s) turned into ws(s), the path appended. */
export function webSocketUrl(baseUrl: string, path: string): URL {
  const url = joinUrl(baseUrl, path);
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  return url;
}

async function runConnection(index: number, check: WebSocketCheckConfig, url: URL, ctx: AttemptContext): Promise<ConnectionOutcome> {
  let session: WsSession;
  try {
    session = new WsSession(url, check.subprotocols, ctx.headers);
  } catch (err) {
    // ws validates the URL, subprotocols and header values synchronously: a problem of the check itself.
    return { index, messages: 0, latencies: [], failure: failure('check-error', `cannot open ${redactUrl(url, ctx.secrets)}: ${describeError(err)}`, { connection: index }) };
  }
  try {
    const run = new ConnectionRun(session, index, check, ctx);
    const f = await run.run();
    const out: ConnectionOutcome = { index, messages: session.messages, latencies: run.latencies };
    if (session.connectMs !== undefined) out.connectMs = session.connectMs;
    // How the connection ended: the close seen, else the one the failure names. A connection the client
    // cut itself after a failure has no close worth counting.
    const closeCode = session.closed?.code ?? f?.evidence.closeCode;
    if (session.opened && closeCode !== undefined) out.closeCode = closeCode;
    if (f) out.failure = f;
    return out;
  } finally {
    session.terminate();
  }
}

/**
 * The check's figures from its connections' outcomes, in one pass (this runs once per check, and a
 * check may hold 10,000 connections). The same figures, keys and sample thinning as mergeSamples.
 */
function summarize(outcomes: ConnectionOutcome[], n: number): CheckFigures {
  const figures: CheckFigures = {};
  const first = outcomes[0];
  if (first?.connectMs !== undefined) figures.connectMs = first.connectMs;
  let messages = 0;
  let codes: Record<string, number> | undefined;
  const connects: number[] = [];
  let latencies: number[] = [];
  for (const o of outcomes) {
    messages += o.messages;
    if (o.closeCode !== undefined) {
      codes ??= {};
      const k = String(o.closeCode);
      codes[k] = (codes[k] ?? 0) + 1;
    }
    if (o.connectMs !== undefined) connects.push(o.connectMs);
    if (o.latencies.length > 0) latencies = latencies.length === 0 ? o.latencies : latencies.concat(o.latencies);
  }
  figures.messages = messages;
  if (codes) figures.closeCodes = codes;
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

export async function runWebSocketAttempt(check: WebSocketCheckConfig, baseUrl: string, ctx: AttemptContext): Promise<AttemptOutcome> {
  let url: URL;
  try {
    url = webSocketUrl(baseUrl, check.path);
  } catch (err) {
    return failedOutcome(failure('check-error', `invalid URL from base "${redactUrl(baseUrl)}" and path "${check.path}": ${describeError(err)}`));
  }
  const n = check.connections;
  const outcomes = n === 1 ? [await runConnection(0, check, url, ctx)] : await Promise.all(Array.from({ length: n }, (_, i) => runConnection(i, check, url, ctx)));
  const figures = summarize(outcomes, n);
  const failed = outcomes.filter((o) => o.failure !== undefined);
  const first = failed[0]?.failure;
  if (!first) return { status: 'pass', figures };
  const where = `${redactUrl(url, ctx.secrets)}`;
  const message = n > 1 ? `${where}: ${failed.length} of ${n} connections failed; connection ${failed[0]?.index}: ${first.message}` : `${where}: ${first.message}`;
  return failedOutcome({ ...first, message }, figures);
}
