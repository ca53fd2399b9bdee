/**
 * Pure rules for a local traffic split, mirroring what Cloud Run accepts, and the translation of a
 * split into proxy routes.
 */
import type { TrafficEntry } from '../target.js';
import type { Backend, ProxyRoutes } from '../../runtime/proxy.js';
import { TAG_PATTERN, TAG_RULE } from '../../model/cloud-run-names.js';


/** Every problem with a split, one sentence each; empty when Cloud Run would accept it. */
export function splitProblems(split: readonly TrafficEntry[], revisionState: (name: string) => 'running' | 'stopped' | 'unknown'): string[] {
  const problems: string[] = [];
  let sum = 0;
  const tags = new Set<string>();
  for (const [i, e] of split.entries()) {
    const where = `entry ${i} (${e.revision || 'no revision'})`;
    if (!Number.isInteger(e.percent) || e.percent < 0 || e.percent > 100) {
      problems.push(`${where}: percent must be a whole number from 0 to 100, got ${e.percent}`);
    } else sum += e.percent;
    if (e.tag !== undefined) {
      if (!TAG_PATTERN.test(e.tag)) problems.push(`${where}: tag "${e.tag}" must be ${TAG_RULE}`);
      if (tags.has(e.tag)) problems.push(`${where}: tag "${e.tag}" is used more than once; tags must be unique`);
      tags.add(e.tag);
    }
    const state = revisionState(e.revision);
    if (state === 'unknown') problems.push(`${where}: no revision named "${e.revision}" was deployed on this target`);
    else if (state === 'stopped') problems.push(`${where}: revision "${e.revision}" is no longer running`);
  }
  if (problems.length === 0 && sum !== 100) problems.push(`percents must add up to 100, they add up to ${sum}`);
  return problems;
}

/** The proxy's view of a split: revisions with a share (merged when listed twice) and the tag map. */
export function routesFor(split: readonly TrafficEntry[], backendOf: (revision: string) => Backend): ProxyRoutes {
  const shares = new Map<string, number>();
  const tags: Record<string, Backend> = {};
  for (const e of split) {
    if (e.percent > 0) shares.set(e.revision, (shares.get(e.revision) ?? 0) + e.percent);
    if (e.tag !== undefined) tags[e.tag] = backendOf(e.revision);
  }
  return { split: [...shares].map(([revision, percent]) => ({ backend: backendOf(revision), percent })), tags };
}

/** Moves `tag` onto `revision` at 0% (as `gcloud run deploy --tag --no-traffic` does), dropping empty leftovers. */
export function withCandidateTag(split: readonly TrafficEntry[], revision: string, tag: string): TrafficEntry[] {
  const out: TrafficEntry[] = [];
  for (const e of split) {
    if (e.tag !== tag) out.push({ ...e });
    else if (e.percent > 0) out.push({ revision: e.revision, percent: e.percent });
  }
  out.push({ revision, percent: 0, tag });
  return out;
}
