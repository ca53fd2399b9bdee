/**
 * The `websocket` check: `connections` clients opened in parallel, each running the script, summed
 * up into figures (connect-time percentiles, close-code histogram, message count). The check fails
 * if any connection fails; the failure shown is the lowest-numbered failing connection's.
 */
import type { WebSocketCheckConfig } from '../config/schema.js';
import { failedOutcome, failure, joinUrl, type AttemptContext, type AttemptOutcome } from './attempt.js';
import { describeError } from './classify.js';
import { redactUrl } from './redact.js';
import type { CheckFigures } from '../model/check-result.js';
import { mergeSamples, percentile } from '../model/samples.js';
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

function summarize(outcomes: ConnectionOutcome[], n: number): CheckFigures {
  const figures: CheckFigures = {};
  const first = outcomes[0];
  if (first?.connectMs !== undefined) figures.connectMs = first.connectMs;
  figures.messages = outcomes.reduce((sum, o) => sum + o.messages, 0);
  const codes: Record<string, number> = {};
  for (const o of outcomes) if (o.closeCode !== undefined) codes[String(o.closeCode)] = (codes[String(o.closeCode)] ?? 0) + 1;
  if (Object.keys(codes).length > 0) figures.closeCodes = codes;
  // Every connection's connect time and every message latency: what thresholds run over.
  const samples = mergeSamples(
    outcomes.map((o) => ({ samples: { connectMs: o.connectMs === undefined ? [] : [o.connectMs], latencyMs: o.latencies } })),
  );
  if (samples) figures.samples = samples;
  if (n > 1) {
    figures.connections = n;
    const connects = outcomes.flatMap((o) => (o.connectMs === undefined ? [] : [o.connectMs])).sort((a, b) => a - b);
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
  const outcomes = await Promise.all(Array.from({ length: n }, (_, i) => runConnection(i, check, url, ctx)));
  const figures = summarize(outcomes, n);
  const failed = outcomes.filter((o) => o.failure !== undefined);
  const first = failed[0]?.failure;
  if (!first) return { status: 'pass', figures };
  const where = `${redactUrl(url, ctx.secrets)}`;
  const message = n > 1 ? `${where}: ${failed.length} of ${n} connections failed; connection ${failed[0]?.index}: ${first.message}` : `${where}: ${first.message}`;
  return failedOutcome({ ...first, message }, figures);
}
