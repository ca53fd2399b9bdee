/**
 * What a cycle leaves behind. Reports are a pure function of these records, so every report can be
 * re-rendered from history at any time. The zod schemas are the source of the record's types, of the
 * check that a history file is a record (history.ts), and of the published report schema.
 */
import { z } from 'zod';
import { trafficEntrySchema } from './traffic.js';
import { checkResultSchema, prioritySchema } from './check-result.js';
import { cycleChangesSchema, revertRecordSchema } from './changes.js';

export const RECORD_SCHEMA_VERSION = 1;

/** How a `run` ended (recorded on its last cycle); `cycle-finished`: a one-shot `cycle` that did not pass. */
export const RUN_STATUSES = ['passed', 'max-cycles', 'max-minutes', 'stalled', 'fix-failed', 'regression', 'interrupted', 'cycle-finished'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const CYCLE_VERDICTS = ['passed', 'gate-failed', 'build-failed', 'deploy-failed', 'interrupted', 'error'] as const;
export type CycleVerdict = (typeof CYCLE_VERDICTS)[number];

export const priorityTallySchema = z.object({
  priority: prioritySchema,
  total: z.number().int(),
  passed: z.number().int(),
  failed: z.number().int(),
  passRate: z.number().nullable().describe('Pass rate in percent (0-100); null when there were no checks of this priority.'),
  threshold: z.number().nullable().describe('Required minimum in percent, when gated; null when not gated.'),
  ok: z.boolean(),
  flaky: z.number().int().optional().describe('Checks that passed only on retry; counted as not passed unless the gate allows flaky.'),
}).meta({ id: 'PriorityTally' });
export type PriorityTally = z.infer<typeof priorityTallySchema>;

export const thresholdResultSchema = z.object({
  expr: z.string(),
  scope: z.string().describe('Which results it looked at: "all checks", "P0 checks", "checks a, b".'),
  value: z.number().nullable().describe('The measured value (ms, fraction or count); null with zero samples.'),
  passed: z.boolean(),
  samples: z.number().int(),
}).meta({ id: 'ThresholdResult' });
export type ThresholdResult = z.infer<typeof thresholdResultSchema>;

export const gateVerdictSchema = z.object({
  passed: z.boolean(),
  tallies: z.array(priorityTallySchema),
  reasons: z.array(z.string()).describe('One sentence per reason the gate failed: "P0 passed 3 of 4 (75%), needs 100%".'),
  thresholds: z.array(thresholdResultSchema).optional().describe('gate.thresholds with their measured values (absent when none are configured).'),
}).meta({ id: 'GateVerdict' });
export type GateVerdict = z.infer<typeof gateVerdictSchema>;

export const stoppedEarlySchema = thresholdResultSchema.omit({ passed: true }).extend({
  afterResults: z.number().int().describe('Results finished when the threshold failed.'),
  skipped: z.number().int().describe("Checks that were cut short or never started (status 'skipped')."),
}).meta({ id: 'StoppedEarly' });
/** A smoke run stopped by a failing `abortOnFail` threshold: the threshold as measured when it failed. */
export type StoppedEarly = z.infer<typeof stoppedEarlySchema>;

const exitCode = z.number().int().nullable().optional().describe('Exit code; null when the process ended by a signal.');

export const snapshotRecordSchema = z.object({
  digest: z.string().describe('sha256 over the path, type, mode and content of every file the build context included.'),
  reused: z.boolean().describe('true: a build of the same context and build settings already existed and was used as it is (nothing copied, build command not run).'),
  builtInCycle: z.number().int().optional().describe('With reused: the cycle (of this reports folder) that made the reused build.'),
  unchangedSinceCycle: z.number().int().optional().describe('The context has had this digest in every cycle since this one (absent when it changed in the previous cycle).'),
  files: z.number().int().optional().describe('Files included.'),
  bytes: z.number().int().optional().describe('Their total size.'),
}).meta({ id: 'SnapshotRecord' });
export type SnapshotRecord = z.infer<typeof snapshotRecordSchema>;

export const buildRecordSchema = z.object({
  status: z.enum(['ok', 'failed']),
  kind: z.string(),
  durationMs: z.number(),
  image: z.string().optional(),
  digest: z.string().optional(),
  message: z.string().optional(),
  exitCode,
  outputTail: z.array(z.string()),
  snapshot: snapshotRecordSchema.optional().describe('build.kind: command: the content-addressed snapshot of the build context.'),
}).meta({ id: 'BuildRecord' });
export type BuildRecord = z.infer<typeof buildRecordSchema>;

export const deployInputsSchema = z.object({
  sha256: z.string().describe('HMAC of every field below: equal means the same deploy inputs.'),
  fields: z.record(z.string(), z.string()).describe('Per target setting (`target.command`, `target.env.NAME`, …), an HMAC of its value under a key kept in the reports folder; values are never stored.'),
}).meta({ id: 'DeployInputs' });
export type DeployInputs = z.infer<typeof deployInputsSchema>;

export const deployRecordSchema = z.object({
  status: z.enum(['ok', 'failed', 'skipped']),
  revision: z.string().optional(),
  image: z.string().optional(),
  tagUrl: z.string().optional(),
  durationMs: z.number(),
  startMs: z.number().optional().describe('From asking for the revision to it answering its readiness probe.'),
  message: z.string().optional(),
  reason: z.string().optional(),
  exitCode,
  logTail: z.array(z.string()).optional(),
  env: z
    .record(z.string(), z.enum(['config', 'secret', 'service']))
    .optional()
    .describe('Cloud Run: where each container variable of the candidate came from: target.env (config), target.secrets (secret), or the service as it was (service, kept by envStrategy: merge). Names only, never values.'),
  adopted: z.boolean().optional().describe('Cloud Run: an existing revision of the same name (same run, image and config) was reused instead of created.'),
  logUri: z.string().optional().describe("Cloud Run: the revision's Logs URL in the Cloud console (Revision.log_uri)."),
  inputs: deployInputsSchema.optional().describe('The deploy inputs besides the code; "the same revision" means the same build digest and the same inputs.'),
}).meta({ id: 'DeployRecord' });
export type DeployRecord = z.infer<typeof deployRecordSchema>;

export const canaryStepRecordSchema = z.object({
  percent: z.number().describe("The candidate's share during this step."),
  passed: z.boolean(),
  results: z
    .object({
      total: z.number().int(),
      passed: z.number().int(),
      failed: z.number().int(),
      failedChecks: z.array(z.string()),
      skipped: z.number().int().optional().describe('Checks cut short by an abort (not passed, not failed).'),
    })
    .describe("The step's smoke run against the service URL."),
  stoppedEarly: stoppedEarlySchema.optional().describe("An abortOnFail threshold stopped the step's smoke run."),
});
export type CanaryStepRecord = z.infer<typeof canaryStepRecordSchema>;

export const canaryRecordSchema = z.object({
  steps: z.array(canaryStepRecordSchema),
  failedAtStep: z.number().int().optional().describe('The step whose gate failed (0-based).'),
}).meta({ id: 'CanaryRecord' });
export type CanaryRecord = z.infer<typeof canaryRecordSchema>;

export const trafficRecordSchema = z.object({
  before: z.array(trafficEntrySchema),
  after: z.array(trafficEntrySchema),
  action: z
    .enum(['promoted', 'kept', 'none'])
    .describe('promoted: the candidate took 100%; kept: traffic stayed where it was; none: nothing served before and nothing was promoted.'),
  lastGoodRevision: z.string().optional(),
  note: z.string().optional(),
  canary: canaryRecordSchema.optional().describe('With traffic.strategy: canary: each step reached, and the one whose gate failed.'),
}).meta({ id: 'TrafficRecord' });
export type TrafficRecord = z.infer<typeof trafficRecordSchema>;

export const fixRecordSchema = z.object({
  command: z.array(z.string()),
  exitCode: z.number().int().nullable(),
  durationMs: z.number(),
  timedOut: z.boolean(),
  outputTail: z.array(z.string()),
  afterCycle: z.number().int().describe('The cycle whose report the fix command was given.'),
  notes: z.string().optional().describe("What the fix command wrote to DEPLOY_LOOP_FIX_NOTES (its own claims, redacted, cut to a budget); shown apart from what was measured."),
}).meta({ id: 'FixRecord' });
export type FixRecord = z.infer<typeof fixRecordSchema>;

export const suiteFingerprintSchema = z.object({
  sha256: z.string().describe('sha256 of the canonical JSON of every check and the gate.'),
  checks: z
    .record(z.string(), z.object({ priority: prioritySchema, sha256: z.string() }))
    .describe('Per check, by name: its priority and the sha256 of its canonical JSON. Config values themselves are not stored.'),
  gate: z.object({
    thresholds: z.object({ P0: z.number().optional(), P1: z.number().optional(), P2: z.number().optional(), P3: z.number().optional() }),
    allowFlaky: z.boolean(),
  }),
});
export type SuiteFingerprint = z.infer<typeof suiteFingerprintSchema>;

export const SUITE_CHANGE_KINDS = [
  'check-removed',
  'check-changed',
  'priority-lowered',
  'threshold-loosened',
  'flaky-allowed',
  'check-added',
  'priority-raised',
  'threshold-tightened',
  'flaky-disallowed',
] as const;
export type SuiteChangeKind = (typeof SUITE_CHANGE_KINDS)[number];

export const suiteChangeSchema = z.object({
  kind: z.enum(SUITE_CHANGE_KINDS),
  subject: z.string().describe('The check or priority the change is about.'),
  text: z.string().describe('One sentence naming the change.'),
  weakening: z.boolean().describe('Could make the suite easier to pass; blocks the gate until accepted.'),
});
export type SuiteChange = z.infer<typeof suiteChangeSchema>;

export const suiteIntegritySchema = z.object({
  fingerprint: suiteFingerprintSchema,
  comparedWithCycle: z.number().int().optional().describe('The cycle compared with, if any.'),
  changes: z.array(suiteChangeSchema),
  accepted: z.boolean().describe('The current fingerprint is the one recorded by `accept-suite`.'),
  blocked: z.boolean().describe('Weakening changes not accepted: the cycle cannot pass the gate.'),
}).meta({ id: 'SuiteIntegrity' });
export type SuiteIntegrity = z.infer<typeof suiteIntegritySchema>;

export const STEP_STATUSES = ['done', 'failed', 'error', 'interrupted'] as const;

export const stepRecordSchema = z.object({
  name: z.string().describe('read-traffic, build, deploy, smoke or promote.'),
  status: z
    .enum(STEP_STATUSES)
    .describe("done; failed: it ended the cycle with its own verdict (build or deploy failed); error: it threw, and the cycle's verdict is error; interrupted: a signal stopped it."),
  durationMs: z.number(),
  message: z.string().optional().describe('For an error: what the step was doing and what went wrong.'),
}).meta({ id: 'StepRecord' });
export type StepRecord = z.infer<typeof stepRecordSchema>;

export const cycleRecordSchema = z.object({
  schemaVersion: z.literal(RECORD_SCHEMA_VERSION),
  service: z.string(),
  cycle: z.number().int().min(1),
  runId: z.string().describe('Id of the `run` this cycle belongs to.'),
  startedAt: z.string(),
  finishedAt: z.string(),
  target: z.string(),
  serviceUrl: z.string().optional(),
  build: buildRecordSchema,
  deploy: deployRecordSchema,
  traffic: trafficRecordSchema,
  fix: fixRecordSchema.optional().describe('The fix command that ran before this cycle, if any.'),
  smoke: z.object({
    durationMs: z.number(),
    results: z.array(checkResultSchema),
    coldStartMs: z.number().optional().describe('The first request to the candidate after the deploy, timed before the suite.'),
    stoppedEarly: stoppedEarlySchema.optional().describe('An abortOnFail threshold failed mid-run and stopped it.'),
  }),
  gate: gateVerdictSchema,
  verdict: z.enum(CYCLE_VERDICTS),
  checkLocations: z.record(z.string(), z.string()).describe('Config file location of each check by name (`file:line`), for people and agents acting on a failure.'),
  durations: z.object({ buildMs: z.number(), deployMs: z.number(), smokeMs: z.number(), totalMs: z.number() }),
  steps: z.array(stepRecordSchema).optional().describe('Each step the cycle ran, in order, with how it ended; a recovered record lists the steps that finished before the run was killed.'),
  suite: suiteIntegritySchema.optional().describe('Fingerprint of the smoke suite and gate, and how they changed since the previous cycle.'),
  changes: cycleChangesSchema.optional().describe("What differs from the previous deployed cycle: build context files, deploy inputs, suite."),
  revert: revertRecordSchema.optional().describe('loop.onRegression: revert: what was written back after this cycle regressed.'),
  runStatus: z.enum(RUN_STATUSES).optional().describe('On the last cycle of a `run`: how the run ended.'),
  runStatusDetail: z.string().optional().describe('Why the run ended, in one sentence.'),
}).meta({ id: 'CycleRecord' });
export type CycleRecord = z.infer<typeof cycleRecordSchema>;
