import type { BuiltImage } from '../build/builder.js';
import type { TargetConfig } from '../config/schema.js';
import type { StageContext } from '../context.js';
import type { TrafficEntry } from '../model/traffic.js';
import type { TimedLine } from '../model/log-line.js';

export { trafficEntrySchema, type TrafficEntry } from '../model/traffic.js';

export interface Revision {
  name: string;
  /** URL that reaches only this revision (its tag URL). */
  url: string;
  image: string;
  /** Milliseconds from asking for the revision to it being ready. */
  startMs: number;
}

export type DeployOutcome =
  | { ok: true; revision: Revision }
  | {
      ok: false;
      revisionName?: string;
      /** e.g. `exited with code 1 before listening`, or a Cloud Run condition message. */
      message: string;
      reason?: string;
      exitCode?: number | null;
      /** Where the target's own console shows the revision's logs (Cloud Run: Revision.log_uri). */
      logUri?: string;
      logTail: string[];
      durationMs: number;
    };

/** Who holds a target-side lock, for the refusal message of a second loop. */
export interface LockHolder {
  runId: string;
  host: string;
  pid: number;
  startedAt: string;
  command: string;
}

export interface Target {
  readonly kind: string;
  /** Deploys a new revision tagged `tag` that receives no traffic. */
  deployCandidate(ctx: StageContext, image: BuiltImage, tag: string): Promise<DeployOutcome>;
  /** Sets the split exactly as given (percents sum to 100, tags unique). */
  setTraffic(ctx: StageContext, split: TrafficEntry[]): Promise<void>;
  currentTraffic(ctx: StageContext): Promise<TrafficEntry[]>;
  /** The URL that serves the split. Undefined until the service exists. */
  serviceUrl(): string | undefined;
  logs?(revision: string, lines: number): Promise<string[]>;
  /** What the target knows of a revision it deployed: where each env variable came from, adoption, its Logs URL. */
  deployInfo?(revision: string): { envSources?: Record<string, 'config' | 'secret' | 'service'>; adopted?: boolean; logUri?: string } | undefined;
  /**
   * The revision's output lines with the time each was captured, for per-check log windows. Throws
   * when they cannot be read (Cloud Logging refused or unreachable), with a message that says why
   * in one line; the loop records that message on the evidence instead of lines.
   */
  timedLogs?(revision: string): Promise<TimedLine[]>;
  /**
   * `traffic.afterPromote: latest`: after `revision` took 100%, let the split follow the latest
   * revision (Cloud Run: 100% LATEST), so deploys made by other means get traffic. Returns whether
   * it did (it does not when `revision` is no longer the latest ready one).
   */
  followLatest?(ctx: StageContext, revision: string): Promise<boolean>;
  /** Headers every smoke request to `url` needs (a Google ID token for private services). Never recorded. */
  smokeHeaders?(url: string): Promise<Record<string, string>>;
  /**
   * Records on the deployed service itself that this run holds it, until `ttlMs` from now; throws a
   * UsageError naming the holder when another run's unexpired lock is there. Nothing to lock (yet)
   * is not an error.
   */
  acquireLock?(ctx: StageContext, holder: LockHolder, ttlMs: number): Promise<{ release(): Promise<void> }>;
  /**
   * Uses these settings for the next candidate (the fix step edited the config); revisions already
   * running keep theirs. The loop refuses changes to the fields that name the service first.
   */
  reconfigure?(cfg: TargetConfig): void;
  /** Stops whatever the target started on this machine. */
  close(): Promise<void>;
}
