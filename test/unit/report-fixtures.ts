/**
 * Realistic cycle records of the bundled chat service for the report tests: a first cycle failing
 * a P0 WebSocket check with 1011, the fix, a passing second cycle, a deploy failure, a build
 * failure and an interrupted cycle. Builders return fresh objects so tests may mutate them.
 */
import { gateSchema, type GateConfig } from '../../src/config/schema.js';
import { assessGate } from '../../src/loop/gate.js';
import { evaluateThreshold, stoppedEarlyText } from '../../src/model/thresholds.js';
import type { CycleRecord, GateVerdict, PriorityTally } from '../../src/model/record.js';
import { PRIORITIES, type CheckResult, type Priority } from '../../src/model/check-result.js';

export const SERVICE = 'chat-service';
export const RUN_ID = 'run-20250603-0914-7f3a';
const GATE: GateConfig = { P0: 100, P1: 100 };

export const LOCATIONS: Record<string, string> = {
  health: 'loop.config.yaml:27',
  info: 'loop.config.yaml:36',
  'echo-websocket': 'loop.config.yaml:43',
  'agent-pipeline': 'loop.config.yaml:52',
  'agent-pipeline-concurrent': 'loop.config.yaml:62',
  'admin-requires-token': 'loop.config.yaml:71',
};

type ResultInput = Partial<CheckResult> & Pick<CheckResult, 'name' | 'priority'>;

export function result(input: ResultInput): CheckResult {
  return { kind: 'http', status: 'pass', durationMs: 12, attempts: 1, figures: {}, ...input };
}

/** The gate as the loop computes it (kept local so these fixtures do not lean on loop code). */
export function gateOf(results: readonly CheckResult[], gate: GateConfig = GATE): GateVerdict {
  const reasons: string[] = [];
  const tallies: PriorityTally[] = PRIORITIES.map((priority: Priority) => {
    const mine = results.filter((r) => r.priority === priority);
    const passed = mine.filter((r) => r.status === 'pass').length;
    const threshold = gate[priority] ?? null;
    const passRate = mine.length === 0 ? null : Math.round((passed / mine.length) * 1000) / 10;
    const ok = threshold === null || passRate === null || passRate >= threshold;
    if (!ok) reasons.push(`${priority} passed ${passed} of ${mine.length} (${passRate}%), needs ${threshold}%`);
    return { priority, total: mine.length, passed, failed: mine.length - passed, passRate, threshold, ok };
  });
  return { passed: reasons.length === 0, tallies, reasons };
}

export function record(overrides: Partial<CycleRecord> & Pick<CycleRecord, 'cycle' | 'startedAt'>): CycleRecord {
  const results = overrides.smoke?.results ?? [];
  const rev = `${SERVICE}-${String(overrides.cycle).padStart(5, '0')}`;
  const base: CycleRecord = {
    schemaVersion: 1,
    service: SERVICE,
    runId: RUN_ID,
    cycle: overrides.cycle,
    startedAt: overrides.startedAt,
    finishedAt: overrides.startedAt.replace(/:\d\d\.\d+Z$/, ':41.904Z'),
    target: 'local',
    serviceUrl: 'http://127.0.0.1:41123',
    build: {
      status: 'ok',
      kind: 'command',
      durationMs: 842,
      image: `dir:/work/main/.deploy-loop/revisions/${rev}`,
      outputTail: ['checked 7 modules'],
    },
    deploy: {
      status: 'ok',
      revision: rev,
      image: `dir:/work/main/.deploy-loop/revisions/${rev}`,
      tagUrl: 'http://127.0.0.1:41123/@candidate',
      durationMs: 1312,
      startMs: 618,
    },
    traffic: { before: [], after: [], action: 'none' },
    smoke: { durationMs: 2410, results },
    gate: gateOf(results),
    verdict: 'gate-failed',
    checkLocations: { ...LOCATIONS },
    durations: { buildMs: 842, deployMs: 1312, smokeMs: 2410, totalMs: 4820 },
  };
  return { ...base, ...overrides };
}

const AGENT_LOG_TAIL = [
  '[agent] session 7 started',
  '[agent] calling tool "weather" {"city":"Zurich"}',
  'TypeError: Cannot read properties of undefined (reading \'run\')',
  '    at runTool (file:///work/main/.deploy-loop/revisions/chat-service-00001/agent.mjs:48:22)',
  '[ws] closing 1011: internal error',
];

/** The P0 agent check, closing with 1011 after the ack (attempt 2 of 2). */
export function agentFailing(): CheckResult {
  return result({
    name: 'agent-pipeline',
    priority: 'P0',
    kind: 'websocket',
    status: 'fail',
    durationMs: 131,
    attempts: 2,
    figures: { connectMs: 4.2, latencyMs: 118, messages: 1, connections: 1, closeCodes: { '1011': 1 } },
    failure: {
      class: 'ws-1011-internal-error',
      message: 'the server closed the connection with 1011 (internal error) while step 2 was waiting for a message',
      evidence: {
        closeCode: 1011,
        closeReason: 'internal error',
        step: 2,
        connection: 0,
        expected: '{"type":"tool_call","tool":"weather"}',
        actual: 'close 1011 before any further message',
        excerpt: '{"type":"ack","id":"m-1"}',
        logTail: AGENT_LOG_TAIL,
      },
    },
  });
}

function smokeResults(cycle: 1 | 2): CheckResult[] {
  const fixed = cycle === 2;
  return [
    result({ name: 'health', priority: 'P0', durationMs: 9, figures: { latencyMs: fixed ? 3.1 : 3.4 } }),
    result({
      name: 'echo-websocket',
      priority: 'P0',
      kind: 'websocket',
      durationMs: 14,
      figures: { connectMs: fixed ? 2.6 : 2.9, latencyMs: 5, messages: 1, connections: 1, closeCodes: { '1000': 1 } },
    }),
    fixed
      ? result({
          name: 'agent-pipeline',
          priority: 'P0',
          kind: 'websocket',
          durationMs: 402,
          figures: { connectMs: 3.8, latencyMs: 391, messages: 3, connections: 1, closeCodes: { '1000': 1 } },
        })
      : agentFailing(),
    result({ name: 'info', priority: 'P1', durationMs: 7, figures: { latencyMs: 2.2 } }),
    fixed
      ? result({
          name: 'agent-pipeline-concurrent',
          priority: 'P1',
          kind: 'websocket',
          durationMs: 655,
          figures: { connectP50Ms: 6, connectP95Ms: 14, connectMaxMs: 19, messages: 20, connections: 20, closeCodes: { '1000': 20 } },
        })
      : result({
          name: 'agent-pipeline-concurrent',
          priority: 'P1',
          kind: 'websocket',
          status: 'fail',
          durationMs: 212,
          figures: { connectP50Ms: 7, connectP95Ms: 16, connectMaxMs: 21, messages: 0, connections: 20, closeCodes: { '1011': 20 } },
          failure: {
            class: 'ws-1011-internal-error',
            message: '20 of 20 connections closed with 1011 (internal error) before the final message',
            // As the loop attaches it: the revision's log tail goes to every failing check of the cycle.
            evidence: { closeCode: 1011, closeReason: 'internal error', step: 1, connection: 0, expected: '{"type":"final"}', logTail: AGENT_LOG_TAIL },
          },
        }),
    result({
      name: 'admin-requires-token',
      priority: 'P2',
      kind: 'websocket',
      durationMs: 6,
      figures: { connectMs: 2.1, connections: 1, closeCodes: { '1008': 1 } },
    }),
  ];
}

/** Cycle 1, first of the run: P0 agent-pipeline closes with 1011, nothing served before, nothing promoted. */
export function firstCycleGateFailed(): CycleRecord {
  return record({
    cycle: 1,
    startedAt: '2025-06-03T09:14:02.118Z',
    smoke: { durationMs: 2410, results: smokeResults(1) },
    traffic: { before: [], after: [{ revision: 'chat-service-00001', percent: 0, tag: 'candidate' }], action: 'none' },
    verdict: 'gate-failed',
  });
}

export const FIX_AFTER_CYCLE_1 = {
  command: ['node', 'examples/chat-service/fix.mjs'],
  exitCode: 0,
  durationMs: 1380,
  timedOut: false,
  outputTail: ['fixed: registered tool "weather" in agent.mjs'],
  afterCycle: 1,
};

/** Cycle 2 after the fix ran: every check passes and the candidate takes all traffic. */
export function secondCyclePassed(): CycleRecord {
  return record({
    cycle: 2,
    startedAt: '2025-06-03T09:14:48.530Z',
    fix: { ...FIX_AFTER_CYCLE_1, command: [...FIX_AFTER_CYCLE_1.command], outputTail: [...FIX_AFTER_CYCLE_1.outputTail] },
    smoke: { durationMs: 1902, results: smokeResults(2) },
    traffic: {
      before: [{ revision: 'chat-service-00001', percent: 0, tag: 'candidate' }],
      after: [{ revision: 'chat-service-00002', percent: 100, tag: 'candidate' }],
      action: 'promoted',
      lastGoodRevision: 'chat-service-00002',
    },
    verdict: 'passed',
    durations: { buildMs: 842, deployMs: 1290, smokeMs: 1902, totalMs: 5514 },
  });
}

/** A build or deploy failure as the loop records it: a failing P0 result the gate counts. */
export function stageFailure(stage: 'build' | 'deploy', message: string, logTail: string[], exitCode: number): CheckResult {
  return result({
    name: stage,
    kind: stage,
    priority: 'P0',
    status: 'fail',
    durationMs: 0,
    failure: { class: `${stage}-failure`, message, evidence: { logTail, actual: `exit code ${exitCode}` } },
  });
}

/** The same record without the stage results, as a loop that does not record them would leave it. */
export function withoutStageResults(rec: CycleRecord): CycleRecord {
  const results = rec.smoke.results.filter((r) => r.kind !== 'build' && r.kind !== 'deploy');
  return { ...rec, smoke: { ...rec.smoke, results }, gate: { ...gateOf(results), passed: false } };
}

const DEPLOY_LOG_TAIL = [
  'file:///work/main/.deploy-loop/revisions/chat-service-00002/server.mjs:12',
  "import { startAgent } from './agent.js';",
  "Error [ERR_MODULE_NOT_FOUND]: Cannot find module './agent.js'",
];

/** Cycle 2 whose revision exits before listening; no smoke check runs. */
export function secondCycleDeployFailed(): CycleRecord {
  const results = [
    stageFailure('deploy', 'ContainerExited: revision chat-service-00002 exited with code 1 before listening', DEPLOY_LOG_TAIL, 1),
  ];
  return record({
    cycle: 2,
    startedAt: '2025-06-03T09:14:48.530Z',
    fix: { ...FIX_AFTER_CYCLE_1, outputTail: ['patched server.mjs'] },
    deploy: {
      status: 'failed',
      revision: 'chat-service-00002',
      image: 'dir:/work/main/.deploy-loop/revisions/chat-service-00002',
      durationMs: 10_012,
      message: 'revision chat-service-00002 exited with code 1 before listening',
      reason: 'ContainerExited',
      exitCode: 1,
      logTail: DEPLOY_LOG_TAIL,
    },
    smoke: { durationMs: 0, results },
    traffic: {
      before: [{ revision: 'chat-service-00001', percent: 0, tag: 'candidate' }],
      after: [{ revision: 'chat-service-00001', percent: 0, tag: 'candidate' }],
      action: 'none',
      note: 'Traffic untouched: the candidate revision did not become ready.',
    },
    verdict: 'deploy-failed',
    durations: { buildMs: 842, deployMs: 10_012, smokeMs: 0, totalMs: 10_911 },
  });
}

/** Cycle 3 passing after the deploy failure of cycle 2. */
export function thirdCyclePassedAfterDeployFailure(): CycleRecord {
  const image = 'dir:/work/main/.deploy-loop/revisions/chat-service-00003';
  const passed = secondCyclePassed();
  return {
    ...passed,
    cycle: 3,
    startedAt: '2025-06-03T09:15:30.004Z',
    build: { ...passed.build, image },
    deploy: { ...passed.deploy, revision: 'chat-service-00003', image },
    fix: { ...FIX_AFTER_CYCLE_1, afterCycle: 2, outputTail: ['fixed: import path of agent.mjs in server.mjs'] },
    traffic: { before: [], after: [{ revision: 'chat-service-00003', percent: 100, tag: 'candidate' }], action: 'promoted' },
  };
}

/** A first cycle whose build command fails: nothing is deployed. */
export function firstCycleBuildFailed(): CycleRecord {
  const tail = ['checking server.mjs', 'server.mjs:40', '  ws.on("message", (m) => {', "SyntaxError: Unexpected token '}'"];
  const results = [stageFailure('build', 'build command exited with code 1', tail, 1)];
  return record({
    cycle: 1,
    startedAt: '2025-06-03T08:02:10.000Z',
    build: {
      status: 'failed',
      kind: 'command',
      durationMs: 311,
      message: 'build command exited with code 1',
      exitCode: 1,
      outputTail: tail,
    },
    deploy: { status: 'skipped', durationMs: 0 },
    smoke: { durationMs: 0, results },
    traffic: { before: [], after: [], action: 'none', note: 'Traffic untouched: the build failed.' },
    verdict: 'build-failed',
    durations: { buildMs: 311, deployMs: 0, smokeMs: 0, totalMs: 355 },
  });
}

/** Cycle 3 stopped (Ctrl-C) while smoking: traffic stays on the last good revision. */
export function interruptedCycle(): CycleRecord {
  const results = [
    result({ name: 'health', priority: 'P0', durationMs: 8, figures: { latencyMs: 3 } }),
    result({ name: 'agent-pipeline', priority: 'P0', kind: 'websocket', status: 'skipped', durationMs: 0, attempts: 0 }),
  ];
  const serving = [{ revision: 'chat-service-00002', percent: 100 }];
  return record({
    cycle: 3,
    startedAt: '2025-06-03T09:16:01.250Z',
    smoke: { durationMs: 140, results },
    gate: gateOf(results),
    traffic: { before: serving, after: serving.map((e) => ({ ...e })), action: 'kept', lastGoodRevision: 'chat-service-00002' },
    verdict: 'interrupted',
    durations: { buildMs: 842, deployMs: 1312, smokeMs: 140, totalMs: 2338 },
  });
}

/** Cycle 2 stopped while its candidate was starting: no result, no gate tallies (as the loop leaves it). */
export function interruptedBeforeSmoke(): CycleRecord {
  return record({
    cycle: 2,
    startedAt: '2025-06-03T09:14:48.530Z',
    deploy: { status: 'skipped', durationMs: 0 },
    smoke: { durationMs: 0, results: [] },
    gate: { passed: false, tallies: [], reasons: [] },
    traffic: { before: [], after: [], action: 'none' },
    verdict: 'interrupted',
    durations: { buildMs: 842, deployMs: 0, smokeMs: 0, totalMs: 1204 },
  });
}

/** Cycle 1 with figure thresholds, one of which stopped the smoke run (as cycle.ts records it). */
export function stoppedByThreshold(): CycleRecord {
  const rec = firstCycleGateFailed();
  const thresholds = [{ expr: 'rate(fail) == 0', priority: 'P0' as const, abortOnFail: true }, { expr: 'p95(latency) < 500ms' }];
  rec.smoke.results[rec.smoke.results.length - 1]!.status = 'skipped';
  const first = evaluateThreshold(rec.smoke.results, thresholds[0]!);
  rec.smoke.stoppedEarly = { expr: first.expr, scope: first.scope, value: first.value, samples: first.samples, afterResults: 3, skipped: 1 };
  rec.gate = assessGate(rec.smoke.results, gateSchema.parse({ thresholds }), { blockers: [stoppedEarlyText(rec.smoke.stoppedEarly)] });
  return rec;
}

/**
 * Evidence scoped per check (issue 14): the agent check's own lines, two checks whose lines are the
 * revision's shared tail, a latency failure, and a 7-connection check with all its samples.
 */
export function evidenceScoped(): CycleRecord {
  const rec = firstCycleGateFailed();
  const [agent, ...rest] = rec.smoke.results.filter((r) => r.failure);
  agent!.failure!.evidence = { ...agent!.failure!.evidence, logScope: 'check' };
  for (const r of rest) r.failure!.evidence = { ...r.failure!.evidence, logTail: ['[http] GET /admin 401', 'Error: token missing'], logScope: 'revision' };
  rec.smoke.results.push(
    result({
      name: 'info-latency',
      priority: 'P1',
      status: 'fail',
      figures: { latencyMs: 1537, samples: { latencyMs: [1537, 1490] } },
      attempts: 2,
      failure: {
        class: 'latency',
        message: 'GET http://127.0.0.1:41123/@candidate/info: latency 1537 ms over 1000 ms (maxLatencyMs)',
        evidence: { status: 200, excerpt: '{"version":"1.4.2"}', expected: '<= 1000 ms', actual: '1537 ms', logTail: ['[info] upstream slow'], logScope: 'concurrent', logSharedWith: ['health'] },
      },
    }),
    result({
      name: 'chat-fanout',
      kind: 'websocket',
      priority: 'P2',
      figures: { connectMs: 57, connectP50Ms: 59, connectP95Ms: 94, connectMaxMs: 94, connections: 7, messages: 7, samples: { connectMs: [57, 55, 94, 61, 58, 60, 59], latencyMs: [3, 4, 3, 5, 4, 3, 4] } },
    }),
  );
  rec.gate = gateOf(rec.smoke.results);
  return rec;
}

/** Each report scenario: the cycle and the history before it. */
export const REPORT_SCENARIOS: [string, () => [CycleRecord, CycleRecord[]]][] = [
  ['first cycle, gate failed', () => [firstCycleGateFailed(), []]],
  ['passed after the fix', () => [secondCyclePassed(), [firstCycleGateFailed()]]],
  ['deploy failed', () => [secondCycleDeployFailed(), [firstCycleGateFailed()]]],
  ['build failed', () => [firstCycleBuildFailed(), []]],
  ['interrupted', () => [interruptedCycle(), [firstCycleGateFailed(), secondCyclePassed()]]],
  ['interrupted before smoke', () => [interruptedBeforeSmoke(), [firstCycleGateFailed()]]],
  ['passed after a deploy failure', () => [thirdCyclePassedAfterDeployFailure(), [firstCycleGateFailed(), secondCycleDeployFailed()]]],
  ['stopped early by an abortOnFail threshold', () => [stoppedByThreshold(), []]],
  ['evidence scoped per check, with samples', () => [evidenceScoped(), []]],
];
