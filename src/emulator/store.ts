/**
 * The emulator's Cloud Run state and its synchronous API semantics: validation (INVALID_ARGUMENT,
 * ALREADY_EXISTS, NOT_FOUND, ABORTED on an etag mismatch), generations, revision creation on every
 * template change, and an operation per mutation. The slow part (starting revisions, routing) runs
 * in reconcile.ts after the call has returned its operation.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../log.js';
import { IamPolicies, invokerRefusal, type Policy } from './iam.js';
import {
  autoRevisionName,
  canonical,
  checkServiceId,
  checkTemplate,
  condition,
  newEtag,
  newRevisionRecord,
  notFound,
  parseLocation,
  parseRevisionName,
  parseServiceName,
  revisionView,
  serviceView,
  specOf,
  type RevisionRecord,
  type ServiceRecord,
} from './model.js';
import type { OperationStore } from './operations.js';
import { reconcile, type ReconcileDeps } from './reconcile.js';
import type { RevisionRuntime } from './runtime.js';
import { normalizeTraffic, toTrafficTargets, trafficProblems } from './traffic.js';
import { ApiError, Code, REVISION_TYPE, SERVICE_TYPE, timestamp, type Condition, type Operation, type Revision, type Service } from './types.js';

export interface StoreDeps {
  runtime: RevisionRuntime;
  ops: OperationStore;
  log: Logger;
  /** Minimum duration of the next operation, faults included. */
  operationDelayMs: () => number;
}

export interface Page<T> {
  items: T[];
  nextPageToken: string;
}

export class EmulatorState {
  readonly services = new Map<string, ServiceRecord>();
  readonly revisions = new Map<string, RevisionRecord>();
  readonly iam = new IamPolicies();
  private readonly pending = new Set<Promise<void>>();
  private readonly rdeps: ReconcileDeps;

  constructor(private readonly deps: StoreDeps) {
    this.rdeps = { runtime: deps.runtime, ops: deps.ops, log: deps.log, revisions: this.revisions };
  }

  async createService(req: { parent: string; serviceId: string; service?: Service; validateOnly?: boolean }): Promise<Operation> {
    parseLocation(req.parent);
    checkServiceId(req.serviceId);
    const key = `${req.parent}/services/${req.serviceId}`;
    if (this.services.has(key)) throw new ApiError(Code.ALREADY_EXISTS, `Resource '${req.serviceId}' already exists.`);
    const spec = specOf(req.service ?? {});
    checkTemplate(req.serviceId, spec.template);
    this.checkTraffic(req.serviceId, spec);
    const now = timestamp();
    const svc: ServiceRecord = {
      key,
      id: req.serviceId,
      location: req.parent,
      spec,
      uid: randomUUID(),
      generation: 1,
      observedGeneration: 0,
      createTime: now,
      updateTime: now,
      etag: newEtag(1),
      terminalCondition: condition('Ready', 'CONDITION_RECONCILING'),
      conditions: [condition('RoutesReady', 'CONDITION_RECONCILING'), condition('ConfigurationsReady', 'CONDITION_RECONCILING')],
      trafficStatuses: [],
      uri: '',
      reconciling: true,
      inFlight: 0,
      revisionSeq: 0,
      queue: Promise.resolve(),
    };
    if (req.validateOnly) return this.doneOperation(req.parent, serviceView(svc));
    // The URL exists from creation on, as on Cloud Run; it answers 503 until a revision serves.
    svc.uri = (await this.deps.runtime.openProxy(key)).url;
    this.services.set(key, svc);
    return this.commit(svc, true);
  }

  async updateService(req: { service?: Service; updateMask?: { paths?: string[] }; validateOnly?: boolean; allowMissing?: boolean }): Promise<Operation> {
    const name = req.service?.name ?? '';
    const { location, id } = parseServiceName(name);
    const svc = this.services.get(name);
    if (!svc) {
      if (req.allowMissing) return this.createService({ parent: location, serviceId: id, service: req.service ?? {}, validateOnly: req.validateOnly ?? false });
      throw notFound('SERVICE', name);
    }
    const sent = req.service as Service;
    if (sent.etag && sent.etag !== svc.etag) {
      throw new ApiError(Code.ABORTED, `The etag "${sent.etag}" does not match the current etag of service '${id}' ("${svc.etag}"): it changed since it was read. Read it again and retry.`);
    }
    const spec = mergeSpec(svc.spec, specOf(sent), req.updateMask?.paths);
    checkTemplate(id, spec.template);
    const templateChanged = canonical(spec.template) !== canonical(svc.spec.template);
    const newName = templateChanged ? spec.template?.revision : undefined;
    if (newName && this.revisions.has(`${svc.key}/revisions/${newName}`)) {
      throw new ApiError(Code.ALREADY_EXISTS, `Revision named '${newName}' with different configuration already exists.`);
    }
    this.checkTraffic(id, spec);
    if (req.validateOnly) return this.doneOperation(location, serviceView({ ...svc, spec }));
    const specChanged = templateChanged || canonical(spec) !== canonical(svc.spec);
    svc.spec = spec;
    if (specChanged) svc.generation++;
    return this.commit(svc, templateChanged);
  }

  deleteService(req: { name: string; etag?: string; validateOnly?: boolean }): Operation {
    const { location } = parseServiceName(req.name);
    const svc = this.services.get(req.name);
    if (!svc) throw notFound('SERVICE', req.name);
    if (req.etag && req.etag !== svc.etag) throw new ApiError(Code.ABORTED, `The etag "${req.etag}" does not match the current etag of service '${svc.id}'.`);
    const view = serviceView(svc, { deleteTime: timestamp() });
    if (req.validateOnly) return this.doneOperation(location, view);
    this.services.delete(svc.key);
    this.iam.delete(svc.key);
    for (const key of [...this.revisions.keys()]) if (key.startsWith(`${svc.key}/revisions/`)) this.revisions.delete(key);
    const op = this.deps.ops.create(location, { '@type': SERVICE_TYPE, ...view });
    this.track(
      svc.queue.then(async () => {
        await this.deps.runtime.closeService(svc.key);
        this.deps.ops.complete(op.name, { '@type': SERVICE_TYPE, ...view });
      }),
    );
    return op;
  }

  getIamPolicy(resource: string): Policy {
    this.serviceFor(resource);
    return this.iam.get(resource);
  }

  setIamPolicy(resource: string, policy: Policy | undefined): Policy {
    this.serviceFor(resource);
    if (!policy) throw new ApiError(Code.INVALID_ARGUMENT, 'policy: a policy is required.');
    return this.iam.set(resource, policy);
  }

  testIamPermissions(resource: string, permissions: readonly string[]): string[] {
    this.serviceFor(resource);
    return this.iam.testPermissions(permissions);
  }

  /** The invoker check of a service's URLs (see iam.ts). */
  admission(serviceKey: string, headers: IncomingHttpHeaders): { status: number; body: string } | undefined {
    const svc = this.services.get(serviceKey);
    if (!svc) return undefined;
    return invokerRefusal(headers, svc.spec.invokerIamDisabled === true || this.iam.publicByPolicy(serviceKey));
  }

  /**
   * Request timeout (template `timeout`, Cloud Run's default 300 s) of each revision a connection to
   * `port` may reach: the split's revisions on the service URL, the tagged one on a tag URL.
   */
  requestTimeouts(serviceKey: string, port: number): Map<string, number> {
    const out = new Map<string, number>();
    const svc = this.services.get(serviceKey);
    if (!svc) return out;
    const portOf = (url: string | undefined) => (url ? Number(new URL(url).port) : -1);
    const main = portOf(svc.uri) === port;
    for (const t of svc.trafficStatuses) {
      if (!t.revision || !(main ? (t.percent ?? 0) > 0 : portOf(t.uri) === port)) continue;
      const rev = this.revisions.get(`${serviceKey}/revisions/${t.revision}`);
      if (rev) out.set(t.revision, durationMs(rev.template.timeout) ?? DEFAULT_REQUEST_TIMEOUT_MS);
    }
    return out;
  }

  /** One revision's request timeout (its template's, else Cloud Run's default); undefined when it is unknown. */
  revisionTimeout(serviceKey: string, revision: string): number | undefined {
    const rev = this.revisions.get(`${serviceKey}/revisions/${revision}`);
    return rev ? (durationMs(rev.template.timeout) ?? DEFAULT_REQUEST_TIMEOUT_MS) : undefined;
  }

  private serviceFor(resource: string): ServiceRecord {
    parseServiceName(resource);
    const svc = this.services.get(resource);
    if (!svc) throw notFound('SERVICE', resource);
    return svc;
  }

  getService(name: string): Service {
    parseServiceName(name);
    const svc = this.services.get(name);
    if (!svc) throw notFound('SERVICE', name);
    return serviceView(svc);
  }

  listServices(parent: string, pageSize: number, pageToken: string): Page<Service> {
    const { project, region } = parseLocation(parent);
    const all = [...this.services.values()].filter((s) => {
      const p = parseServiceName(s.key);
      return (project === '-' || p.project === project) && (region === '-' || p.region === region);
    });
    return paginate(all.map((s) => serviceView(s)), pageSize, pageToken);
  }

  getRevision(name: string): Revision {
    parseRevisionName(name);
    const rev = this.revisions.get(name);
    if (!rev) throw notFound('REVISION', name);
    return revisionView(rev);
  }

  listRevisions(parent: string, pageSize: number, pageToken: string): Page<Revision> {
    const { location, id } = parseServiceName(parent);
    if (id !== '-' && !this.services.has(parent)) throw notFound('SERVICE', parent);
    const prefix = id === '-' ? `${location}/services/` : `${parent}/revisions/`;
    // Newest first, as Cloud Run lists them.
    const all = [...this.revisions.values()].filter((r) => r.key.startsWith(prefix)).sort((a, b) => b.seq - a.seq);
    return paginate(all.map((r) => revisionView(r)), pageSize, pageToken);
  }

  deleteRevision(req: { name: string; etag?: string; validateOnly?: boolean }): Operation {
    const { serviceKey, revision } = parseRevisionName(req.name);
    const rev = this.revisions.get(req.name);
    const svc = this.services.get(serviceKey);
    if (!rev || !svc) throw notFound('REVISION', req.name);
    if (req.etag && req.etag !== rev.etag) throw new ApiError(Code.ABORTED, `The etag "${req.etag}" does not match the current etag of revision '${revision}'.`);
    const routed = [...(svc.spec.traffic ?? []), ...svc.trafficStatuses].some((t) => t.revision === revision);
    if (routed || svc.latestReadyRevision === revision) {
      throw new ApiError(Code.FAILED_PRECONDITION, `Revision '${revision}' cannot be deleted because it is serving traffic or is the latest ready revision of service '${svc.id}'.`);
    }
    const view = revisionView(rev, { deleteTime: timestamp() });
    if (req.validateOnly) return this.doneOperation(svc.location, view, REVISION_TYPE);
    this.revisions.delete(req.name);
    const op = this.deps.ops.create(svc.location, { '@type': REVISION_TYPE, ...view });
    this.track(
      this.deps.runtime.stop(rev.key).then(() => this.deps.ops.complete(op.name, { '@type': REVISION_TYPE, ...view })),
    );
    return op;
  }

  /** Waits for every reconcile in flight (shutdown). */
  async settle(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** What Cloud Run refuses at once; a revision that does not exist is not among it (the operation fails instead, see reconcile.ts). */
  private checkTraffic(serviceId: string, spec: Service): void {
    const targets = normalizeTraffic(spec.traffic);
    const problems = trafficProblems(targets, serviceId);
    if (problems.length > 0) throw new ApiError(Code.INVALID_ARGUMENT, problems.join(' '));
    spec.traffic = toTrafficTargets(targets);
  }

  /** Records the new generation (and revision), returns its operation and queues the reconcile. */
  private commit(svc: ServiceRecord, templateChanged: boolean): Operation {
    svc.updateTime = timestamp();
    svc.etag = newEtag(svc.generation);
    let rev: RevisionRecord | undefined;
    if (templateChanged && svc.spec.template) {
      svc.revisionSeq++;
      let name = svc.spec.template.revision;
      while (!name || this.revisions.has(`${svc.key}/revisions/${name}`)) name = autoRevisionName(svc.id, svc.revisionSeq);
      rev = newRevisionRecord(svc, name, svc.spec.template);
      this.revisions.set(rev.key, rev);
      svc.latestCreatedRevision = name;
    }
    svc.inFlight++;
    svc.reconciling = true;
    svc.terminalCondition = reconciling(svc.terminalCondition, 'Ready');
    svc.conditions = svc.conditions.map((c) => (c.type === 'RoutesReady' || (templateChanged && c.type === 'ConfigurationsReady') ? reconciling(c, c.type) : c));
    const op = this.deps.ops.create(svc.location, { '@type': SERVICE_TYPE, ...serviceView(svc) });
    const started = performance.now();
    const delayMs = this.deps.operationDelayMs();
    const generation = svc.generation;
    const run = svc.queue.then(() => reconcile(this.rdeps, svc, { opName: op.name, revision: rev, generation, started, delayMs }));
    svc.queue = run.catch(() => undefined);
    this.track(run);
    return op;
  }

  private doneOperation(location: string, view: Service | Revision, type = SERVICE_TYPE): Operation {
    const op = this.deps.ops.create(location, { '@type': type, ...view });
    this.deps.ops.complete(op.name, { '@type': type, ...view });
    return this.deps.ops.get(op.name);
  }

  private track(p: Promise<unknown>): void {
    const done: Promise<void> = p.then(
      () => undefined,
      (err: unknown) => this.deps.log.error({ err: String(err) }, 'emulator background work failed'),
    );
    this.pending.add(done);
    void done.finally(() => this.pending.delete(done));
  }
}

/** Cloud Run's request timeout when the template sets none (revision_template.proto `timeout`). */
const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

function durationMs(d: { seconds?: string | number; nanos?: number } | undefined): number | undefined {
  if (!d) return undefined;
  const ms = Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6);
  return ms > 0 ? ms : undefined;
}

/** A condition entering CONDITION_RECONCILING (its transition time kept when it already was). */
function reconciling(c: Condition | undefined, type: string): Condition {
  return c?.state === 'CONDITION_RECONCILING' ? c : condition(type, 'CONDITION_RECONCILING');
}

/** An update mask names top-level fields (`template`, `traffic`, …); without one the whole spec is replaced. */
function mergeSpec(current: Service, sent: Service, paths: string[] | undefined): Service {
  if (!paths || paths.length === 0) return sent;
  const out: Service = structuredClone(current);
  for (const p of paths) {
    const field = (p.split('.')[0] ?? '').replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
    if (field in sent) out[field] = sent[field];
    else delete out[field];
  }
  return out;
}

function paginate<T>(all: T[], pageSize: number, pageToken: string): Page<T> {
  const start = pageToken ? Number(pageToken) : 0;
  if (!Number.isInteger(start) || start < 0) throw new ApiError(Code.INVALID_ARGUMENT, `invalid page_token "${pageToken}"`);
  const size = pageSize > 0 ? pageSize : 100;
  return { items: all.slice(start, start + size), nextPageToken: start + size < all.length ? String(start + size) : '' };
}
