/**
 * The embedded local target: each revision is a child process started from its revision folder,
 * a TrafficProxy serves the service URL and one URL per tag. It follows Cloud Run's shapes
 * (revision names, K_* env, tags at 0%, split rules) so a loop that works here works there.
 */
import type { TimedLine } from '../../model/log-line.js';
import { randomInt } from 'node:crypto';
import path from 'node:path';
import type { BuiltImage } from '../../build/builder.js';
import { pinBuild, type BuildPin } from '../../build/store.js';
import type { LocalTargetConfig, TargetConfig } from '../../config/schema.js';
import type { StageContext } from '../../context.js';
import { InterruptedError, StageError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { isSecretName, redactText } from '../../redact.js';
import type { DeployOutcome, Revision, Target, TrafficEntry } from '../target.js';
import { TrafficProxy, type Backend } from '../../runtime/proxy.js';
import { startRevision, type RunningRevision } from '../../runtime/revision-process.js';
import { containerRunSettings, startContainerRevision } from '../../runtime/container-runtime.js';
import { routesFor, splitProblems, withCandidateTag } from './split.js';
import type { CycleRecord } from '../../model/record.js';

export interface LocalTargetOptions {
  service: string;
  log: Logger;
  /** Relative revision folders are resolved against this (the config file's folder). */
  baseDir: string;
  /**
   * The number the first revision gets (`SERVICE-NNNNN-xxx`). Cloud Run never reuses one; a loop
   * passes nextLocalRevisionNumber() of the service's history so names go on across invocations.
   */
  nextRevisionNumber?: number;
}

/**
 * The next revision number for `service`: one past the highest among the revisions its history
 * names (candidates, traffic before and after, canary steps), and any other names given (the
 * labels of survivors a crashed run left, whose cycle may have no record). 1 for a new service.
 */
export function nextLocalRevisionNumber(service: string, records: readonly CycleRecord[], otherNames: Iterable<string> = []): number {
  const pattern = new RegExp(`^${service.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d{5,})-[a-z]{3}$`);
  let highest = 0;
  const see = (name: string | undefined) => {
    const m = name ? pattern.exec(name) : null;
    if (m) highest = Math.max(highest, Number(m[1]));
  };
  for (const r of records) {
    if (r.service !== service) continue;
    see(r.deploy?.revision);
    for (const e of [...(r.traffic?.before ?? []), ...(r.traffic?.after ?? [])]) see(e.revision);
  }
  for (const name of otherNames) see(name);
  return highest + 1;
}

interface RevisionRecord {
  seq: number;
  running: RunningRevision;
  stopped: boolean;
  /** Lease on the build folder the revision runs from, so retention keeps it. */
  pin?: BuildPin;
}

export class LocalTarget implements Target {
  readonly kind = 'local';
  private proxy: TrafficProxy | undefined;
  private proxyStarting: Promise<TrafficProxy> | undefined;
  private readonly revisions = new Map<string, RevisionRecord>();
  /** Log tails of revisions that never became ready, for `logs`. */
  private readonly failedTails = new Map<string, string[]>();
  /** Stops of idle revisions still going (see retire). */
  private readonly retiring = new Set<Promise<void>>();
  private traffic: TrafficEntry[] = [];
  private deploys = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  private readonly log: Logger;
  private redact: (s: string) => string;

  constructor(
    private cfg: LocalTargetConfig,
    private readonly opts: LocalTargetOptions,
  ) {
    this.log = opts.log.child({ target: 'local', service: opts.service });
    const secrets = secretValues(cfg);
    this.redact = (text) => redactText(text, secrets);
    this.deploys = Math.max(0, (opts.nextRevisionNumber ?? 1) - 1);
  }

  /** The next candidate starts with these settings; the proxy's host and port stay (the loop refuses changing them). */
  reconfigure(cfg: TargetConfig): void {
    if (cfg.kind !== 'local') throw new StageError('deploy', 'the local target cannot become another kind within a run');
    this.cfg = cfg;
    const secrets = secretValues(cfg);
    this.redact = (text) => redactText(text, secrets);
  }

  deployCandidate(ctx: StageContext, image: BuiltImage, tag: string): Promise<DeployOutcome> {
    return this.serial(() => this.deploy(ctx, image, tag));
  }

  setTraffic(_ctx: StageContext, split: TrafficEntry[]): Promise<void> {
    return this.serial(async () => {
      this.assertOpen('traffic');
      const problems = splitProblems(split, (name) => this.revisionState(name));
      if (problems.length > 0) {
        throw new StageError('traffic', `invalid traffic split: ${problems.join('; ')}`, 'list running revisions with whole percents that add up to 100 and unique tags');
      }
      await this.applyTraffic(split.map((e) => ({ ...e })));
      this.log.info({ traffic: this.traffic }, 'traffic set');
    });
  }

  async currentTraffic(_ctx?: StageContext): Promise<TrafficEntry[]> {
    return this.traffic.map((e) => ({ ...e }));
  }

  serviceUrl(): string | undefined {
    return this.proxy?.url;
  }

  async logs(revision: string, lines: number): Promise<string[]> {
    const tail = this.revisions.get(revision)?.running.process.outputTail() ?? this.failedTails.get(revision) ?? [];
    return tail.slice(-Math.max(0, lines)).map(this.redact);
  }

  /** The revision's latest output lines with their capture times (redacted): what attachCheckLogs windows. */
  async timedLogs(revision: string): Promise<TimedLine[]> {
    const lines = this.revisions.get(revision)?.running.timedOutput?.() ?? [];
    return lines.map((l) => ({ at: l.at, text: this.redact(l.text) }));
  }

  /** Stops every revision and the proxy. Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.queue.catch(() => undefined);
      const proxy = this.proxy ?? (await this.proxyStarting?.catch(() => undefined));
      await Promise.all([...this.revisions.values()].map((r) => this.stopRevision(r)));
      await this.idleStopped();
      await proxy?.close();
    })();
    return this.closing;
  }

  private async deploy(ctx: StageContext, image: BuiltImage, tag: string): Promise<DeployOutcome> {
    this.assertOpen('deploy');
    const started = performance.now();
    const name = `${this.opts.service}-${String(++this.deploys).padStart(5, '0')}-${randomLetters(3)}`;
    const dir = image.dir ?? (image.ref.startsWith('dir:') ? image.ref.slice('dir:'.length) : undefined);
    const inContainer = this.cfg.runtime === 'container';
    if (inContainer ? image.ref.startsWith('dir:') : !dir) {
      return {
        ok: false,
        revisionName: name,
        message: inContainer
          ? `the container runtime runs an image, and the build made a folder (${image.ref}); use build.kind: podman or docker`
          : `the local target runs a revision folder, and image ${image.ref} has none (use build.kind: command, or target.runtime: container)`,
        logTail: [],
        durationMs: 0,
      };
    }
    const proxy = await this.ensureProxy();
    const log = ctx.log.child({ revision: name });
    log.info(inContainer ? { image: image.ref } : { dir }, 'starting revision');
    const env = { ...this.cfg.env, K_SERVICE: this.opts.service, K_REVISION: name, K_CONFIGURATION: this.opts.service };
    const pin = inContainer || !dir ? undefined : await pinBuild(path.resolve(this.opts.baseDir, dir), { revision: name });
    const outcome = inContainer
      ? await startContainerRevision({
          ...containerRunSettings(this.cfg.container),
          name,
          image: image.ref,
          env,
          ...(this.cfg.command ? { command: this.cfg.command } : {}),
          readiness: this.cfg.readiness,
          signal: ctx.signal,
          log,
          redact: this.redact,
        })
      : await startRevision({
          name,
          // The schema requires a command with runtime: process.
          command: this.cfg.command ?? [],
          cwd: path.resolve(this.opts.baseDir, dir ?? '.'),
          env,
          readiness: this.cfg.readiness,
          signal: ctx.signal,
          log,
          host: this.cfg.host,
          redact: this.redact,
        });
    if (!outcome.ok) {
      await pin?.release();
      if (ctx.signal.aborted) throw new InterruptedError('interrupted while starting a revision');
      const logTail = outcome.logTail.map(this.redact);
      this.failedTails.set(name, logTail);
      log.warn({ message: outcome.message, exitCode: outcome.exitCode }, 'revision failed to start');
      return { ok: false, revisionName: name, message: this.redact(outcome.message), exitCode: outcome.exitCode, logTail, durationMs: outcome.durationMs };
    }
    const revisionPid = outcome.revision.process.pid;
    if (revisionPid !== undefined) await pin?.addPid(revisionPid);
    const record: RevisionRecord = { seq: this.deploys, running: outcome.revision, stopped: false, ...(pin ? { pin } : {}) };
    this.revisions.set(name, record);
    try {
      await this.applyTraffic(withCandidateTag(this.traffic, name, tag));
    } catch (err) {
      await this.stopRevision(record);
      throw new StageError('deploy', `tagging revision ${name} as "${tag}": ${errorMessage(err)}`, undefined, { cause: err });
    }
    const url = proxy.tagUrl(tag) ?? proxy.url;
    const revision: Revision = { name, url, image: image.ref, startMs: outcome.revision.startMs };
    log.info({ url, startMs: revision.startMs, durationMs: Math.round(performance.now() - started) }, 'revision ready and tagged');
    return { ok: true, revision };
  }

  private async applyTraffic(split: TrafficEntry[]): Promise<void> {
    const proxy = await this.ensureProxy();
    await proxy.setRoutes(routesFor(split, (name) => this.backendOf(name)));
    this.traffic = split;
    await this.pruneIdle();
  }

  /** Keeps at most keepRevisions running: the oldest ones with no share and no tag go first. */
  private async pruneIdle(): Promise<void> {
    const inUse = new Set(this.traffic.filter((e) => e.percent > 0 || e.tag !== undefined).map((e) => e.revision));
    const running = [...this.revisions.values()].filter((r) => !r.stopped).sort((a, b) => a.seq - b.seq);
    let excess = running.length - this.cfg.keepRevisions;
    for (const record of running) {
      if (excess <= 0) break;
      if (inUse.has(record.running.name)) continue;
      this.log.info({ revision: record.running.name, keepRevisions: this.cfg.keepRevisions }, 'stopping idle revision');
      this.retire(record);
      excess--;
    }
  }

  /**
   * An idle revision is out of every route before it is stopped, so nothing waits for its process to
   * end (a SIGTERM, then polls of its process group: 15-20 ms for a Node revision, seconds for a
   * container), as Cloud Run scales an idle revision down on its own time. It is marked stopped at
   * once (traffic to it is refused), its stop is awaited by close(), and a failed stop is logged.
   */
  private retire(record: RevisionRecord): void {
    const stopping = this.stopRevision(record).catch((err: unknown) =>
      this.log.warn({ revision: record.running.name, err: errorMessage(err) }, 'could not stop an idle revision'),
    );
    this.retiring.add(stopping);
    void stopping.finally(() => this.retiring.delete(stopping));
  }

  /** Resolves once every idle revision being stopped has stopped (close() waits for them too). */
  async idleStopped(): Promise<void> {
    await Promise.all([...this.retiring]);
  }

  private async stopRevision(record: RevisionRecord): Promise<void> {
    record.stopped = true;
    await record.running.stop();
    await record.pin?.release();
  }

  private revisionState(name: string): 'running' | 'stopped' | 'unknown' {
    const record = this.revisions.get(name);
    if (!record) return 'unknown';
    return record.stopped || record.running.process.hasExited() ? 'stopped' : 'running';
  }

  private backendOf(name: string): Backend {
    const record = this.revisions.get(name);
    if (!record) throw new StageError('traffic', `no revision named "${name}"`);
    return { name, url: record.running.url };
  }

  private ensureProxy(): Promise<TrafficProxy> {
    this.proxyStarting ??= TrafficProxy.start({ host: this.cfg.host, port: this.cfg.port, log: this.log }).then(
      (proxy) => (this.proxy = proxy),
      (err: unknown) => {
        this.proxyStarting = undefined;
        throw new StageError(
          'deploy',
          `could not open the service URL on ${this.cfg.host}:${this.cfg.port}: ${errorMessage(err)}`,
          'choose another target.port, or 0 for any free port',
          { cause: err },
        );
      },
    );
    return this.proxyStarting;
  }

  private assertOpen(stage: 'deploy' | 'traffic'): void {
    if (this.closing) throw new StageError(stage, 'the local target has been closed');
  }

  /** Deploys and traffic changes run one at a time: each reads and replaces the whole split. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function randomLetters(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String.fromCharCode(97 + randomInt(26));
  return out;
}

/**
 * Values a revision's output must not leak: env entries listed in secretEnv or named like a secret
 * (as the report redactor sees them), plus listed names the child inherits from this process.
 */
function secretValues(cfg: LocalTargetConfig): string[] {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(cfg.env)) if (cfg.secretEnv.includes(k) || isSecretName(k)) out.add(v);
  for (const k of cfg.secretEnv) {
    const inherited = process.env[k];
    if (cfg.env[k] === undefined && inherited) out.add(inherited);
  }
  // Short values would redact ordinary words; longest first so a secret containing another goes whole.
  return [...out].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}
