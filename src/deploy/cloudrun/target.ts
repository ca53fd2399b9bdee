/**
 * `target.kind: cloudrun`: deploys through the Cloud Run Admin API v2 (@google-cloud/run). A
 * candidate is a new revision created by updating the service template, tagged at 0% traffic;
 * traffic changes are read-modify-write updates guarded by the service etag. A revision that does
 * not become ready is an outcome (ok: false with Cloud Run's reason and message), not an exception.
 */
import { randomUUID } from 'node:crypto';
import type { Logging } from '@google-cloud/logging';
import type { BuiltImage } from '../../build/builder.js';
import type { CloudRunTargetConfig } from '../../config/cloudrun-schema.js';
import type { TargetConfig } from '../../config/schema.js';
import type { StageContext } from '../../context.js';
import { InterruptedError, StageError, UsageError, type Stage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { TimedLine } from '../../model/log-line.js';
import { isSecretName, redactText } from '../../redact.js';
import type { DeployOutcome, LockHolder, Target, TrafficEntry } from '../target.js';
import { checkRemoteLock, lockState, readRemoteLock, withLock, type LockState, type RemoteLock } from './lock.js';
import { createRunClients, idTokenHeaders, type RunClients } from './client.js';
import { createLogging, logReadFailure, readRevisionLogs, readRevisionTimedLogs } from './logs.js';
import { waitForOperation } from './operation.js';
import { DEFAULT_RETRY, GRPC, apiFailure, errorInfo, hasCode, sleep, withRetry, type RetryPolicy } from './retry.js';
import {
  buildEnv,
  buildTemplate,
  candidateTraffic,
  isSucceeded,
  readTraffic,
  readyCondition,
  revisionName,
  serviceFields,
  shortName,
  trafficTargets,
  maskedUpdate,
  unsettledTraffic,
  LATEST_ONLY,
  type EnvSource,
  type IService,
} from './spec.js';

export interface CloudRunTargetOptions {
  /** The config's top-level `service`, used when `target.service` is not set. */
  service: string;
  log: Logger;
  /** Injected clients (tests, custom transports); by default built from the config. */
  clients?: RunClients;
  /** Backoff for transient API errors. */
  retry?: Partial<RetryPolicy>;
  /**
   * Goes into every revision name's hash, so two runs never ask for the same name (Cloud Run
   * refuses a name twice). Default: random per target, i.e. per run.
   */
  runId?: string;
  /** Injected Cloud Logging client (tests); by default built from the config on first use. */
  logging?: Logging;
  /** How often, and how far apart, a split that does not add up to 100 is read again. */
  settle?: Partial<SettlePolicy>;
  /**
   * Pause before reading a revision's logs, for entries still on their way to Cloud Logging (its
   * tail API buffers 2 s by default for late entries). Default: 3000 against Google, 0 against an
   * emulator, which stores a line the moment it is printed.
   */
  logSettleMs?: number;
}

/** Re-reads of a service whose traffic is mid-reconcile: `reads` in all, pauses doubling from base to max. */
export interface SettlePolicy {
  reads: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** About 30 s in all: a reconcile of a traffic change takes seconds on Cloud Run. */
export const DEFAULT_SETTLE: SettlePolicy = { reads: 10, baseDelayMs: 500, maxDelayMs: 5000 };

/** What the target knows of a revision it deployed (see CloudRunTarget.deployInfo). */
export interface DeployInfo {
  startedAt: Date;
  /** Container variable → where its value came from. */
  envSources: Record<string, EnvSource>;
  /** An existing revision of the same name (so the same image and config) was reused. */
  adopted: boolean;
  /** Cloud Run's Logs URL for the revision (Revision.log_uri). */
  logUri?: string;
}

/** The members that make a service public through IAM. */
const PUBLIC_MEMBERS = ['allUsers', 'allAuthenticatedUsers'];
const INVOKER = 'roles/run.invoker';

/** Read-modify-write attempts when the service changed under us (ABORTED on the etag). */
const MAX_CONFLICTS = 5;
/** Per-call deadline: gax's own retries are off, ours apply. */
const CALL_OPTIONS = { retry: null, timeout: 30_000 };

export class CloudRunTarget implements Target {
  readonly kind = 'cloudrun';
  readonly serviceId: string;
  /** projects/P/locations/L/services/S */
  readonly serviceName: string;
  private readonly parent: string;
  private readonly clients: RunClients;
  private readonly policy: RetryPolicy;
  private readonly settlePolicy: SettlePolicy;
  private readonly logSettleMs: number;
  private readonly log: Logger;
  private uri: string | undefined;
  private readonly runTag: string;
  private readonly deployed = new Map<string, DeployInfo>();
  private logging: Logging | undefined;

  constructor(
    private cfg: CloudRunTargetConfig,
    opts: CloudRunTargetOptions,
  ) {
    this.serviceId = cfg.service ?? opts.service;
    this.parent = `projects/${cfg.project}/locations/${cfg.region}`;
    this.serviceName = `${this.parent}/services/${this.serviceId}`;
    this.clients = opts.clients ?? createRunClients(cfg);
    this.policy = { ...DEFAULT_RETRY, ...opts.retry };
    this.settlePolicy = { ...DEFAULT_SETTLE, ...opts.settle };
    this.logSettleMs = opts.logSettleMs ?? (cfg.endpoint ? 0 : 3000);
    this.log = opts.log.child({ target: 'cloudrun', service: this.serviceId });
    this.runTag = opts.runId ?? randomUUID();
    this.logging = opts.logging;
  }

  /** The next candidate's template uses these settings; the service, project, region and endpoint stay (the loop refuses changing them). */
  reconfigure(cfg: TargetConfig): void {
    if (cfg.kind !== 'cloudrun') throw new StageError('deploy', 'the Cloud Run target cannot become another kind within a run');
    this.cfg = { ...cfg, ...(this.cfg.endpoint ? { endpoint: this.cfg.endpoint } : {}) };
  }

  async deployCandidate(ctx: StageContext, image: BuiltImage, tag: string): Promise<DeployOutcome> {
    const started = performance.now();
    const startedAt = new Date();
    const elapsed = () => Math.round(performance.now() - started);
    const log = ctx.log.child({ target: 'cloudrun', service: this.serviceId });
    const sctx = { ...ctx, log };
    // The candidate's traffic is planned from this read: a transient split must not pass for the live one.
    let current = await this.readSettled(sctx, 'deploy');
    // Named from what this deploy asks for (config and image) and this run, not from the merged
    // template: the server fills defaults into what it returns, and a retry must ask for the same name.
    const revision = revisionName(this.serviceId, ctx.cycle, buildTemplate(this.cfg, image.ref, undefined), this.runTag);
    const desired = (svc: IService | undefined) => ({
      template: { ...buildTemplate(this.cfg, image.ref, svc?.template), revision },
      traffic: candidateTraffic(svc, revision, tag),
    });
    let envSources = buildEnv(this.cfg, current?.template?.containers?.[0]).sources;

    let op;
    let adopted = false;
    if (!current) {
      const { template, traffic } = desired(undefined);
      log.info({ revision, image: image.ref }, 'creating the Cloud Run service');
      try {
        [op] = await withRetry(sctx, `creating service ${this.serviceId}`, this.policy, () =>
          this.clients.services.createService(
            { parent: this.parent, serviceId: this.serviceId, service: { template, traffic, ...serviceFields(this.cfg) } },
            CALL_OPTIONS,
          ),
        );
      } catch (err) {
        // Created meanwhile (or by our own earlier attempt whose answer was lost): update it instead.
        if (!hasCode(err, GRPC.ALREADY_EXISTS)) throw apiFailure('deploy', `creating Cloud Run service ${this.serviceName}`, err);
        current = await this.readSettled(sctx, 'deploy');
        envSources = buildEnv(this.cfg, current?.template?.containers?.[0]).sources;
      }
    }
    if (!op && current && (await this.readRevision(sctx, revision))) {
      // The revision exists (this run's earlier attempt whose answer was lost): its name says it was
      // made from this image and config, and Cloud Run refuses a name twice, so only the tag moves.
      adopted = true;
      log.info({ revision }, 'the candidate revision exists already: adopting it, moving only the tag');
      op = await this.update(sctx, 'deploy', current, (svc) => ({ traffic: candidateTraffic(svc, revision, tag) }), MAX_CONFLICTS, true);
    }
    if (!op) {
      op = await this.update(sctx, 'deploy', current, (svc) => {
        const { template, traffic } = desired(svc);
        envSources = buildEnv(this.cfg, svc.template?.containers?.[0]).sources;
        log.info({ revision, image: image.ref, traffic }, 'updating the Cloud Run service with a candidate revision');
        return { ...serviceFields(this.cfg, svc), template, traffic };
      }, MAX_CONFLICTS, true);
    }

    const doing = `deploying revision ${revision} of ${this.serviceId}`;
    const outcome = await waitForOperation(sctx, op, { stage: 'deploy', doing, timeoutMs: this.cfg.operationTimeoutMs, policy: this.policy });
    const svc = outcome.result ? plain(outcome.result) : await this.read(sctx, 'deploy');
    this.remember(svc);
    const rev = await this.readRevision(sctx, revision);
    const ready = readyCondition(rev?.conditions);
    const logUri = rev?.logUri || undefined;
    // Known for a failed revision too: its log window starts here, and its Logs URL goes on the record.
    this.deployed.set(revision, { startedAt, envSources, adopted, ...(logUri ? { logUri } : {}) });
    if (outcome.error || !isSucceeded(ready)) {
      const message = ready?.message || outcome.error?.message || `revision ${revision} did not become ready (${ready?.state ?? 'no Ready condition'})`;
      log.warn({ revision, reason: ready?.reason, code: outcome.error?.code }, 'candidate revision is not ready');
      const logTail = await this.revisionLogLines({ ...sctx, signal: AbortSignal.timeout(30_000) }, revision, startedAt, 50);
      return {
        ok: false,
        revisionName: revision,
        message: logUri && !message.includes(logUri) ? `${message}\nLogs URL: ${logUri}` : message,
        ...(ready?.reason ? { reason: ready.reason } : {}),
        ...(logUri ? { logUri } : {}),
        logTail,
        durationMs: elapsed(),
      };
    }
    await this.ensureAccess(sctx);
    const url = svc?.trafficStatuses?.find((t) => t.tag === tag)?.uri;
    if (!url) {
      return { ok: false, revisionName: revision, reason: 'NoTagUrl', message: `Cloud Run gave tag "${tag}" of revision ${revision} no URL`, logTail: [], durationMs: elapsed() };
    }
    log.info({ revision, url, ms: elapsed(), adopted, env: envSources }, 'candidate revision ready');
    return { ok: true, revision: { name: revision, url, image: image.ref, startMs: elapsed() } };
  }

  /**
   * What the target knows of a revision it deployed in this run: when its deploy started (the
   * start of its log window), where each container variable came from, whether an existing
   * revision was adopted, and Cloud Run's Logs URL. For the record and the report.
   */
  deployInfo(revision: string): DeployInfo | undefined {
    return this.deployed.get(revision);
  }

  async setTraffic(ctx: StageContext, split: TrafficEntry[]): Promise<void> {
    const log = ctx.log.child({ target: 'cloudrun', service: this.serviceId });
    const sctx = { ...ctx, log };
    const current = await this.read(sctx, 'traffic');
    if (!current) throw new StageError('traffic', `Cloud Run service ${this.serviceName} does not exist`, 'deploy a revision first');
    const traffic = trafficTargets(split);
    const op = await this.update(sctx, 'traffic', current, () => ({ traffic }));
    const doing = `setting traffic of ${this.serviceId}`;
    const outcome = await waitForOperation(sctx, op, { stage: 'traffic', doing, timeoutMs: this.cfg.operationTimeoutMs, policy: this.policy });
    if (outcome.error) throw new StageError('traffic', `${doing}: ${outcome.error.message}`);
    this.remember(outcome.result ? plain(outcome.result) : undefined);
    log.info({ traffic: split }, 'traffic set');
  }

  /** What serves now; a read mid-reconcile whose split does not add up to 100 is read again until it does (bounded). */
  async currentTraffic(ctx: StageContext): Promise<TrafficEntry[]> {
    return readTraffic(await this.readSettled(ctx, 'traffic'));
  }

  /**
   * `traffic.afterPromote: latest`: once `revision` holds 100%, hand the split to LATEST (100%), as
   * `gcloud run services update-traffic --to-latest` does, so a later plain `gcloud run deploy`
   * gets the traffic instead of 0%. Only when `revision` is still the latest ready revision (else
   * LATEST would move traffic to a revision nobody smoked): returns whether it did.
   */
  async followLatest(ctx: StageContext, revision: string): Promise<boolean> {
    const log = ctx.log.child({ target: 'cloudrun', service: this.serviceId });
    const sctx = { ...ctx, log };
    const current = await this.readSettled(sctx, 'traffic');
    const latest = shortName(current?.latestReadyRevision);
    const serving = readTraffic(current);
    if (!current || latest !== revision || serving.length !== 1 || serving[0]?.revision !== revision || serving[0]?.percent !== 100) {
      log.warn({ revision, latestReady: latest, serving }, 'traffic stays pinned: the promoted revision is not the latest ready one, or does not hold all the traffic');
      return false;
    }
    const op = await this.update(sctx, 'traffic', current, () => ({ traffic: LATEST_ONLY }));
    const doing = `handing the traffic of ${this.serviceId} to the latest revision`;
    const outcome = await waitForOperation(sctx, op, { stage: 'traffic', doing, timeoutMs: this.cfg.operationTimeoutMs, policy: this.policy });
    if (outcome.error) throw new StageError('traffic', `${doing}: ${outcome.error.message}`);
    log.info({ revision }, 'traffic follows the latest revision (100% LATEST)');
    return true;
  }

  serviceUrl(): string | undefined {
    return this.uri;
  }

  /**
   * Headers for smoke requests (to the service URL or a tag URL): a Google ID token when
   * `auth.idToken` is on, nothing otherwise, and nothing against the emulator, which checks none.
   * The audience is the service's own run.app URL, which Cloud Run always accepts; before the
   * service is known, the origin of `url`.
   */
  async smokeHeaders(url?: string): Promise<Record<string, string>> {
    if (!this.cfg.auth.idToken) return {};
    // The emulator admits any bearer token to a private service: it cannot verify Google's signature.
    if (this.cfg.endpoint) return { authorization: 'Bearer deploy-loop-emulator' };
    const audience = this.uri ?? (url ? new URL(url).origin : undefined);
    if (!audience) throw new StageError('smoke', 'no URL to request an ID token for: the service has not been deployed yet');
    return idTokenHeaders(audience);
  }

  /**
   * The lock is an annotation on the service, written with the etag of the service as read, so of
   * two loops deciding at once one gets ABORTED; it then reads again and decides again (once).
   */
  async acquireLock(ctx: StageContext, holder: LockHolder, ttlMs: number): Promise<{ release(): Promise<void> }> {
    const log = ctx.log.child({ target: 'cloudrun', service: this.serviceId });
    const sctx = { ...ctx, log };
    const svc = await this.read(sctx, 'deploy');
    // No service yet: nothing to lock; the local lock still keeps loops on this machine apart.
    if (!svc) return { release: async () => {} };
    const lock = { ...holder, expiresAt: new Date(Date.now() + ttlMs).toISOString() };
    const op = await this.update(
      sctx,
      'deploy',
      svc,
      (s) => {
        checkRemoteLock(s, this.serviceName, holder.runId, Date.now());
        const taken = readRemoteLock(s);
        if (taken && taken.runId !== holder.runId) {
          const state = lockState(taken, Date.now());
          log.warn({ holder: taken, state }, state === 'dead' ? `taking over the Cloud Run service lock of run ${taken.runId}: its process ${taken.pid} on this host is gone` : 'taking over an expired Cloud Run service lock');
        }
        return { annotations: withLock(s, lock) };
      },
      2,
    );
    await this.settle(sctx, op, `locking ${this.serviceId}`);
    log.info({ runId: holder.runId, expiresAt: lock.expiresAt }, 'Cloud Run service locked');
    return {
      release: async () => {
        // Its own deadline: release also runs after an interrupt, when ctx.signal is already aborted.
        const rctx = { ...sctx, signal: AbortSignal.timeout(60_000) };
        const now = await this.read(rctx, 'deploy');
        if (readRemoteLock(now)?.runId !== holder.runId) return;
        // Only while it is still ours: a change in between (ABORTED) means it may not be any more.
        const lost = new Error('the lock changed hands');
        const unlock = (s: IService) => {
          if (readRemoteLock(s)?.runId !== holder.runId) throw lost;
          return { annotations: withLock(s, undefined) };
        };
        try {
          await this.settle(rctx, await this.update(rctx, 'deploy', now, unlock, 2), `unlocking ${this.serviceId}`);
        } catch (err) {
          if (err === lost) return;
          throw err;
        }
        log.info({ runId: holder.runId }, 'Cloud Run service lock released');
      },
    };
  }

  /**
   * The revision's container output from Cloud Logging since its deploy started (or the last hour
   * for a revision this run did not deploy), newest `lines` of it, redacted. Never throws: logs
   * that cannot be read give one line saying why (`Cloud Logging: PERMISSION_DENIED: …`).
   */
  async logs(revision: string, lines: number): Promise<string[]> {
    return this.revisionLogLines(this.logCtx(), revision, this.logsSince(revision), lines);
  }

  /**
   * The revision's entries since its deploy started, each at its Cloud Logging timestamp, redacted,
   * for per-check log windows (a bounded number of pages, newest kept). Throws an Error whose
   * message says why when Cloud Logging cannot be read; the loop records it on the evidence.
   */
  async timedLogs(revision: string): Promise<TimedLine[]> {
    const ctx = this.logCtx();
    try {
      const logging = await this.loggingClient();
      await sleep(this.logSettleMs, ctx.signal);
      const read = await withRetry(ctx, `reading the logs of ${revision}`, this.policy, () =>
        readRevisionTimedLogs(logging, this.cfg, { service: this.serviceId, revision, since: this.logsSince(revision), until: new Date() }),
      );
      if (read.truncated) ctx.log.info({ revision, lines: read.lines.length }, 'more log entries than are read for evidence: the oldest were left out');
      return read.lines.map((l) => ({ at: l.at, text: this.redact(l.text) }));
    } catch (err) {
      const why = logReadFailure(err, this.cfg.project);
      ctx.log.warn({ revision }, why);
      throw new Error(why, { cause: err });
    }
  }

  private logCtx(): StageContext {
    return { signal: AbortSignal.timeout(30_000), log: this.log, cycle: 0 };
  }

  private logsSince(revision: string): Date {
    return this.deployed.get(revision)?.startedAt ?? new Date(Date.now() - 3_600_000);
  }

  private async loggingClient(): Promise<Logging> {
    this.logging ??= await createLogging(this.cfg);
    return this.logging;
  }

  /** Values of the config's secret-looking env variables, masked in every log line read. */
  private redact(text: string): string {
    const secrets = Object.entries(this.cfg.env).filter(([k, v]) => isSecretName(k) && v.length >= 4).map(([, v]) => v);
    return redactText(text, secrets);
  }

  private async revisionLogLines(ctx: StageContext, revision: string, since: Date, limit: number, until?: Date): Promise<string[]> {
    try {
      const logging = await this.loggingClient();
      await sleep(this.logSettleMs, ctx.signal);
      const lines = await withRetry(ctx, `reading the logs of ${revision}`, this.policy, () =>
        readRevisionLogs(logging, this.cfg, { service: this.serviceId, revision, since, limit, ...(until ? { until } : {}) }),
      );
      return lines.map((l) => this.redact(l));
    } catch (err) {
      const why = logReadFailure(err, this.cfg.project);
      ctx.log.warn({ revision }, why);
      return [why];
    }
  }

  /**
   * `access: public` through IAM (`publicVia: iam-policy`) binds allUsers to roles/run.invoker;
   * `access: private` removes public members from that role. Read-modify-write with the policy's
   * etag; nothing is written when the policy already says so.
   */
  private async ensureAccess(ctx: StageContext): Promise<void> {
    const access = this.cfg.access;
    const viaIam = access === 'public' && this.cfg.publicVia === 'iam-policy';
    if (!viaIam && access !== 'private') return;
    const resource = this.serviceName;
    try {
      const [policy] = await withRetry(ctx, `reading the IAM policy of ${this.serviceId}`, this.policy, () =>
        this.clients.services.getIamPolicy({ resource }, CALL_OPTIONS),
      );
      const bindings = (policy.bindings ?? []).map((b) => ({ role: b.role ?? '', members: [...(b.members ?? [])], ...(b.condition ? { condition: b.condition } : {}) }));
      const invoker = bindings.find((b) => b.role === INVOKER && !b.condition);
      const isPublic = Boolean(invoker?.members.includes('allUsers'));
      if (viaIam && !isPublic) {
        if (invoker) invoker.members.push('allUsers');
        else bindings.push({ role: INVOKER, members: ['allUsers'] });
      } else if (access === 'private' && bindings.some((b) => b.role === INVOKER && b.members.some((m) => PUBLIC_MEMBERS.includes(m)))) {
        for (const b of bindings) if (b.role === INVOKER) b.members = b.members.filter((m) => !PUBLIC_MEMBERS.includes(m));
      } else return;
      const next = { version: policy.version ?? 1, etag: policy.etag ?? '', bindings: bindings.filter((b) => b.members.length > 0) };
      await withRetry(ctx, `setting the IAM policy of ${this.serviceId}`, this.policy, () =>
        this.clients.services.setIamPolicy({ resource, policy: next }, CALL_OPTIONS),
      );
      ctx.log.info({ access, via: 'iam-policy' }, access === 'public' ? 'allUsers may now invoke the service' : 'public members removed from roles/run.invoker');
    } catch (err) {
      throw apiFailure(
        'deploy',
        `making Cloud Run service ${this.serviceId} ${access}`,
        err,
      );
    }
  }

  /** The lock on the service, with what is known of its holder; undefined when there is none. */
  async readLock(ctx: StageContext): Promise<{ lock: RemoteLock; state: LockState } | undefined> {
    const held = readRemoteLock(await this.read(ctx, 'deploy'));
    return held ? { lock: held, state: lockState(held, Date.now()) } : undefined;
  }

  /**
   * Removes the lock annotation, whoever holds it, unless the holder is provably alive (same host,
   * pid alive) and `force` is not set. Returns the lock removed, or undefined when there was none.
   */
  async removeLock(ctx: StageContext, force: boolean): Promise<RemoteLock | undefined> {
    const svc = await this.read(ctx, 'deploy');
    const held = readRemoteLock(svc);
    if (!svc || !held) return undefined;
    if (!force && lockState(held, Date.now()) === 'live') {
      throw new UsageError(
        `Cloud Run service ${this.serviceId} is locked by a live run: ${held.runId} (${held.command}), pid ${held.pid} on this host, since ${held.startedAt}`,
        'stop that run (it releases the lock itself), or pass --force to remove the lock anyway',
      );
    }
    const op = await this.update(ctx, 'deploy', svc, (s) => {
      if (readRemoteLock(s)?.runId !== held.runId) throw new UsageError(`the lock on ${this.serviceId} changed hands meanwhile`, 'run unlock again to see the new holder');
      return { annotations: withLock(s, undefined) };
    }, 2);
    await this.settle(ctx, op, `unlocking ${this.serviceId}`);
    return held;
  }

  async close(): Promise<void> {
    await Promise.all([this.clients.services.close(), this.clients.revisions.close()]);
  }

  /** The service, or undefined when it does not exist yet. */
  private async read(ctx: StageContext, stage: Stage): Promise<IService | undefined> {
    try {
      const [svc] = await withRetry(ctx, `reading service ${this.serviceId}`, this.policy, () =>
        this.clients.services.getService({ name: this.serviceName }, CALL_OPTIONS),
      );
      const out = plain(svc);
      this.remember(out);
      return out;
    } catch (err) {
      if (hasCode(err, GRPC.NOT_FOUND)) return undefined;
      throw apiFailure(stage, `reading Cloud Run service ${this.serviceName}`, err);
    }
  }

  /**
   * The service once its traffic statuses are a split (see unsettledTraffic), read again with
   * growing pauses; a StageError naming what was read when it does not settle within the policy.
   */
  private async readSettled(ctx: StageContext, stage: Stage): Promise<IService | undefined> {
    const started = performance.now();
    for (let read = 1; ; read++) {
      const svc = await this.read(ctx, stage);
      const problem = unsettledTraffic(svc);
      if (!problem) return svc;
      if (read >= this.settlePolicy.reads) {
        const secs = ((performance.now() - started) / 1000).toFixed(1);
        throw new StageError(
          stage,
          `the traffic of Cloud Run service ${this.serviceId} did not settle: ${problem}, in each of ${read} reads over ${secs} s`,
          'the service is being changed by something else (another deploy, the console); traffic was not touched. Run again once `gcloud run services describe` shows traffic adding up to 100%',
        );
      }
      const pause = Math.min(this.settlePolicy.maxDelayMs, this.settlePolicy.baseDelayMs * 2 ** (read - 1));
      ctx.log.info({ read, retryInMs: pause }, `the traffic read is not settled (${problem}); reading it again`);
      await sleep(pause, ctx.signal);
      if (ctx.signal.aborted) throw new InterruptedError(`interrupted while waiting for the traffic of ${this.serviceId} to settle`);
    }
  }

  private async readRevision(ctx: StageContext, name: string) {
    try {
      const [rev] = await withRetry(ctx, `reading revision ${name}`, this.policy, () =>
        this.clients.revisions.getRevision({ name: `${this.serviceName}/revisions/${name}` }, CALL_OPTIONS),
      );
      return plain(rev);
    } catch (err) {
      if (hasCode(err, GRPC.NOT_FOUND)) return undefined;
      throw apiFailure('deploy', `reading Cloud Run revision ${name}`, err);
    }
  }

  /**
   * UpdateService of the fields `build` returns (and only those, named in update_mask), with the
   * etag of the service as read; when someone else changed it meanwhile (ABORTED), read it again
   * and rebuild the request from the fresh copy.
   */
  private async update(ctx: StageContext, stage: Stage, first: IService | undefined, build: (svc: IService) => IService, attempts = MAX_CONFLICTS, settled = false) {
    let svc = first;
    for (let attempt = 1; ; attempt++) {
      if (!svc) throw new StageError(stage, `Cloud Run service ${this.serviceName} disappeared while it was being updated`);
      const request = maskedUpdate(this.serviceName, svc.etag, build(svc));
      try {
        const [op] = await withRetry(ctx, `updating service ${this.serviceId}`, this.policy, () =>
          this.clients.services.updateService(request, CALL_OPTIONS),
        );
        return op;
      } catch (err) {
        if (!hasCode(err, GRPC.ABORTED) || attempt >= attempts) throw apiFailure(stage, `updating Cloud Run service ${this.serviceName}`, err);
        ctx.log.info({ attempt, message: errorInfo(err).message }, 'the service changed since it was read; reading it again');
        svc = settled ? await this.readSettled(ctx, stage) : await this.read(ctx, stage);
      }
    }
  }

  /**
   * Waits for an update that changes no template (so no revision), so the next update starts from a
   * settled service. The annotation was stored when the update was accepted; an error the operation
   * ends with is the service's own state (say, a failed latest revision), not the lock's.
   */
  private async settle(ctx: StageContext, op: Awaited<ReturnType<CloudRunTarget['update']>>, doing: string): Promise<void> {
    const outcome = await waitForOperation(ctx, op, { stage: 'deploy', doing, timeoutMs: this.cfg.operationTimeoutMs, policy: this.policy });
    if (outcome.error) ctx.log.info({ message: outcome.error.message }, `${doing}: the service reports a problem of its own`);
  }

  private remember(svc: IService | undefined): void {
    if (svc?.uri) this.uri = svc.uri;
  }
}

/** Client results are protobufjs instances (enums as numbers) or plain objects: one JSON form for both. */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
