/**
 * Pure translation between deploy-loop and the Cloud Run Admin API v2: the revision template a
 * deploy asks for, its idempotent revision name, the traffic list that adds a candidate tag at 0%,
 * and what a Service or Revision says about traffic and readiness.
 */
import { createHash } from 'node:crypto';
import type { protos } from '@google-cloud/run';
import { INGRESS, VPC_EGRESS, type CloudRunTargetConfig } from '../../config/cloudrun-schema.js';
import { revisionNameFrom } from '../../model/cloud-run-names.js';
import type { TrafficEntry } from '../target.js';

export type IService = protos.google.cloud.run.v2.IService;
export type IRevision = protos.google.cloud.run.v2.IRevision;
export type IRevisionTemplate = protos.google.cloud.run.v2.IRevisionTemplate;
export type ITrafficTarget = protos.google.cloud.run.v2.ITrafficTarget;
type IContainer = protos.google.cloud.run.v2.IContainer;
type IEnvVar = protos.google.cloud.run.v2.IEnvVar;
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

/** Where a container variable of a deploy came from: `target.env`, `target.secrets`, or the service as it was. */
export type EnvSource = 'config' | 'secret' | 'service';

/**
 * The container env a deploy asks for. `merge` (the default, as `gcloud run deploy
 * --update-env-vars`) keeps variables set on the service by other means and overrides those the
 * config names; `replace` (as `--set-env-vars`) keeps only the config's.
 */
export function buildEnv(cfg: CloudRunTargetConfig, current: IContainer | null | undefined): { env: IEnvVar[]; sources: Record<string, EnvSource> } {
  const sources: Record<string, EnvSource> = {};
  const env: IEnvVar[] = [];
  const ours = new Set([...Object.keys(cfg.env), ...cfg.secrets.map((s) => s.name)]);
  if (cfg.envStrategy === 'merge') {
    for (const e of current?.env ?? []) {
      if (!e.name || ours.has(e.name)) continue;
      env.push(compact({ ...e }));
      sources[e.name] = 'service';
    }
  }
  for (const name of Object.keys(cfg.env).sort()) {
    env.push({ name, value: cfg.env[name] as string });
    sources[name] = 'config';
  }
  for (const s of cfg.secrets) {
    env.push({ name: s.name, valueSource: { secretKeyRef: { secret: s.secret, version: s.version } } });
    sources[s.name] = 'secret';
  }
  return { env, sources };
}

/**
 * The template a deploy asks for: the config's fields over the current template (so settings made
 * elsewhere, such as probes or volumes, survive, as with `gcloud run deploy`), with the new image.
 * Env follows `target.envStrategy` (see buildEnv).
 */
export function buildTemplate(cfg: CloudRunTargetConfig, image: string, current: IRevisionTemplate | null | undefined): IRevisionTemplate {
  const base: IRevisionTemplate = compact({ ...(current ?? {}) });
  delete base.revision;
  const [first, ...others] = current?.containers ?? [];
  const container: IContainer = compact({ ...(first ?? {}) });
  container.image = image;
  container.env = buildEnv(cfg, first).env;
  if (cfg.cpu || cfg.memory) {
    const limits: Record<string, string> = { ...(container.resources?.limits ?? {}) };
    if (cfg.cpu) limits.cpu = cfg.cpu;
    if (cfg.memory) limits.memory = cfg.memory;
    container.resources = { ...(container.resources ?? {}), limits };
  }
  if (cfg.containerPort || cfg.portName) {
    // The port's name is its protocol: rewriting the port must not turn an h2c service into HTTP/1.
    const had = first?.ports?.[0];
    const name = cfg.portName ?? (had?.name || 'http1');
    container.ports = [{ name, containerPort: cfg.containerPort ?? (had?.containerPort || 8080) }];
  }
  const t: IRevisionTemplate = { ...base, containers: [container, ...others] };
  if (cfg.minInstances !== undefined || cfg.maxInstances !== undefined) {
    t.scaling = { ...(t.scaling ?? {}) };
    if (cfg.minInstances !== undefined) t.scaling.minInstanceCount = cfg.minInstances;
    if (cfg.maxInstances !== undefined) t.scaling.maxInstanceCount = cfg.maxInstances;
  }
  if (cfg.concurrency !== undefined) t.maxInstanceRequestConcurrency = cfg.concurrency;
  if (cfg.timeoutSeconds !== undefined) t.timeout = { seconds: cfg.timeoutSeconds };
  if (cfg.sessionAffinity !== undefined) t.sessionAffinity = cfg.sessionAffinity;
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
 * `SERVICE-c<cycle>-<hash>`, the hash over the run and the template: a retried cycle of the same run
 * asks for the same name with the same template, which Cloud Run treats as no change (no second
 * revision); another run (a fresh CI checkout, a second reports folder, both starting at cycle 1)
 * or a changed template gets another name instead of a 409 on a name already taken. Cloud Run's
 * revision names are unique per service, for good (deleted revisions' names included).
 */
export function revisionName(service: string, cycle: number, template: IRevisionTemplate, runTag = ''): string {
  const hash = BigInt(`0x${createHash('sha256').update(runTag).update('\0').update(canonicalJson(template)).digest('hex').slice(0, 24)}`).toString(36);
  return revisionNameFrom(service, [`c${cycle}`, hash.slice(0, 8)]);
}

/** Service-level fields the config owns. */
export function serviceFields(cfg: CloudRunTargetConfig, current?: IService): Pick<IService, 'labels' | 'ingress' | 'invokerIamDisabled'> {
  const out: Pick<IService, 'labels' | 'ingress' | 'invokerIamDisabled'> = {};
  if (Object.keys(cfg.labels).length > 0) out.labels = { ...(current?.labels ?? {}), ...cfg.labels };
  if (cfg.ingress) out.ingress = INGRESS[cfg.ingress];
  // Only when the config says: an unset access leaves the service as it is.
  if (cfg.access) out.invokerIamDisabled = cfg.access === 'public' && cfg.publicVia === 'invoker-iam-disabled';
  return out;
}

/** `invokerIamDisabled` → `invoker_iam_disabled`: update_mask paths are proto field names. */
export function maskPath(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * An UpdateService request that changes only `fields`: the service name, its etag, those fields,
 * and an update_mask naming them, so Cloud Run leaves everything else (the template above all) as
 * it stored it.
 */
export function maskedUpdate(name: string, etag: string | null | undefined, fields: IService): { service: IService; updateMask: { paths: string[] } } {
  const paths = Object.keys(fields).map(maskPath).sort();
  return { service: { ...fields, name, etag: etag ?? '' }, updateMask: { paths } };
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
 * Why the traffic a read shows cannot be taken as what serves, or undefined when it can. While a
 * service reconciles, `traffic_statuses` "will have transient values" (service.proto, `reconciling`):
 * a split that does not add up to 100 is then not the live split. Once reconciled, nothing serving
 * (0%: a new service, or every revision failed) is real; any other sum is not a split at all.
 */
export function unsettledTraffic(svc: IService | undefined): string | undefined {
  if (!svc) return undefined;
  const sum = readTraffic(svc).reduce((n, e) => n + e.percent, 0);
  if (sum === 100) return undefined;
  if (svc.reconciling) return `its traffic statuses add up to ${sum}% while the service is reconciling`;
  if (sum !== 0) return `its traffic statuses add up to ${sum}%, not 100%`;
  return undefined;
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
  // A transient split is never taken for "nothing serves": the candidate would get 100% unsmoked.
  const unsettled = unsettledTraffic(svc);
  if (unsettled) throw new Error(`internal: a candidate's traffic was planned from an unsettled read (${unsettled})`);
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

/** All traffic to whatever revision is latest ready, now and after later deploys (`--to-latest`). */
export const LATEST_ONLY: ITrafficTarget[] = [{ type: LATEST, percent: 100 }];

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
