import type { StageContext } from '../context.js';
import type { SnapshotRecord } from '../model/record.js';
import type { BuildKeep } from './store.js';

/** What a build produced: an image reference, or (command builder) a snapshot folder. */
export interface BuiltImage {
  /** Image reference (`REGISTRY/IMAGE@sha256:…`) or `dir:/abs/path` for a snapshot folder. */
  ref: string;
  /** Absolute folder holding the built revision, for builders that produce one. */
  dir?: string;
  digest?: string;
  durationMs: number;
  outputTail: string[];
  /** build.kind: command: the content-addressed snapshot (for the cycle record's build.snapshot). */
  snapshot?: SnapshotRecord;
}

/** What the loop tells a build beyond the cycle. */
export interface BuildRunOptions {
  /** Builds retention must keep however old: those the history records as serving (see buildsToKeep). */
  keep?: BuildKeep;
}

export type BuildOutcome =
  | { ok: true; image: BuiltImage }
  | { ok: false; message: string; durationMs: number; outputTail: string[]; exitCode: number | null };

/** A build's clock and the failed outcome every builder returns: one shape, timed from `start`. */
export function buildClock(): { elapsed(): number; fail(message: string, outputTail?: string[], exitCode?: number | null): BuildOutcome } {
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  return { elapsed, fail: (message, outputTail = [], exitCode = null) => ({ ok: false, message, durationMs: elapsed(), outputTail, exitCode }) };
}

export interface Builder {
  readonly kind: string;
  build(ctx: StageContext, opts?: BuildRunOptions): Promise<BuildOutcome>;
}
