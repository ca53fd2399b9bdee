/**
 * The first request after a deploy, timed on its own: a fresh revision's first answer (cold start,
 * lazy init) is slower than the ones the smoke suite then measures, and worth seeing separately.
 */
import type { CheckConfig } from '../config/schema.js';
import { joinUrl } from '../smoke/attempt.js';

/**
 * Milliseconds for one GET (to the first http check's path, else `/`) to answer with headers, any
 * status; undefined when it got no answer (refused, timed out, aborted): the suite reports that.
 */
export async function measureColdStart(
  baseUrl: string,
  checks: readonly CheckConfig[],
  opts: { timeoutMs: number; headers?: Record<string, string>; signal?: AbortSignal },
): Promise<number | undefined> {
  const first = checks.find((c) => c.kind === 'http');
  let url: URL;
  try {
    url = joinUrl(baseUrl, first?.path ?? '/');
  } catch {
    return undefined;
  }
  const signals = [AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])];
  const started = performance.now();
  try {
    const res = await fetch(url, { headers: opts.headers ?? {}, signal: AbortSignal.any(signals), redirect: 'manual' });
    const ms = Math.round(performance.now() - started);
    // The body is not needed; cancelling frees the connection.
    await res.body?.cancel().catch(() => undefined);
    return ms;
  } catch {
    return undefined;
  }
}
