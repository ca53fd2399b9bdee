/**
 * Pure translation between deploy-loop and the Cloud Run Admin API v2: the revision template a
 * deploy asks for, its idempotent revision name, the traffic list that adds a candidate tag at 0%,
 * and what a Service or Revision says about traffic and readiness.
 */
import { createHash } from 'node:crypto';
import type { protos } from '@google-cloud/run';
import { INGRESS, VPC_EGRESS, type CloudRunTargetConfig } from '../../config/cloudrun-schema.js';
import type { TrafficEntry } from '../target.js';

export type IService = protos.google.cloud.run.v2.IService;
export type IRevision = protos.google.cloud.run.v2.IRevision;
export type IRevisionTemplate = protos.google.cloud.run.v2.IRevisionTemplate;
export type ITrafficTarget = protos.google.cloud.run.v2.ITrafficTarget;
type IContainer = protos.google.cloud.run.v2.IContainer;
type ICondition = protos.google.cloud.run.v2.ICondition;

export const REVISION = 'TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION';
export const LATEST = 'TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST';

/** Service fields the API computes: never sent back in an update. */
const OUTPUT_ONLY = [
  'uid', 'generation', 'createTime', 'updateTime', 'deleteTime', 'expireTime', 'creator', 'lastModifier',
  'observedGeneration', 'terminalCondition', 'conditions', 'latestReadyRevision', 'latestCreatedRevision',
  'trafficStatuses', 'uri', 'urls', 'reconciling', 'satisfiesPzs', 'threatDetectionEnabled',
] as const;

/** Last path segment: revision names arrive as full resource names in some fields and short in others. */
export function shortName(name: string | null | undefined): string {
  return (name ?? '').split('/').pop() ?? '';
}

/**
 * The template a deploy asks for: the config's fields over the current template (so settings made
 * elsewhere, such as probes or volumes, survive, as with `gcloud run deploy`), with the new image.
 * Env is replaced as a whole: the config is its truth.
 */
export function buildTemplate(cfg: CloudRunTargetConfig, image: string, current: IRevisionTemplate | null | undefined): IRevisionTemplate {
  const base: IRevisionTemplate = compact({ ...(current ?? {}) });
  delete base.revision;
  const [first, ...others] = current?.containers ?? [];
  const container: IContainer = compact({ ...(first ?? {}) });
  container.image = image;
  container.env = [
    ...Object.keys(cfg.env).sort().map((name) => ({ name, value: cfg.env[name] as string })),
    ...cfg.secrets.map((s) => ({ name: s.name, valueSource: { secretKeyRef: { secret: s.secret, version: s.version } } })),
  ];
  if (cfg.cpu || cfg.memory) {
    const limits: Record<string, string> = { ...(container.resources?.limits ?? {}) };
    if (cfg.cpu) limits.cpu = cfg.cpu;
    if (cfg.memory) limits.memory = cfg.memory;
    container.resources = { ...(container.resources ?? {}), limits };
  }
  if (cfg.containerPort) container.ports = [{ name: 'http1', containerPort: cfg.containerPort }];
  const t: IRevisionTemplate = { ...base, containers: [container, ...others] };
  if (cfg.minInstances !== undefined || cfg.maxInstances !== undefined) {
    t.scaling = { ...(t.scaling ?? {}) };
    if (cfg.minInstances !== undefined) t.scaling.minInstanceCount = cfg.minInstances;
    if (cfg.maxInstances !== undefined) t.scaling.maxInstanceCount = cfg.maxInstances;
  }
  if (cfg.concurrency !== undefined) t.maxInstanceRequestConcurrency = cfg.concurrency;
  if (cfg.timeoutSeconds !== undefined) t.timeout = { seconds: cfg.timeoutSeconds };
  if (cfg.serviceAccount) t.serviceAccount = cfg.serviceAccount;
  if (cfg.vpcConnector) {
    const connector = cfg.vpcConnector.includes('/')
      ? cfg.vpcConnector
      : `projects/${cfg.project}/locations/${cfg.region}/connectors/${cfg.vpcConnector}`;
    t.vpcAccess = { connector, ...(cfg.vpcEgress ? { egress: VPC_EGRESS[cfg.vpcEgress] } : {}) };
  }
  if (Object.keys(cfg.labels).length > 0) t.labels = { ...(t.labels ?? {}), ...cfg.labels };
  return t;
}

/**
 * `SERVICE-c<cycle>-<hash of the template>`: a retried cycle asks for the same name with the same
 * template, which Cloud Run treats as no change (no second revision); a changed template in the same
 * cycle gets a different name instead of an ALREADY_EXISTS.
 */
export function revisionName(service: string, cycle: number, template: IRevisionTemplate): string {
  const hash = createHash('sha256').update(canonicalJson(template)).digest('hex');
  const prefix = `${service}-c${cycle}-`;
  return prefix + hash.slice(0, Math.max(4, Math.min(8, 63 - prefix.length)));
}

/** Service-level fields the config owns. */
export function serviceFields(cfg: CloudRunTargetConfig, current?: IService): Pick<IService, 'labels' | 'ingress'> {
  const out: Pick<IService, 'labels' | 'ingress'> = {};
  if (Object.keys(cfg.labels).length > 0) out.labels = { ...(current?.labels ?? {}), ...cfg.labels };
  if (cfg.ingress) out.ingress = INGRESS[cfg.ingress];
  return out;
}

/** The caller-settable part of a Service as read, for a read-modify-write update. */
export function updatableSpec(svc: IService): IService {
  const spec: Record<string, unknown> = { ...svc };
  for (const k of OUTPUT_ONLY) delete spec[k];
  return compact(spec) as IService;
}

/** What actually serves now (`trafficStatuses`), with LATEST resolved to the revision behind it. */
export function readTraffic(svc: IService | undefined): TrafficEntry[] {
  if (!svc) return [];
  const latest = shortName(svc.latestReadyRevision);
  const out: TrafficEntry[] = [];
  for (const s of svc.trafficStatuses ?? []) {
    const revision = s.revision ? shortName(s.revision) : String(s.type) === LATEST ? latest : '';
    if (!revision) continue;
    const e: TrafficEntry = { revision, percent: s.percent ?? 0 };
    if (s.tag) e.tag = s.tag;
    out.push(e);
  }
  return out;
}

/**
 * Traffic for a candidate deploy, like `gcloud run deploy --no-traffic --tag`: what serves now is
 * pinned to named revisions (so LATEST cannot move to the candidate), the tag moves to the
 * candidate at 0%. With nothing serving yet (a new service, or one whose every revision failed)
 * the candidate has to take 100%: Cloud Run needs a split that adds up to 100.
 */
export function candidateTraffic(svc: IService | undefined, candidate: string, tag: string): ITrafficTarget[] {
  const serving = readTraffic(svc);
  const sum = serving.reduce((n, e) => n + e.percent, 0);
  if (sum !== 100) return [{ type: REVISION, revision: candidate, percent: 100, tag }];
  const out: ITrafficTarget[] = [];
  for (const e of serving) {
    if (e.tag === tag || e.revision === candidate) {
      if (e.percent > 0) out.push({ type: REVISION, revision: e.revision, percent: e.percent });
      continue;
    }
    if (e.percent === 0 && !e.tag) continue;
    out.push({ type: REVISION, revision: e.revision, percent: e.percent, ...(e.tag ? { tag: e.tag } : {}) });
  }
  out.push({ type: REVISION, revision: candidate, percent: 0, tag });
  return out;
}

export function trafficTargets(split: readonly TrafficEntry[]): ITrafficTarget[] {
  return split.map((e) => ({ type: REVISION, revision: e.revision, percent: e.percent, ...(e.tag ? { tag: e.tag } : {}) }));
}

export interface ConditionSummary {
  state: string;
  reason?: string;
  message: string;
}

/** The revision's Ready condition, with its reason as Cloud Run's console shows it (HealthCheckContainerError). */
export function readyCondition(conditions: ICondition[] | null | undefined): ConditionSummary | undefined {
  const c = (conditions ?? []).find((x) => x.type === 'Ready');
  if (!c) return undefined;
  const raw = [c.revisionReason, c.reason, c.executionReason].map((r) => (r === null || r === undefined ? '' : String(r))).find((r) => r && !/UNDEFINED|UNSPECIFIED/.test(r));
  const out: ConditionSummary = { state: String(c.state ?? 'STATE_UNSPECIFIED'), message: c.message ?? '' };
  if (raw) out.reason = pascalCase(raw);
  return out;
}

export function isSucceeded(c: ConditionSummary | undefined): boolean {
  return c?.state === 'CONDITION_SUCCEEDED';
}

/** HEALTH_CHECK_CONTAINER_ERROR → HealthCheckContainerError. */
export function pascalCase(enumName: string): string {
  if (!/^[A-Z0-9_]+$/.test(enumName)) return enumName;
  return enumName
    .toLowerCase()
    .split('_')
    .map((w) => (w ? w[0]?.toUpperCase() + w.slice(1) : ''))
    .join('');
}

/** Drops null and undefined fields (as the client returns them) so requests and hashes stay small and stable. */
function compact<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = v;
  return out as T;
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v === null) return undefined;
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)));
    }
    return v;
  });
}
