/**
 * What a check produces. Checks return results; they do not throw. The zod schemas are the source of
 * these types and of the published report schema (schema/cycle-report.schema.json).
 */
import { z } from 'zod';
import { MAX_SAMPLES } from './samples.js';

export const PRIORITIES = ['P0', 'P1', 'P2', 'P3'] as const;
export type Priority = (typeof PRIORITIES)[number];

/** 'degraded': passed, but slower than the check's `degradedMs`. It counts as passing everywhere (gate, JUnit). */
export const checkStatusSchema = z.enum(['pass', 'degraded', 'fail', 'error', 'skipped']);
export type CheckStatus = z.infer<typeof checkStatusSchema>;

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
  'latency',
  'connect-time',
  'assertion',
  'check-error',
] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/** Whose log lines a failure's evidence holds; see evidenceSchema.logScope. */
export const LOG_SCOPES = ['check', 'concurrent', 'revision'] as const;
export type LogScope = (typeof LOG_SCOPES)[number];

const figure = (text: string) => z.number().optional().describe(text);

/** A stack frame in the user's own source: file:line relative to the build context, with the lines around it. */
export const sourceFrameSchema = z.object({
  file: z.string().describe('Relative to the build context, `/` separators (a build copy is mapped back to the context).'),
  line: z.number().int().min(1),
  excerpt: z.array(z.string()).describe('The line with up to two lines either side, as `NN| text`, from the build that ran; secrets redacted.'),
}).meta({ id: 'SourceFrame' });
export type SourceFrame = z.infer<typeof sourceFrameSchema>;

export const evidenceSchema = z.object({
  status: z.number().int().optional().describe('HTTP status of the response (or of a refused WebSocket handshake).'),
  closeCode: z.number().int().optional().describe('WebSocket close code.'),
  closeReason: z.string().optional().describe('WebSocket close reason.'),
  excerpt: z.string().optional().describe('A short excerpt of what came back (body, last frame). Secrets redacted.'),
  expected: z.string().optional(),
  actual: z.string().optional(),
  logTail: z.array(z.string()).optional().describe("Tail of the revision's or build's output."),
  step: z.number().int().optional().describe('Which step of a WebSocket script failed (0-based).'),
  connection: z.number().int().optional().describe('Which connection of a multi-connection check failed (0-based).'),
  firstFrames: z.array(z.string()).optional().describe('WebSocket: the first frames received (up to 3, each cut to 200 characters, secrets redacted).'),
  logScope: z
    .enum(LOG_SCOPES)
    .optional()
    .describe(
      "Whose lines logTail holds. 'check': logged during this check's own attempts (with a small margin) while no other check ran. 'concurrent': logged during its attempts while the checks in logSharedWith ran too, so a line may be theirs. 'revision': the revision's latest lines, shared by every failing check and not tied to this one.",
    ),
  logSharedWith: z.array(z.string()).optional().describe("With logScope 'concurrent': the checks that ran while these lines were logged."),
  frame: sourceFrameSchema.optional().describe("The innermost stack frame of logTail in the build context's own files, read when the cycle ran (absent: logTail names none)."),
  frameSearched: z.boolean().optional().describe('logTail was searched for a frame in the build context (so an absent frame means there was none).'),
}).meta({ id: 'Evidence' });
export type Evidence = z.infer<typeof evidenceSchema>;

export const failureSchema = z.object({
  class: z.enum(FAILURE_CLASSES),
  message: z.string(),
  evidence: evidenceSchema,
}).meta({ id: 'Failure' });
export type Failure = z.infer<typeof failureSchema>;

export const checkFiguresSchema = z.object({
  latencyMs: figure('HTTP: time to the full response of the last attempt, ms (every attempt is in samples.latencyMs).'),
  connectMs: figure("WebSocket: time to the open connection, ms; with connections: N, connection 0's (all of them are in samples.connectMs)."),
  connectP50Ms: figure('WebSocket with connections: N: median connect time, ms.'),
  connectP95Ms: figure('WebSocket with connections: N: 95th percentile connect time, ms.'),
  connectMaxMs: figure('WebSocket with connections: N: slowest connect time, ms.'),
  messages: figure('WebSocket: messages received.'),
  connections: figure('WebSocket: connections opened.'),
  closeCodes: z.record(z.string(), z.number()).optional().describe('Histogram of close codes across connections, code → count.'),
  samples: z
    .object({
      latencyMs: z
        .array(z.number())
        .optional()
        .describe("Every latency measured, ms: an http check's response time on each attempt; a websocket check's time from each send to the next message, on every connection and attempt."),
      connectMs: z.array(z.number()).optional().describe("Every connect time measured, ms: each connection of each attempt of a websocket check."),
      measured: z
        .object({ latencyMs: z.number().int().optional(), connectMs: z.number().int().optional() })
        .optional()
        .describe(`Present when more than ${MAX_SAMPLES} samples of a metric were measured: how many. The array then holds ${MAX_SAMPLES} evenly spaced ranks of the sorted samples, the smallest and largest included.`),
    })
    .optional()
    .describe('The samples thresholds are computed over (max, min, avg, p50…p99 run over all of them); the sample count is their length unless measured says otherwise.'),
}).meta({ id: 'CheckFigures' });
export type CheckFigures = z.infer<typeof checkFiguresSchema>;

export const attemptRecordSchema = z.object({
  attempt: z.number().int().min(1),
  status: checkStatusSchema,
  durationMs: z.number(),
  failure: failureSchema.optional(),
  startedAt: z.number().optional().describe('When the attempt started, epoch ms: the log lines of its window are its evidence.'),
  endedAt: z.number().optional().describe('When the attempt ended, epoch ms.'),
}).meta({ id: 'AttemptRecord' });
export type AttemptRecord = z.infer<typeof attemptRecordSchema>;

export const prioritySchema = z.enum(PRIORITIES);

export const checkResultSchema = z.object({
  name: z.string(),
  kind: z.enum(['http', 'websocket', 'deploy', 'build', 'command', 'traffic']).describe("'command': one test case of a user's test command; 'build', 'deploy', 'traffic': a stage that failed or hit an error, as a P0 result."),
  priority: prioritySchema,
  status: checkStatusSchema,
  durationMs: z.number(),
  attempts: z.number().int().min(0).describe('Attempts made (1 when it passed or failed first time without retries; 0 when it never started).'),
  attemptLog: z.array(attemptRecordSchema).optional(),
  figures: checkFiguresSchema,
  failure: failureSchema.optional(),
}).meta({ id: 'CheckResult' });
export type CheckResult = z.infer<typeof checkResultSchema>;
