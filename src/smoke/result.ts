/** What a check produces. Checks return results; they do not throw. */

export const PRIORITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** 'degraded': passed, but slower than the check's `degradedMs`. It counts as passing everywhere (gate, JUnit). */
export type CheckStatus = 'pass' | 'degraded' | 'fail' | 'error' | 'skipped';

/** A pass, slow or not: what the gate, JUnit and comparisons count as passed. */
export function isPassing(status: CheckStatus): boolean {
  return status === 'pass' || status === 'degraded';
}

/** Why a check failed, in words a person triages by. */
export const FAILURE_CLASSES = [
  'build-failure',
  'deploy-failure',
  'connection-refused',
  'timeout',
  'network',
  'http-5xx',
  'http-4xx',
  'ws-handshake-rejected',
  'ws-1011-internal-error',
  'ws-1008-policy-violation',
  'ws-unexpected-close',
  'assertion',
  'check-error',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

export interface Evidence {
  /** HTTP status of the response (or of a refused WebSocket handshake). */
  status?: number;
  closeCode?: number;
  closeReason?: string;
  /** A short excerpt of what came back (body, last frame). Secrets redacted. */
  excerpt?: string;
  expected?: string;
  actual?: string;
  /** Tail of the revision's or build's output. */
  logTail?: string[];
  /** Which step of a WebSocket script failed (0-based), and which connection. */
  step?: number;
  connection?: number;
  /** WebSocket: the first frames received (up to 3, each cut to 200 chars, secrets redacted). */
  firstFrames?: string[];
}

export interface Failure {
  class: FailureClass;
  message: string;
  evidence: Evidence;
}

export interface CheckFigures {
  latencyMs?: number;
  connectMs?: number;
  connectP50Ms?: number;
  connectP95Ms?: number;
  connectMaxMs?: number;
  messages?: number;
  connections?: number;
  /** Histogram of close codes across connections, code → count. */
  closeCodes?: Record<string, number>;
}

export interface AttemptRecord {
  attempt: number;
  status: CheckStatus;
  durationMs: number;
  failure?: Failure;
}

export interface CheckResult {
  name: string;
  /** 'command': one test case of a user's test command (see smoke/command.ts). */
  kind: 'http' | 'websocket' | 'deploy' | 'build' | 'command';
  priority: Priority;
  status: CheckStatus;
  durationMs: number;
  /** Attempts made (1 when it passed or failed first time without retries). */
  attempts: number;
  attemptLog?: AttemptRecord[];
  figures: CheckFigures;
  failure?: Failure;
}
