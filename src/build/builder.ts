import type { StageContext } from '../context.js';

/** What a build produced: an image reference, or (command builder) a snapshot folder. */
export interface BuiltImage {
  /** Image reference (`REGISTRY/IMAGE@sha256:…`) or `dir:/abs/path` for a snapshot folder. */
  ref: string;
  /** Absolute folder holding the built revision, for builders that produce one. */
  dir?: string;
  digest?: string;
  durationMs: number;
  outputTail: string[];
}

export type BuildOutcome =
  | { ok: true; image: BuiltImage }
  | { ok: false; message: string; durationMs: number; outputTail: string[]; exitCode: number | null };

export interface Builder {
  readonly kind: string;
  build(ctx: StageContext): Promise<BuildOutcome>;
}
