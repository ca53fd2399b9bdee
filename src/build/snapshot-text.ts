/**
 * The sentence a report shows for a build's snapshot. A pure function of the record (it imports only
 * the model), so the report can render it from history without importing the build stage.
 */
import type { SnapshotRecord } from '../model/record.js';

/** "Build context unchanged since cycle 3: build reused, nothing copied." and the like; undefined when there is nothing to say. */
export function describeSnapshot(s: SnapshotRecord | undefined): string | undefined {
  if (!s) return undefined;
  if (s.reused) {
    if (s.unchangedSinceCycle !== undefined) return `Build context unchanged since cycle ${s.unchangedSinceCycle}: build reused, nothing copied.`;
    if (s.builtInCycle !== undefined) return `Build context the same as in cycle ${s.builtInCycle}: that build reused, nothing copied.`;
    return 'Build context the same as an earlier build: that build reused, nothing copied.';
  }
  if (s.unchangedSinceCycle !== undefined) return `Build context unchanged since cycle ${s.unchangedSinceCycle}; rebuilt because the build command or its env changed.`;
  return undefined;
}
