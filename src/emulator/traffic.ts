/**
 * Cloud Run's traffic rules, as pure functions: what a `traffic` list means, whether the API would
 * accept it, and which concrete revisions it routes to once LATEST is resolved.
 */
import { TAG_PATTERN, tagLengthProblem } from '../model/cloud-run-names.js';
import { ALLOCATION_LATEST, ALLOCATION_REVISION, type TrafficTarget, type TrafficTargetStatus } from './types.js';

export interface NormalizedTarget {
  latest: boolean;
  /** Short revision name (`svc-00002-abc`), for REVISION targets. */
  revision?: string;
  percent: number;
  tag?: string;
}


/** proto3 drops zeros and empty strings on the wire; an unspecified type means LATEST unless a revision is named. */
export function normalizeTraffic(traffic: readonly TrafficTarget[] | undefined): NormalizedTarget[] {
  if (!traffic || traffic.length === 0) return [{ latest: true, percent: 100 }];
  return traffic.map((t) => {
    const latest = t.type === ALLOCATION_LATEST || ((!t.type || t.type.endsWith('UNSPECIFIED')) && !t.revision);
    const out: NormalizedTarget = { latest, percent: t.percent ?? 0 };
    if (t.revision) out.revision = t.revision;
    if (t.tag) out.tag = t.tag;
    return out;
  });
}

/** Back to the API shape, as Cloud Run echoes it in `service.traffic`. */
export function toTrafficTargets(targets: readonly NormalizedTarget[]): TrafficTarget[] {
  return targets.map((t) => {
    const out: TrafficTarget = { type: t.latest ? ALLOCATION_LATEST : ALLOCATION_REVISION, percent: t.percent };
    if (!t.latest && t.revision) out.revision = t.revision;
    if (t.tag) out.tag = t.tag;
    return out;
  });
}

/**
 * Every reason Cloud Run would reject the list at once (INVALID_ARGUMENT); empty when it is
 * acceptable. A revision that does not exist is accepted here: the operation fails later.
 */
export function trafficProblems(targets: readonly NormalizedTarget[], serviceId = ''): string[] {
  const problems: string[] = [];
  const tagSeen = new Map<string, number>();
  let sum = 0;
  targets.forEach((t, i) => {
    const at = `spec.traffic[${i}]`;
    if (!t.latest && !t.revision) {
      problems.push(`${at}.revision: a revision name is required when type is ${ALLOCATION_REVISION}.`);
    }
    if (t.latest && t.revision) {
      problems.push(`${at}.revision: must be empty when type is ${ALLOCATION_LATEST}.`);
    }
    if (!Number.isInteger(t.percent) || t.percent < 0 || t.percent > 100) {
      problems.push(`${at}.percent: Invalid value: ${t.percent}: must be between 0 and 100.`);
    } else sum += t.percent;
    if (t.tag !== undefined) {
      if (!TAG_PATTERN.test(t.tag)) {
        problems.push(`${at}.tag: Invalid value: "${t.tag}": a tag must be lowercase letters, digits and dashes, start with a letter and end with a letter or digit.`);
      } else if (serviceId && tagLengthProblem(serviceId, t.tag)) {
        // gcloud prints exactly this (spec.traffic.tag) when the tag URL's DNS label would be too long.
        problems.push(`spec.traffic.tag: traffic tag '${t.tag}' and service name '${serviceId}' together are too long. Combined traffic tag and service name cannot exceed 46 characters.`);
      }
      const first = tagSeen.get(t.tag);
      if (first !== undefined) {
        problems.push(`spec.traffic: Multiple definitions for tag "${t.tag}": spec.traffic[${first}].tag, ${at}.tag`);
      } else tagSeen.set(t.tag, i);
    }
  });
  if (problems.length === 0 && sum !== 100) {
    problems.push(`spec.traffic: Invalid value: ${sum}: Traffic targets sum to ${sum}, want 100.`);
  }
  return problems;
}

export interface ResolvedTarget {
  revision: string;
  percent: number;
  tag?: string;
  latest: boolean;
}

/** Replaces LATEST with the latest ready revision; undefined when LATEST is used and none is ready. */
export function resolveTraffic(targets: readonly NormalizedTarget[], latestReady: string | undefined): ResolvedTarget[] | undefined {
  const out: ResolvedTarget[] = [];
  for (const t of targets) {
    const revision = t.latest ? latestReady : t.revision;
    if (!revision) {
      if (t.percent === 0 && !t.tag) continue;
      return undefined;
    }
    const r: ResolvedTarget = { revision, percent: t.percent, latest: t.latest };
    if (t.tag) r.tag = t.tag;
    out.push(r);
  }
  return out;
}

/** `trafficStatuses` as Cloud Run reports them: one per target, with the tag URL for tagged ones. */
export function trafficStatuses(resolved: readonly ResolvedTarget[], tagUrl: (tag: string) => string | undefined): TrafficTargetStatus[] {
  return resolved.map((t) => {
    const s: TrafficTargetStatus = { type: t.latest ? ALLOCATION_LATEST : ALLOCATION_REVISION, revision: t.revision, percent: t.percent };
    if (t.tag) {
      s.tag = t.tag;
      const uri = tagUrl(t.tag);
      if (uri) s.uri = uri;
    }
    return s;
  });
}

/** Revisions that a resolved split needs running: those with a share or a tag. */
export function routedRevisions(resolved: readonly ResolvedTarget[]): Set<string> {
  return new Set(resolved.filter((t) => t.percent > 0 || t.tag).map((t) => t.revision));
}
