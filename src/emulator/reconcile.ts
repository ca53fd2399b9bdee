/**
 * What happens behind a Cloud Run operation: the new revision's container is started, the traffic
 * spec is resolved and applied to the service's proxy, conditions are written, and the operation
 * completes (or fails with FAILED_PRECONDITION and Cloud Run's "is not ready and cannot serve
 * traffic" message, as the real API does).
 */
import type { Logger } from '../log.js';
import type { Backend } from '../runtime/proxy.js';
import { condition, serviceView, type RevisionRecord, type ServiceRecord } from './model.js';
import type { OperationStore } from './operations.js';
import type { LaunchFailure, RevisionRuntime } from './runtime.js';
import { normalizeTraffic, resolveTraffic, routedRevisions, trafficStatuses } from './traffic.js';
import { Code, SERVICE_TYPE, timestamp } from './types.js';

export interface ReconcileDeps {
  runtime: RevisionRuntime;
  ops: OperationStore;
  log: Logger;
  revisions: Map<string, RevisionRecord>;
}

export interface ReconcileJob {
  opName: string;
  /** The revision this generation created, if its template changed. */
  revision: RevisionRecord | undefined;
  generation: number;
  /** performance.now() when the operation was created. */
  started: number;
  /** The operation does not complete before this many milliseconds. */
  delayMs: number;
}

export async function reconcile(deps: ReconcileDeps, svc: ServiceRecord, job: ReconcileJob): Promise<void> {
  const publish = () => deps.ops.setMetadata(job.opName, { '@type': SERVICE_TYPE, ...serviceView(svc) });
  let configFailure: string | undefined;
  const rev = job.revision;
  if (rev) {
    const result = await launch(deps, svc, rev);
    if (result === undefined) {
      if (!svc.latestReadyRevision || seqOf(deps, svc, svc.latestReadyRevision) < rev.seq) svc.latestReadyRevision = rev.name;
    } else {
      configFailure = notReady(rev.name, result.message);
    }
    publish();
  }
  let routeFailure: string | undefined;
  try {
    routeFailure = await applyRoutes(deps, svc);
  } catch (err) {
    routeFailure = `Routing traffic failed: ${String(err)}`;
  }

  const wait = job.delayMs - (performance.now() - job.started);
  if (wait > 0) await sleep(wait, deps.runtime.signal);

  svc.conditions = [
    routeFailure
      ? condition('RoutesReady', 'CONDITION_FAILED', { reason: 'REVISION_FAILED', message: routeFailure })
      : condition('RoutesReady', 'CONDITION_SUCCEEDED'),
    configFailure
      ? condition('ConfigurationsReady', 'CONDITION_FAILED', { reason: 'REVISION_FAILED', message: configFailure })
      : condition('ConfigurationsReady', 'CONDITION_SUCCEEDED'),
  ];
  const failure = configFailure ?? routeFailure;
  svc.terminalCondition = failure
    ? condition('Ready', 'CONDITION_FAILED', { reason: 'REVISION_FAILED', message: failure })
    : condition('Ready', 'CONDITION_SUCCEEDED');
  svc.observedGeneration = Math.max(svc.observedGeneration, job.generation);
  svc.reconciling = svc.observedGeneration < svc.generation;
  const view = { '@type': SERVICE_TYPE, ...serviceView(svc) };
  if (failure) {
    deps.log.info({ service: svc.id, failure }, 'operation failed');
    deps.ops.fail(job.opName, Code.FAILED_PRECONDITION, failure, view);
  } else {
    deps.ops.complete(job.opName, view);
  }
}

/** Starts a revision's container; undefined when it is ready, otherwise why not (also written to its conditions). */
async function launch(deps: ReconcileDeps, svc: ServiceRecord, rev: RevisionRecord): Promise<LaunchFailure | undefined> {
  const container = rev.template.containers?.[0] ?? {};
  const result = await deps.runtime.launch({ key: rev.key, name: rev.name, serviceId: svc.id, container });
  rev.updateTime = timestamp();
  if (result.ok) {
    rev.state = 'ready';
    rev.conditions = [
      condition('Ready', 'CONDITION_SUCCEEDED'),
      condition('ContainerHealthy', 'CONDITION_SUCCEEDED'),
      condition('ResourcesAvailable', 'CONDITION_SUCCEEDED'),
    ];
    return undefined;
  }
  const f = result.failure;
  const why = { message: f.message, ...(f.reason ? { reason: f.reason } : {}), ...(f.revisionReason ? { revisionReason: f.revisionReason } : {}) };
  rev.state = 'failed';
  rev.conditions = [condition('Ready', 'CONDITION_FAILED', why), condition('ContainerHealthy', 'CONDITION_FAILED', why)];
  return f;
}

/** Resolves the traffic spec and points the proxy at it; returns why it cannot be served, if so. */
async function applyRoutes(deps: ReconcileDeps, svc: ServiceRecord): Promise<string | undefined> {
  const resolved = resolveTraffic(normalizeTraffic(svc.spec.traffic), svc.latestReadyRevision);
  if (!resolved) return `Configuration '${svc.id}' does not have any ready Revision, so traffic to LATEST cannot be served.`;
  const routed = routedRevisions(resolved);
  const backends = new Map<string, Backend>();
  for (const name of routed) {
    const rev = deps.revisions.get(`${svc.key}/revisions/${name}`);
    if (!rev) return `Revision '${name}' does not exist or is deleted. Update all traffic to route to currently available revisions.`;
    if (rev.state !== 'ready') return notReady(name, rev.conditions.find((c) => c.type === 'Ready')?.message ?? '');
    // A revision scaled to zero (or whose process died) starts again when traffic needs it.
    const failure = deps.runtime.urlOf(rev.key) ? undefined : await launch(deps, svc, rev);
    const url = deps.runtime.urlOf(rev.key);
    if (failure || !url) return notReady(name, failure?.message ?? 'its container stopped.');
    backends.set(name, { name, url });
  }
  const shares = new Map<string, number>();
  const tags: Record<string, Backend> = {};
  for (const t of resolved) {
    const backend = backends.get(t.revision);
    if (!backend) continue;
    if (t.percent > 0) shares.set(t.revision, (shares.get(t.revision) ?? 0) + t.percent);
    if (t.tag) tags[t.tag] = backend;
  }
  const split = [...shares].map(([name, percent]) => ({ backend: backends.get(name) as Backend, percent }));
  const proxy = await deps.runtime.setRoutes(svc.key, { split, tags });
  svc.trafficStatuses = trafficStatuses(resolved, (tag) => proxy.tagUrl(tag));
  // Revisions with no share and no tag scale to zero, as on Cloud Run.
  const prefix = `${svc.key}/revisions/`;
  const idle = deps.runtime.runningKeys().filter((k) => k.startsWith(prefix) && !routed.has(k.slice(prefix.length)));
  await Promise.all(idle.map((k) => deps.runtime.stop(k)));
  return undefined;
}

function notReady(name: string, detail: string): string {
  return `Revision '${name}' is not ready and cannot serve traffic. ${detail}`.trim();
}

function seqOf(deps: ReconcileDeps, svc: ServiceRecord, name: string): number {
  return deps.revisions.get(`${svc.key}/revisions/${name}`)?.seq ?? 0;
}

/** Ends early when the emulator shuts down, so close() never waits out a slow operation. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
