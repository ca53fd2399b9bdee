/**
 * What a cycle leaves behind. Reports are a pure function of these records, so every report can be
 * re-rendered from history at any time.
 */
import type { TrafficEntry } from '../deploy/target.js';
import type { CheckResult, Priority } from '../smoke/result.js';
import type { SuiteIntegrity } from './integrity.js';

export const RECORD_SCHEMA_VERSION = 1;

/** How a `run` ended; recorded on its last cycle. */
export type RunStatus = 'passed' | 'max-cycles' | 'max-minutes' | 'stalled' | 'fix-failed' | 'interrupted';

export type CycleVerdict = 'passed' | 'gate-failed' | 'build-failed' | 'deploy-failed' | 'interrupted' | 'error';

export interface PriorityTally {
  priority: Priority;
  total: number;
  passed: number;
  failed: number;
  /** Pass rate in percent (0-100); null when there were no checks of this priority. */
  passRate: number | null;
  /** Required minimum in percent, when gated. */
  threshold: number | null;
  ok: boolean;
  /** Checks that passed only on retry; counted as not passed unless the gate allows flaky. Additive. */
  flaky?: number;
}

export interface GateVerdict {
  passed: boolean;
  tallies: PriorityTally[];
  /** One sentence per failed priority: "P0 passed 3 of 4 (75%), needs 100%". */
  reasons: string[];
  /** gate.thresholds with their measured values (absent when none are configured). */
  thresholds?: Array<{ expr: string; scope: string; value: number | null; passed: boolean; samples: number }>;
}

/** A smoke run stopped by a failing `abortOnFail` threshold: the threshold as measured when it failed. */
export interface StoppedEarly {
  expr: string;
  scope: string;
  value: number | null;
  samples: number;
  /** Results finished when the threshold failed. */
  afterResults: number;
  /** Checks that were cut short or never started (status 'skipped'). */
  skipped: number;
}

export interface BuildRecord {
  status: 'ok' | 'failed';
  kind: string;
  durationMs: number;
  image?: string;
  digest?: string;
  message?: string;
  exitCode?: number | null;
  outputTail: string[];
}

export interface DeployRecord {
  status: 'ok' | 'failed' | 'skipped';
  revision?: string;
  image?: string;
  tagUrl?: string;
  durationMs: number;
  /** From asking for the revision to it answering its readiness probe. */
  startMs?: number;
  message?: string;
  reason?: string;
  exitCode?: number | null;
  logTail?: string[];
}

export interface TrafficRecord {
  before: TrafficEntry[];
  after: TrafficEntry[];
  /** promoted: the candidate took 100%; kept: traffic stayed where it was; none: nothing served before and nothing was promoted. */
  action: 'promoted' | 'kept' | 'none';
  lastGoodRevision?: string;
  note?: string;
  /** With `traffic.strategy: canary`: each step reached, and the one whose gate failed (0-based). */
  canary?: CanaryRecord;
}

export interface CanaryStepRecord {
  /** The candidate's share during this step. */
  percent: number;
  passed: boolean;
  /** The step's smoke run against the service URL. */
  results: { total: number; passed: number; failed: number; failedChecks: string[] };
}

export interface CanaryRecord {
  steps: CanaryStepRecord[];
  failedAtStep?: number;
}

export interface FixRecord {
  command: string[];
  exitCode: number | null;
  durationMs: number;
  timedOut: boolean;
  outputTail: string[];
  /** The cycle whose report the fix command was given. */
  afterCycle: number;
}

export interface CycleRecord {
  schemaVersion: typeof RECORD_SCHEMA_VERSION;
  service: string;
  cycle: number;
  /** Id of the `run` this cycle belongs to. */
  runId: string;
  startedAt: string;
  finishedAt: string;
  target: string;
  serviceUrl?: string;
  build: BuildRecord;
  deploy: DeployRecord;
  traffic: TrafficRecord;
  /** The fix command that ran before this cycle, if any. */
  fix?: FixRecord;
  /**
   * coldStartMs: the first request to the candidate after the deploy, timed before the suite.
   * stoppedEarly: an `abortOnFail` threshold failed mid-run and stopped it. Both additive.
   */
  smoke: { durationMs: number; results: CheckResult[]; coldStartMs?: number; stoppedEarly?: StoppedEarly };
  gate: GateVerdict;
  verdict: CycleVerdict;
  /** Config file location of each check by name (`file:line`), for people and agents acting on a failure. */
  checkLocations: Record<string, string>;
  durations: { buildMs: number; deployMs: number; smokeMs: number; totalMs: number };
  /** Fingerprint of the smoke suite and gate, and how they changed since the previous cycle. Additive. */
  suite?: SuiteIntegrity;
  /** On the last cycle of a `run`: how the run ended, and why in one sentence. Additive. */
  runStatus?: RunStatus;
  runStatusDetail?: string;
}
