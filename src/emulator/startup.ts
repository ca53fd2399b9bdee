/**
 * How a revision's container is judged started, as Cloud Run judges it
 * (cloud.google.com/run/docs/configuring/healthchecks):
 *
 * - no `startupProbe` in the template: the default TCP probe on the container port, equivalent to
 *   `tcpSocket: {port}, timeoutSeconds: 240, periodSeconds: 240, failureThreshold: 1`; whatever
 *   the service answers over HTTP (a 500 included) does not matter;
 * - `startupProbe.tcpSocket`: a TCP connect;
 * - `startupProbe.httpGet`: a GET on its path, started on any status from 200 to 399;
 * - `startupProbe.grpc`: treated as TCP (a divergence: the emulator speaks no gRPC health protocol).
 *
 * The budget is `initialDelaySeconds + periodSeconds × failureThreshold` (proto defaults 0, 10, 3),
 * capped by the emulator config's `startup.timeoutMs` so rehearsals and tests need not wait 240 s.
 * The emulator probes every `startup.intervalMs` within that budget rather than once a period.
 */
import http from 'node:http';
import net from 'node:net';
import type { ReadinessProbe } from '../runtime/revision-process.js';
import type { Container } from './types.js';

/** Cloud Run's default startup probe: 240 s to accept a TCP connection. */
export const DEFAULT_STARTUP_BUDGET_MS = 240_000;

interface ProbeSpec {
  initialDelaySeconds?: number;
  timeoutSeconds?: number;
  periodSeconds?: number;
  failureThreshold?: number;
  httpGet?: { path?: string; port?: number; httpHeaders?: Array<{ name?: string; value?: string }> } | null;
  tcpSocket?: { port?: number } | null;
  grpc?: { port?: number; service?: string } | null;
}

export interface StartupProbe {
  kind: 'tcp' | 'http';
  /** Whether the template configured it (Cloud Run says "Default STARTUP TCP probe" otherwise). */
  configured: boolean;
  /** The container port it names, for messages (the process really listens on the port the emulator gave it in PORT). */
  port: number;
  path: string;
  headers: Record<string, string>;
  failureThreshold: number;
  /** Cloud Run's time between attempts; the default probe makes one long attempt. */
  periodMs: number;
  /** Longest wait for one attempt. */
  attemptTimeoutMs: number;
  /** Total time the container has to pass the probe. */
  budgetMs: number;
}

/** Non-zero number from a proto3 field (unset arrives as undefined, 0 or null). */
const set = (v: unknown): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);

/** The startup probe a container gets, from its template, with the emulator's cap on the budget. */
export function startupProbeOf(container: Container, capMs: number | undefined): StartupProbe {
  const port = container.ports?.[0]?.containerPort || 8080;
  const spec = (container.startupProbe ?? undefined) as ProbeSpec | undefined;
  const cap = (ms: number) => (capMs !== undefined ? Math.min(ms, capMs) : ms);
  if (!spec || (!spec.httpGet && !spec.tcpSocket && !spec.grpc)) {
    return { kind: 'tcp', configured: false, port, path: '', headers: {}, failureThreshold: 1, periodMs: DEFAULT_STARTUP_BUDGET_MS, attemptTimeoutMs: DEFAULT_STARTUP_BUDGET_MS, budgetMs: cap(DEFAULT_STARTUP_BUDGET_MS) };
  }
  const period = set(spec.periodSeconds) ?? 10;
  const failureThreshold = set(spec.failureThreshold) ?? 3;
  const budgetMs = cap(((set(spec.initialDelaySeconds) ?? 0) + period * failureThreshold) * 1000);
  const attemptTimeoutMs = (set(spec.timeoutSeconds) ?? 1) * 1000;
  if (spec.httpGet) {
    const headers: Record<string, string> = {};
    for (const h of spec.httpGet.httpHeaders ?? []) if (h.name) headers[h.name] = h.value ?? '';
    return { kind: 'http', configured: true, port: set(spec.httpGet.port) ?? port, path: spec.httpGet.path || '/', headers, failureThreshold, periodMs: period * 1000, attemptTimeoutMs, budgetMs };
  }
  const p = set(spec.tcpSocket?.port) ?? set(spec.grpc?.port) ?? port;
  return { kind: 'tcp', configured: true, port: p, path: '', headers: {}, failureThreshold, periodMs: period * 1000, attemptTimeoutMs, budgetMs };
}

/** What the last attempt saw, for Cloud Run's log line. */
export interface ProbeTrace {
  /** performance.now() of the first attempt. */
  startedAt?: number;
  /** The last HTTP status received; undefined when no attempt got an answer. */
  lastStatus?: number;
}

/** The probe as the shared revision starter takes it; `trace` records what the attempts saw. */
export function readinessFor(probe: StartupProbe, intervalMs: number, trace: ProbeTrace): ReadinessProbe {
  return {
    path: probe.path || '/',
    timeoutMs: probe.budgetMs,
    intervalMs,
    check: async (host, port, remainingMs) => {
      trace.startedAt ??= performance.now();
      const timeoutMs = Math.max(1, Math.min(probe.attemptTimeoutMs, remainingMs));
      if (probe.kind === 'tcp') return tcpConnects(host, port, timeoutMs);
      const status = await httpStatus(host, port, probe.path, probe.headers, timeoutMs);
      if (status !== undefined) trace.lastStatus = status;
      return status !== undefined && status >= 200 && status < 400;
    },
  };
}

/**
 * A port a container engine publishes accepts connections before anything listens inside (its port
 * forwarder then hangs up at once): a connection counts only once it has stayed open this long.
 */
const TCP_SETTLE_MS = 100;

function tcpConnects(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    let settle: NodeJS.Timeout | undefined;
    const done = (ok: boolean) => {
      clearTimeout(timer);
      clearTimeout(settle);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => {
      settle = setTimeout(() => done(true), Math.min(TCP_SETTLE_MS, timeoutMs));
    });
    socket.once('error', () => done(false));
    socket.once('end', () => done(false));
    socket.once('close', () => done(false));
  });
}

function httpStatus(host: string, port: number, path: string, headers: Record<string, string>, timeoutMs: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, headers, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

/**
 * Cloud Run's run.googleapis.com/varlog/system line when the probe passes ("Default STARTUP TCP
 * probe succeeded after 1 attempt for container "worker" on port 8080."). The emulator probes more
 * often than Cloud Run; the attempts counted are Cloud Run's, one per period.
 */
export function probeSucceededLine(probe: StartupProbe, container: string, trace: ProbeTrace): string {
  const elapsed = trace.startedAt === undefined ? 0 : performance.now() - trace.startedAt;
  const attempts = Math.min(probe.failureThreshold, 1 + Math.floor(elapsed / probe.periodMs));
  return `${probeName(probe)} succeeded after ${attempts} ${attempts === 1 ? 'attempt' : 'attempts'} for container "${container}" on port ${probe.port}${pathPart(probe)}.`;
}

/**
 * Cloud Run's line when the probe fails ("Default STARTUP TCP probe failed 1 time consecutively for
 * container "worker" on port 8080. The instance was not started.", 1Password/scim-examples#309 and
 * many more; "STARTUP HTTP probe failed 3 times consecutively … path "/health/ready". The instance
 * was not started. Connection failed with status ERROR_CONNECTION_FAILED.").
 */
export function probeFailedText(probe: StartupProbe, container: string, trace: ProbeTrace): string {
  const n = probe.failureThreshold;
  const first = `${probeName(probe)} failed ${n} ${n === 1 ? 'time' : 'times'} consecutively for container "${container}" on port ${probe.port}${pathPart(probe)}. The instance was not started.`;
  if (probe.kind !== 'http') return first;
  // Cloud Run's wording for a probe that got an HTTP answer is not published; this second line is the emulator's.
  const why = trace.lastStatus !== undefined ? `The probe got HTTP status ${trace.lastStatus}; only 200 to 399 pass.` : 'Connection failed with status ERROR_CONNECTION_FAILED.';
  return `${first}\n${why}`;
}

function probeName(probe: StartupProbe): string {
  return `${probe.configured ? '' : 'Default '}STARTUP ${probe.kind === 'http' ? 'HTTP' : 'TCP'} probe`;
}

function pathPart(probe: StartupProbe): string {
  return probe.kind === 'http' ? ` path "${probe.path}"` : '';
}
