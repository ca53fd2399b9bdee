/**
 * `target.kind: cloudrun`: deploys through the Cloud Run Admin API v2 (@google-cloud/run). A
 * candidate is a new revision created by updating the service template, tagged at 0% traffic;
 * traffic changes are read-modify-write updates guarded by the service etag. A revision that does
 * not become ready is an outcome (ok: false with Cloud Run's reason and message), not an exception.
 */
import type { BuiltImage } from '../../build/builder.js';
import type { CloudRunTargetConfig } from '../../config/cloudrun-schema.js';
import type { TargetConfig } from '../../config/schema.js';
import type { StageContext } from '../../context.js';
import { StageError, type Stage } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { DeployOutcome, LockHolder, Target, TrafficEntry } from '../target.js';
import { checkRemoteLock, readRemoteLock, withLock } from './lock.js';
import { createRunClients, idTokenHeaders, type RunClients } from './client.js';
import { waitForOperation } from './operation.js';
import { DEFAULT_RETRY, GRPC, apiFailure, errorInfo, hasCode, withRetry, type RetryPolicy } from './retry.js';
import {
  buildTemplate,
  candidateTraffic,
  isSucceeded,
  readTraffic,
  readyCondition,
  revisionName,
  serviceFields,
  shortName,
  trafficTargets,
  updatableSpec,
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
}

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
  private readonly log: Logger;
  private uri: string | undefined;

  constructor(
    private cfg: CloudRunTargetConfig,
    opts: CloudRunTargetOptions,
  ) {
    this.serviceId = cfg.service ?? opts.service;
    this.parent = `projects/${cfg.project}/locations/${cfg.region}`;
    this.serviceName = `${this.parent}/services/${this.serviceId}`;
    this.clients = opts.clients ?? createRunClients(cfg);
    this.policy = { ...DEFAULT_RETRY, ...opts.retry };
    this.log = opts.log.child({ target: 'cloudrun', service: this.serviceId });
  }

  /** The next candidate's template uses these settings; the service, project, region and endpoint stay (the loop refuses changing them). */
  reconfigure(cfg: TargetConfig): void {
    if (cfg.kind !== 'cloudrun') throw new StageError('deploy', 'the Cloud Run target cannot become another kind within a run');
    this.cfg = { ...cfg, ...(this.cfg.endpoint ? { endpoint: this.cfg.endpoint } : {}) };
  }

  async deployCandidate(ctx: StageContext, image: BuiltImage, tag: string): Promise<DeployOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const log = ctx.log.child({ target: 'cloudrun', service: this.serviceId });
    const sctx = { ...ctx, log };
    let current = await this.read(sctx, 'deploy');
    // Named from what this deploy asks for (config and image), not from the merged template: the
    // server fills defaults into what it returns, and a retry must still ask for the same name.
    const revision = revisionName(this.serviceId, ctx.cycle, buildTemplate(this.cfg, image.ref, undefined));
    const desired = (svc: IService | undefined) => ({
      template: { ...buildTemplate(this.cfg, image.ref, svc?.template), revision },
      traffic: candidateTraffic(svc, revision, tag),
    });

    let op;
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
        current = await this.read(sctx, 'deploy');
      }
    }
    if (!op) {
      op = await this.update(sctx, 'deploy', current, (svc) => {
        const { template, traffic } = desired(svc);
        log.info({ revision, image: image.ref, traffic }, 'updating the Cloud Run service with a candidate revision');
        return { ...updatableSpec(svc), ...serviceFields(this.cfg, svc), template, traffic };
      });
    }

    const doing = `deploying revision ${revision} of ${this.serviceId}`;
    const outcome = await waitForOperation(sctx, op, { stage: 'deploy', doing, timeoutMs: this.cfg.operationTimeoutMs, policy: this.policy });
    const svc = outcome.result ? plain(outcome.result) : await this.read(sctx, 'deploy');
    this.remember(svc);
    const rev = await this.readRevision(sctx, revision);
    const ready = readyCondition(rev?.conditions);
    if (outcome.error || !isSucceeded(ready)) {
      const message = ready?.message || outcome.error?.message || `revision ${revision} did not become ready (${ready?.state ?? 'no Ready condition'})`;
      log.warn({ revision, reason: ready?.reason, code: outcome.error?.code }, 'candidate revision is not ready');
      return {
        ok: false,
        revisionName: revision,
        message,
        ...(ready?.reason ? { reason: ready.reason } : {}),
        logTail: [],
        durationMs: elapsed(),
      };
    }
    const url = svc?.trafficStatuses?.find((t) => t.tag === tag)?.uri;
    if (!url) {
      return { ok: false, revisionName: revision, reason: 'NoTagUrl', message: `Cloud Run gave tag "${tag}" of revision ${revision} no URL`, logTail: [], durationMs: elapsed() };
    }
    log.info({ revision, url, ms: elapsed() }, 'candidate revision ready');
    return { ok: true, revision: { name: revision, url, image: image.ref, startMs: elapsed() } };
  }

  async setTraffic(ctx: StageContext, split: TrafficEntry[]): Promise<void> {
    const log = ctx.log.child({ target: 'cloudrun', service: this.serviceId });
    const sctx = { ...ctx, log };
    const current = await this.read(sctx, 'traffic');
    if (!current) throw new StageError('traffic', `Cloud Run service ${this.serviceName} does not exist`, 'deploy a revision first');
    const traffic = trafficTargets(split);
    const op = await this.update(sctx, 'traffic', current, (svc) => ({ ...updatableSpec(svc), traffic }));
    const doing = `setting traffic of ${this.serviceId}`;
    const outcome = await waitForOperation(sctx, op, { stage: 'traffic', doing, timeoutMs: this.cfg.operationTimeoutMs, policy: this.policy });
    if (outcome.error) throw new StageError('traffic', `${doing}: ${outcome.error.message}`);
    this.remember(outcome.result ? plain(outcome.result) : undefined);
    log.info({ traffic: split }, 'traffic set');
  }

  async currentTraffic(ctx: StageContext): Promise<TrafficEntry[]> {
    return readTraffic(await this.read(ctx, 'traffic'));
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
    if (!this.cfg.auth.idToken || this.cfg.endpoint) return {};
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
        if (taken && taken.runId !== holder.runId) log.warn({ holder: taken }, 'taking over an expired Cloud Run service lock');
        return { ...updatableSpec(s), annotations: withLock(s, lock) };
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
          return { ...updatableSpec(s), annotations: withLock(s, undefined) };
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
   * UpdateService with the etag of the service as read; when someone else changed it meanwhile
   * (ABORTED), read it again and rebuild the request from the fresh copy.
   */
  private async update(ctx: StageContext, stage: Stage, first: IService | undefined, build: (svc: IService) => IService, attempts = MAX_CONFLICTS) {
    let svc = first;
    for (let attempt = 1; ; attempt++) {
      if (!svc) throw new StageError(stage, `Cloud Run service ${this.serviceName} disappeared while it was being updated`);
      const request = { ...build(svc), name: this.serviceName, etag: svc.etag ?? '' };
      try {
        const [op] = await withRetry(ctx, `updating service ${this.serviceId}`, this.policy, () =>
          this.clients.services.updateService({ service: request }, CALL_OPTIONS),
        );
        return op;
      } catch (err) {
        if (!hasCode(err, GRPC.ABORTED) || attempt >= attempts) throw apiFailure(stage, `updating Cloud Run service ${this.serviceName}`, err);
        ctx.log.info({ attempt, message: errorInfo(err).message }, 'the service changed since it was read; reading it again');
        svc = await this.read(ctx, stage);
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
