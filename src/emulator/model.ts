/**
 * The emulator's records and the pure rules around them: resource names, revision names, which
 * Service fields a caller may set, conditions, and the views returned by the API.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import { REVISION_NAME_PATTERN, SERVICE_NAME_PATTERN } from '../model/cloud-run-names.js';
import { resourceProblems } from '../config/cloudrun-schema.js';
import { revisionLogsUrl } from './logging.js';
import {
  ApiError,
  Code,
  timestamp,
  type Condition,
  type ConditionState,
  type Revision,
  type RevisionTemplate,
  type Service,
  type Timestamp,
  type TrafficTargetStatus,
} from './types.js';

export type RevisionState = 'pending' | 'ready' | 'failed';

export interface RevisionRecord {
  /** projects/P/locations/L/services/S/revisions/R */
  key: string;
  name: string;
  serviceKey: string;
  seq: number;
  uid: string;
  generation: number;
  createTime: Timestamp;
  updateTime: Timestamp;
  template: RevisionTemplate;
  state: RevisionState;
  conditions: Condition[];
  etag: string;
}

export interface ServiceRecord {
  /** projects/P/locations/L/services/S */
  key: string;
  id: string;
  /** projects/P/locations/L */
  location: string;
  /** What the caller asked for: every field that is not output-only. */
  spec: Service;
  uid: string;
  generation: number;
  observedGeneration: number;
  createTime: Timestamp;
  updateTime: Timestamp;
  etag: string;
  terminalCondition: Condition;
  conditions: Condition[];
  latestReadyRevision?: string;
  latestCreatedRevision?: string;
  trafficStatuses: TrafficTargetStatus[];
  uri: string;
  reconciling: boolean;
  /** Operations accepted and not yet reconciled: `reconciling` is true while there is one. */
  inFlight: number;
  revisionSeq: number;
  /** Reconciles run one at a time per service, in the order their operations were created. */
  queue: Promise<void>;
}


/** Fields the API computes; whatever a caller sends in them is ignored, as Cloud Run does. */
const OUTPUT_ONLY = [
  'name', 'uid', 'generation', 'createTime', 'updateTime', 'deleteTime', 'expireTime', 'creator', 'lastModifier',
  'observedGeneration', 'terminalCondition', 'conditions', 'latestReadyRevision', 'latestCreatedRevision',
  'trafficStatuses', 'uri', 'urls', 'reconciling', 'satisfiesPzs', 'threatDetectionEnabled', 'etag',
] as const;

export function parseLocation(parent: string): { project: string; region: string } {
  const m = /^projects\/([^/]+)\/locations\/([^/]+)$/.exec(parent ?? '');
  if (!m) throw new ApiError(Code.INVALID_ARGUMENT, `Invalid parent "${parent}": expected projects/PROJECT/locations/REGION.`);
  return { project: m[1] as string, region: m[2] as string };
}

export function parseServiceName(name: string): { location: string; id: string; project: string; region: string } {
  const m = /^(projects\/([^/]+)\/locations\/([^/]+))\/services\/([^/]+)$/.exec(name ?? '');
  if (!m) throw new ApiError(Code.INVALID_ARGUMENT, `Invalid service name "${name}": expected projects/PROJECT/locations/REGION/services/SERVICE.`);
  return { location: m[1] as string, project: m[2] as string, region: m[3] as string, id: m[4] as string };
}

export function parseRevisionName(name: string): { serviceKey: string; revision: string } {
  const m = /^(projects\/[^/]+\/locations\/[^/]+\/services\/[^/]+)\/revisions\/([^/]+)$/.exec(name ?? '');
  if (!m) throw new ApiError(Code.INVALID_ARGUMENT, `Invalid revision name "${name}": expected projects/P/locations/L/services/S/revisions/R.`);
  return { serviceKey: m[1] as string, revision: m[2] as string };
}

export function checkServiceId(id: string): void {
  if (!SERVICE_NAME_PATTERN.test(id ?? '')) {
    throw new ApiError(
      Code.INVALID_ARGUMENT,
      `service_id "${id}": must use only lowercase alphanumeric characters and dashes, cannot begin or end with a dash, and cannot be longer than 49 characters.`,
    );
  }
}

export function notFound(kind: 'SERVICE' | 'REVISION', name: string): ApiError {
  const m = /^projects\/([^/]+)\/locations\/([^/]+)\/.*\/([^/]+)$/.exec(name);
  const where = m ? ` in region '${m[2]}' in project '${m[1]}'` : '';
  return new ApiError(Code.NOT_FOUND, `Resource '${m?.[3] ?? name}' of kind '${kind}'${where} does not exist.`);
}

/** The caller-settable part of a Service. */
export function specOf(service: Service): Service {
  const spec: Service = { ...service };
  for (const k of OUTPUT_ONLY) delete spec[k];
  return structuredClone(spec);
}

/** A template needs a container with an image; a requested revision name must start with `SERVICE-`. */
export function checkTemplate(id: string, template: RevisionTemplate | undefined): void {
  const containers = template?.containers ?? [];
  if (containers.length === 0) throw new ApiError(Code.INVALID_ARGUMENT, 'service.template.containers: at least one container is required.');
  containers.forEach((c, i) => {
    if (!c.image) throw new ApiError(Code.INVALID_ARGUMENT, `service.template.containers[${i}].image: an image is required.`);
  });
  containers.forEach((c, i) => {
    const problem = startupProbeProblem(c.startupProbe);
    if (problem) throw new ApiError(Code.INVALID_ARGUMENT, `service.template.containers[${i}].startup_probe: ${problem}`);
  });
  const limits = (containers[0]?.resources as { limits?: Record<string, string> } | undefined)?.limits ?? {};
  const problems = resourceProblems({ cpu: limits.cpu, memory: limits.memory, concurrency: template?.maxInstanceRequestConcurrency });
  if (problems.length > 0) throw new ApiError(Code.INVALID_ARGUMENT, `service.template: ${problems.join('; ')}.`);
  const rev = template?.revision;
  if (rev) {
    if (!rev.startsWith(`${id}-`) || rev.length === id.length + 1) {
      throw new ApiError(Code.INVALID_ARGUMENT, `service.template.revision: Revision name "${rev}" must be prefixed by the name of the enclosing Service, "${id}-".`);
    }
    if (!REVISION_NAME_PATTERN.test(rev)) {
      throw new ApiError(
        Code.INVALID_ARGUMENT,
        `service.template.revision: Revision name "${rev}" must use only lowercase alphanumeric characters and dashes, end with a letter or digit, and be at most 63 characters.`,
      );
    }
  }
}

/** The bounds k8s.min.proto documents for a startup probe (Cloud Run's own wording is not published). */
function startupProbeProblem(probe: unknown): string | undefined {
  if (!probe || typeof probe !== 'object') return undefined;
  const p = probe as Record<string, unknown>;
  const n = (k: string) => (typeof p[k] === 'number' ? (p[k] as number) : 0);
  const kinds = ['httpGet', 'tcpSocket', 'grpc'].filter((k) => p[k] !== undefined && p[k] !== null);
  if (kinds.length > 1) return `exactly one of httpGet, tcpSocket or grpc may be set, not ${kinds.join(' and ')}.`;
  if (n('initialDelaySeconds') > 240) return `initial_delay_seconds ${n('initialDelaySeconds')}: the maximum for a startup probe is 240.`;
  if (n('periodSeconds') > 240) return `period_seconds ${n('periodSeconds')}: the maximum for a startup probe is 240.`;
  const period = n('periodSeconds') || 10;
  if (n('timeoutSeconds') > period) return `timeout_seconds ${n('timeoutSeconds')} must not be greater than period_seconds ${period}.`;
  return undefined;
}

/** Cloud Run's automatic revision name: SERVICE-NNNNN-xyz. */
export function autoRevisionName(id: string, seq: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  let suffix = '';
  for (let i = 0; i < 3; i++) suffix += alphabet[randomInt(alphabet.length)];
  return `${id}-${String(seq).padStart(5, '0')}-${suffix}`;
}

/**
 * A canonical JSON form for comparing messages as protobuf does: key order does not matter, and a
 * field at its default (0, '', false, empty, *_UNSPECIFIED) is the same as an unset one. Clients
 * that read a service and send it back (read-modify-write) often fill in such defaults.
 */
export function canonical(value: unknown): string {
  return JSON.stringify(stripDefaults(value) ?? {});
}

function stripDefaults(v: unknown): unknown {
  if (v === null || v === undefined || v === '' || v === false || v === 0 || v === '0') return undefined;
  if (typeof v === 'string' && v.endsWith('_UNSPECIFIED')) return undefined;
  if (Array.isArray(v)) {
    const items = v.map((x) => stripDefaults(x) ?? {});
    return items.length > 0 ? items : undefined;
  }
  if (typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => [k, stripDefaults(x)] as const)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => a.localeCompare(b));
    return entries.length > 0 ? Object.fromEntries(entries) : undefined;
  }
  return v;
}

export function newEtag(generation: number): string {
  return `"${generation}-${randomBytes(6).toString('base64url')}"`;
}

export function condition(type: string, state: ConditionState, extra: Partial<Condition> = {}): Condition {
  const c: Condition = { type, state, lastTransitionTime: timestamp(), ...extra };
  if (state === 'CONDITION_FAILED') c.severity = 'ERROR';
  return c;
}

export function newRevisionRecord(svc: ServiceRecord, name: string, template: RevisionTemplate): RevisionRecord {
  const now = timestamp();
  const snapshot = structuredClone(template);
  delete snapshot.revision;
  return {
    key: `${svc.key}/revisions/${name}`,
    name,
    serviceKey: svc.key,
    seq: svc.revisionSeq,
    uid: randomUUID(),
    generation: 1,
    createTime: now,
    updateTime: now,
    template: snapshot,
    state: 'pending',
    conditions: [condition('Ready', 'CONDITION_RECONCILING'), condition('ContainerHealthy', 'CONDITION_RECONCILING')],
    etag: newEtag(1),
  };
}

export function serviceView(svc: ServiceRecord, extra: Partial<Service> = {}): Service {
  const view: Service = {
    ...structuredClone(svc.spec),
    name: svc.key,
    uid: svc.uid,
    generation: String(svc.generation),
    observedGeneration: String(svc.observedGeneration),
    createTime: svc.createTime,
    updateTime: svc.updateTime,
    creator: 'emulator@deploy-loop.local',
    lastModifier: 'emulator@deploy-loop.local',
    terminalCondition: svc.terminalCondition,
    conditions: svc.conditions,
    trafficStatuses: svc.trafficStatuses,
    uri: svc.uri,
    urls: [svc.uri],
    reconciling: svc.reconciling,
    etag: svc.etag,
    ...extra,
  };
  if (svc.latestReadyRevision) view.latestReadyRevision = `${svc.key}/revisions/${svc.latestReadyRevision}`;
  if (svc.latestCreatedRevision) view.latestCreatedRevision = `${svc.key}/revisions/${svc.latestCreatedRevision}`;
  return structuredClone(view);
}

export function revisionView(rev: RevisionRecord, extra: Partial<Revision> = {}): Revision {
  const view: Revision = {
    ...structuredClone(rev.template),
    name: rev.key,
    uid: rev.uid,
    generation: String(rev.generation),
    createTime: rev.createTime,
    updateTime: rev.updateTime,
    service: rev.serviceKey,
    reconciling: rev.state === 'pending',
    conditions: structuredClone(rev.conditions),
    observedGeneration: String(rev.generation),
    logUri: revisionLogsUrl(rev.key),
    etag: rev.etag,
    ...extra,
  };
  return view;
}
