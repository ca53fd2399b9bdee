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
import { Code, SERVICE_TYPE, timestamp, type Condition } from './types.js';

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
  const lastServing = svc.latestReadyRevision;
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
  let route: RouteFailure | undefined;
  try {
    route = await applyRoutes(deps, svc);
  } catch (err) {
    route = { code: Code.INTERNAL, message: `Routing traffic failed: ${String(err)}` };
  }

  const wait = job.delayMs - (performance.now() - job.started);
  if (wait > 0) await sleep(wait, deps.runtime.signal);

  const failed = (type: string, message: string, reason?: string) => condition(type, 'CONDITION_FAILED', { message, ...(reason ? { reason } : {}) });
  const [routes, configs] = [svc.conditions.find((c) => c.type === 'RoutesReady'), svc.conditions.find((c) => c.type === 'ConfigurationsReady')];
  svc.conditions = [
    transition(routes, route ? failed('RoutesReady', route.message, route.reason) : condition('RoutesReady', 'CONDITION_SUCCEEDED')),
    // A traffic-only update leaves the configuration as it was.
    transition(configs, configFailure ? failed('ConfigurationsReady', configFailure, 'REVISION_FAILED') : rev || !configs ? condition('ConfigurationsReady', 'CONDITION_SUCCEEDED') : configs),
  ];
  const failure = configFailure ? { code: Code.FAILED_PRECONDITION, message: configFailure, reason: 'REVISION_FAILED' } : route;
  svc.terminalCondition = transition(svc.terminalCondition, failure ? failed('Ready', failure.message, failure.reason) : condition('Ready', 'CONDITION_SUCCEEDED'));
  if (failure) {
    // service.proto (`reconciling`): after a failed reconcile, traffic_statuses, observed_generation and
    // latest_ready_revision keep the state of the last serving revision.
    svc.latestReadyRevision = lastServing;
  } else {
    svc.observedGeneration = Math.max(svc.observedGeneration, job.generation);
  }
  svc.inFlight = Math.max(0, svc.inFlight - 1);
  svc.reconciling = svc.inFlight > 0;
  const view = { '@type': SERVICE_TYPE, ...serviceView(svc) };
  if (failure) {
    deps.log.info({ service: svc.id, failure: failure.message }, 'operation failed');
    deps.ops.fail(job.opName, failure.code, failure.message, view);
  } else {
    deps.ops.complete(job.opName, view);
  }
}

/** Why the traffic spec cannot be served: the operation's error code, the condition's message and reason. */
interface RouteFailure {
  code: number;
  message: string;
  reason?: string;
}

/** `next`, keeping `previous`'s lastTransitionTime when the state did not change (condition.proto: "Last time the condition transitioned"). */
function transition(previous: Condition | undefined, next: Condition): Condition {
  if (previous && previous.state === next.state && previous.lastTransitionTime) return { ...next, lastTransitionTime: previous.lastTransitionTime };
  return next;
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

/**
 * Resolves the traffic spec and points the proxy at it; returns why it cannot be served, if so, and
 * then leaves the proxy (what serves) as it was.
 */
async function applyRoutes(deps: ReconcileDeps, svc: ServiceRecord): Promise<RouteFailure | undefined> {
  const resolved = resolveTraffic(normalizeTraffic(svc.spec.traffic), svc.latestReadyRevision);
  if (!resolved) return { code: Code.FAILED_PRECONDITION, reason: 'REVISION_FAILED', message: `Configuration '${svc.id}' does not have any ready Revision, so traffic to LATEST cannot be served.` };
  const routed = routedRevisions(resolved);
  // Cloud Run accepts traffic naming a revision that does not exist; the operation then fails with
  // code 13 and this message (terraform-google-modules/terraform-docs-samples#269).
  for (const name of routed) {
    if (!deps.revisions.has(`${svc.key}/revisions/${name}`)) {
      return { code: Code.INTERNAL, message: `Revision '${name}' does not exist or is deleted. Update all traffic to route to currently available revisions.` };
    }
  }
  const backends = new Map<string, Backend>();
  for (const name of routed) {
    const rev = deps.revisions.get(`${svc.key}/revisions/${name}`) as RevisionRecord;
    if (rev.state !== 'ready') return { code: Code.FAILED_PRECONDITION, reason: 'REVISION_FAILED', message: notReady(name, rev.conditions.find((c) => c.type === 'Ready')?.message ?? '') };
    // A revision scaled to zero (or whose process died) starts again when traffic needs it.
    const failure = deps.runtime.urlOf(rev.key) ? undefined : await launch(deps, svc, rev);
    const url = deps.runtime.urlOf(rev.key);
    if (failure || !url) return { code: Code.FAILED_PRECONDITION, reason: 'REVISION_FAILED', message: notReady(name, failure?.message ?? 'its container stopped.') };
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
