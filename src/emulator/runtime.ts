/**
 * Where emulated revisions really run: one local process per revision (the image mapped to a
 * command by the emulator config), and one TrafficProxy per service serving its URL and tag URLs.
 * Reuses the local target's process and proxy code, so both targets behave alike.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type net from 'node:net';
import type { Logger } from '../log.js';
import { REVISION_HEADER, TrafficProxy, type ProxyRoutes } from '../runtime/proxy.js';
import { containerRunSettings, startContainerRevision } from '../runtime/container-runtime.js';
import { startRevision, type RunningRevision, type StartRevisionOutcome } from '../runtime/revision-process.js';
import { commandForImage, secretValue, startupSettings, type EmulatorConfig } from './config.js';
import { capturingLogger, revisionLogsUrl, type LogStore } from './logging.js';
import type { Faults } from './faults.js';
import { probeFailedText, probeSucceededLine, readinessFor, startupProbeOf, type ProbeTrace, type StartupProbe } from './startup.js';
import type { Container } from './types.js';

export interface RevisionLaunch {
  /** Full resource name; the key of the running process. */
  key: string;
  /** Short name, `svc-00001-abc`. */
  name: string;
  serviceId: string;
  container: Container;
}

/** A failed start, phrased as the revision's Ready condition. */
export interface LaunchFailure {
  reason?: string;
  revisionReason?: string;
  message: string;
}

export type LaunchResult = { ok: true; url: string; startMs: number } | { ok: false; failure: LaunchFailure };


export class RevisionRuntime {
  private readonly running = new Map<string, RunningRevision>();
  private readonly starting = new Map<string, Promise<LaunchResult>>();
  private readonly proxies = new Map<string, TrafficProxy>();
  private closed = false;
  /** Aborts revision starts in flight when the emulator shuts down. */
  private readonly abort = new AbortController();
  /** Who may call a service's URLs (set by EmulatorState: its IAM policy and invokerIamDisabled). */
  admission: ((serviceKey: string, headers: IncomingHttpHeaders) => { status: number; body: string } | undefined) | undefined;
  /** Request timeout (ms) of each revision a connection to this port of the service's URLs may reach (set by EmulatorState). */
  requestTimeouts: ((serviceKey: string, port: number) => Map<string, number>) | undefined;
  /** Request timeout (ms) of one revision of a service (set by EmulatorState). */
  revisionTimeout: ((serviceKey: string, revision: string) => number | undefined) | undefined;

  constructor(
    private readonly opts: { config: EmulatorConfig; baseDir: string; faults: Faults; log: Logger; host: string; logs: LogStore },
  ) {}

  /** Aborted when the emulator shuts down: background waits end early. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Starts the revision unless it is already running; concurrent calls share one start. */
  launch(rev: RevisionLaunch): Promise<LaunchResult> {
    const url = this.urlOf(rev.key);
    if (url) return Promise.resolve({ ok: true, url, startMs: 0 });
    let pending = this.starting.get(rev.key);
    if (!pending) {
      pending = this.start(rev).finally(() => this.starting.delete(rev.key));
      this.starting.set(rev.key, pending);
    }
    return pending;
  }

  /** The revision's local URL while its process is alive. */
  urlOf(key: string): string | undefined {
    const r = this.running.get(key);
    return r && !r.process.hasExited() ? r.url : undefined;
  }

  async stop(key: string): Promise<void> {
    const r = this.running.get(key);
    this.running.delete(key);
    await r?.stop();
  }

  /** Keys of revisions with a live process. */
  runningKeys(): string[] {
    return [...this.running.keys()];
  }

  async openProxy(serviceKey: string): Promise<TrafficProxy> {
    const existing = this.proxies.get(serviceKey);
    if (existing) return existing;
    if (this.closed) throw new Error('the emulator is shutting down');
    const proxy = await TrafficProxy.start({
      host: this.opts.host,
      log: this.opts.log,
      admit: (req) => {
        const refused = this.admission?.(serviceKey, req.headers);
        if (!refused && isUpgrade(req)) this.cutAtTimeout(serviceKey, req);
        return refused;
      },
      // Cloud Run: "If your service doesn't respond within this limit, Cloud Run closes the network
      // connection and returns an HTTP 504 error" (cloud.google.com/run/docs/configuring/request-timeout).
      requestTimeoutMs: (backend) => this.revisionTimeout?.(serviceKey, backend.name),
    });
    this.proxies.set(serviceKey, proxy);
    return proxy;
  }

  proxy(serviceKey: string): TrafficProxy | undefined {
    return this.proxies.get(serviceKey);
  }

  async setRoutes(serviceKey: string, routes: ProxyRoutes): Promise<TrafficProxy> {
    const proxy = await this.openProxy(serviceKey);
    await proxy.setRoutes(routes);
    return proxy;
  }

  /**
   * Cloud Run treats a WebSocket as one long HTTP request: "WebSockets streams are HTTP requests
   * still subject to the request timeout configured for your Cloud Run service", and a client is
   * disconnected when it passes (cloud.google.com/run/docs/triggering/websockets). The emulator cuts
   * the connection (no close frame, so a client sees 1006) when the revision's `timeout` has passed
   * since the upgrade request arrived. When revisions with different timeouts share the URL, the
   * revision header of the upgrade response says which one answered.
   */
  private cutAtTimeout(serviceKey: string, req: IncomingMessage): void {
    const socket = req.socket;
    const timeouts = this.requestTimeouts?.(serviceKey, socket.localPort ?? 0) ?? new Map<string, number>();
    const distinct = [...new Set(timeouts.values())];
    if (distinct.length === 0) return; // nothing serves: the proxy answers 503
    const arrived = performance.now();
    const arm = (ms: number) => {
      const timer = setTimeout(() => {
        this.opts.log.debug({ service: serviceKey, timeoutMs: ms }, 'request timeout: cutting the WebSocket');
        socket.destroy();
      }, Math.max(0, ms - (performance.now() - arrived)));
      socket.once('close', () => clearTimeout(timer));
    };
    if (distinct.length === 1) {
      arm(distinct[0] as number);
      return;
    }
    const write = socket.write;
    const sniff = (chunk: unknown, ...rest: unknown[]): boolean => {
      socket.write = write;
      const head = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('latin1', 0, Math.min(chunk.length, 64 * 1024)) : '';
      const revision = new RegExp(`\r\n${REVISION_HEADER}: *([^\r\n]+)`, 'i').exec(head)?.[1]?.trim();
      arm((revision !== undefined ? timeouts.get(revision) : undefined) ?? Math.max(...distinct));
      return (write as (this: net.Socket, ...args: unknown[]) => boolean).apply(socket, [chunk, ...rest]);
    };
    socket.write = sniff as net.Socket['write'];
  }

  /** Stops a deleted service's proxy and every process whose key starts with the service's name. */
  async closeService(serviceKey: string): Promise<void> {
    const proxy = this.proxies.get(serviceKey);
    this.proxies.delete(serviceKey);
    const keys = this.runningKeys().filter((k) => k.startsWith(`${serviceKey}/revisions/`));
    await Promise.all([proxy?.close(), ...keys.map((k) => this.stop(k))]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.abort.abort();
    await Promise.allSettled([...this.starting.values()]);
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
    await Promise.all(this.runningKeys().map((k) => this.stop(k)));
  }

  private async start(rev: RevisionLaunch): Promise<LaunchResult> {
    if (this.closed) return { ok: false, failure: { reason: 'INTERNAL', message: 'the emulator is shutting down' } };
    const image = rev.container.image ?? '';
    const log = this.opts.log.child({ revision: rev.name });
    const mapped = commandForImage(this.opts.config.images, image, this.opts.baseDir);
    // With `containers` set, an image no command stands in for runs as a real container.
    const asContainer = !mapped && this.opts.config.containers !== undefined && !image.startsWith('dir:');
    if (!mapped && !asContainer) {
      return {
        ok: false,
        failure: {
          reason: 'CONTAINER_MISSING',
          message: `Image '${image}' not found. (The emulator runs images through local commands: map this image under "images" in the emulator config.)`,
        },
      };
    }
    const env: Record<string, string> = { ...mapped?.env, K_SERVICE: rev.serviceId, K_REVISION: rev.name, K_CONFIGURATION: rev.serviceId };
    for (const e of rev.container.env ?? []) {
      const ref = e.valueSource?.secretKeyRef;
      if (!ref) {
        env[e.name] = e.value ?? '';
        continue;
      }
      const value = secretValue(this.opts.config.secrets, ref.secret, ref.version);
      if (value === undefined) {
        return {
          ok: false,
          failure: {
            reason: 'SECRETS_ACCESS_CHECK_FAILED',
            message: `spec.template.spec.containers[0].env.${e.name}: Secret ${ref.secret}/versions/${ref.version || 'latest'} was not found. (Add it under "secrets" in the emulator config.)`,
          },
        };
      }
      env[e.name] = value;
    }
    const port = rev.container.ports?.[0]?.containerPort || 8080;
    const logs = this.opts.logs;
    const containerName = rev.container.name || rev.serviceId;
    const settings = startupSettings(this.opts.config);
    const probe = startupProbeOf(rev.container, settings.capMs);
    const trace: ProbeTrace = {};
    const readiness = readinessFor(probe, settings.intervalMs, trace);
    const fault = this.opts.faults.takeRevisionFault(image);
    if (fault) {
      log.info('failing the revision start (injected fault)');
      for (const line of fault.message.split('\n')) logs.append(rev.key, line, { log: 'stderr', severity: 'ERROR' });
      startFailedLogs(logs, rev.key, containerName, probe, trace, fault.exitCode);
      return { ok: false, failure: startFailure(rev.key, port, probe) };
    }
    // Every line the process prints becomes a Cloud Logging entry of the revision.
    const procLog = capturingLogger(log, (line, at) => logs.append(rev.key, line, { at }));
    let outcome: StartRevisionOutcome;
    if (mapped) {
      outcome = await startRevision({
        name: rev.name,
        command: mapped.command,
        cwd: mapped.cwd,
        env,
        readiness,
        log: procLog,
        host: this.opts.host,
        signal: this.abort.signal,
      });
    } else {
      outcome = await startContainerRevision({
        ...containerRunSettings(this.opts.config.containers),
        containerPort: port,
        name: rev.name,
        image,
        env,
        readiness,
        log: procLog,
        signal: this.abort.signal,
      });
    }
    if (!outcome.ok) {
      // A container that never ran through our process helper: its own logs (the engine's) are its output.
      if (!logs.has(rev.key)) for (const line of outcome.logTail) logs.append(rev.key, line);
      startFailedLogs(logs, rev.key, containerName, probe, trace, outcome.exitCode);
      return { ok: false, failure: startFailure(rev.key, port, probe) };
    }
    logs.append(rev.key, probeSucceededLine(probe, containerName, trace), { log: 'varlog/system', severity: 'INFO' });
    if (this.closed) {
      await outcome.revision.stop();
      return { ok: false, failure: { reason: 'INTERNAL', message: 'the emulator is shutting down' } };
    }
    this.running.set(rev.key, outcome.revision);
    return { ok: true, url: outcome.revision.url, startMs: outcome.revision.startMs };
  }
}

function isUpgrade(req: IncomingMessage): boolean {
  return req.headers.upgrade !== undefined && /\bupgrade\b/i.test(req.headers.connection ?? '');
}

/**
 * Cloud Run's wording for a container that did not start: what the revision's Ready condition says,
 * with the Logs URL line instead of any output (that is in Cloud Logging, as on Cloud Run). The
 * default probe's failure is "failed to start and listen on the port"; a configured probe's is
 * "failed the configured startup probe checks" (terraform-provider-google's Cloud Run v2 tests).
 */
function startFailure(revisionKey: string, port: number, probe: StartupProbe): LaunchFailure {
  const lines = [
    probe.configured
      ? 'The user-provided container failed the configured startup probe checks. Logs for this revision might contain more information.'
      : `The user-provided container failed to start and listen on the port defined provided by the PORT=${port} environment variable within the allocated timeout. ` +
        'This can happen when the container port is misconfigured or if the timeout is too short. The health check timeout can be extended. ' +
        'Logs for this revision might contain more information.',
    '',
    `Logs URL: ${revisionLogsUrl(revisionKey)}`,
    'For more troubleshooting guidance, see https://cloud.google.com/run/docs/troubleshooting#container-failed-to-start',
  ];
  return { revisionReason: 'HEALTH_CHECK_CONTAINER_ERROR', message: lines.join('\n') };
}

/** The lines Cloud Run itself writes to run.googleapis.com/varlog/system when an instance does not start. */
function startFailedLogs(logs: LogStore, revisionKey: string, container: string, probe: StartupProbe, trace: ProbeTrace, exitCode: number | null | undefined): void {
  if (exitCode !== null && exitCode !== undefined) logs.append(revisionKey, `Container called exit(${exitCode}).`, { log: 'varlog/system', severity: 'WARNING' });
  logs.append(revisionKey, probeFailedText(probe, container, trace), { log: 'varlog/system', severity: 'ERROR' });
}
