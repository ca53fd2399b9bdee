import { describe, expect, it } from 'vitest';
import type { CycleRecord } from '../../src/model/record.js';
import { assessGate } from '../../src/loop/gate.js';
import { compareCycles } from '../../src/report/compare.js';
import { passedOnRetry, reportedStatus, sameRevision } from '../../src/report/flaky.js';
import { renderJunit } from '../../src/report/junit.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { XMLParser } from 'fast-xml-parser';
import type { CheckResult } from '../../src/model/check-result.js';
import { firstCycleGateFailed, gateOf, result, secondCyclePassed } from './report-fixtures.js';
import { readTables, section } from './report-markdown-reader.js';

function retried(r: CheckResult): CheckResult {
  return {
    ...r,
    status: 'pass',
    attempts: 2,
    attemptLog: [
      { attempt: 1, status: 'fail', durationMs: 9, failure: { class: 'http-5xx', message: 'HTTP 503', evidence: { status: 503 } } },
      { attempt: 2, status: 'pass', durationMs: 4 },
    ],
  };
}

function withResults(rec: CycleRecord, map: (r: CheckResult) => CheckResult): CycleRecord {
  const results = rec.smoke.results.map(map);
  return { ...rec, smoke: { ...rec.smoke, results }, gate: gateOf(results) };
}

describe('flaky classification', () => {
  it('is flaky only when a failed or errored attempt preceded the final pass', () => {
    const plain = result({ name: 'a', priority: 'P0' });
    expect(reportedStatus(plain)).toBe('pass');
    expect(reportedStatus(retried(plain))).toBe('flaky');
    const failedTwice = { ...retried(plain), status: 'fail' as const };
    expect(passedOnRetry(failedTwice)).toBe(false);
    expect(reportedStatus(failedTwice)).toBe('fail');
  });

  it('sees the same code in the same revision or the same digest, not in different ones', () => {
    const a = firstCycleGateFailed();
    const b = secondCyclePassed();
    expect(sameRevision(a, b)).toBe(false);
    expect(sameRevision(a, { ...b, build: { ...b.build, digest: 'sha256:1' } })).toBe(false);
    expect(sameRevision({ ...a, build: { ...a.build, digest: 'sha256:1' } }, { ...b, build: { ...b.build, digest: 'sha256:1' } })).toBe(true);
    expect(sameRevision(a, { ...b, deploy: { ...b.deploy, revision: a.deploy.revision! } })).toBe(true);
  });
});

describe('flaky in the cycle report', () => {
  it('a check that failed before and passes now only on retry is flaky, not newly passing', () => {
    const current = withResults(secondCyclePassed(), (r) => (r.name === 'agent-pipeline' ? retried(r) : r));
    const c = compareCycles(current, firstCycleGateFailed());
    expect(c.flaky.map((x) => x.name)).toEqual(['agent-pipeline']);
    expect(c.newlyPassing.map((x) => x.name)).toEqual(['agent-pipeline-concurrent']);
  });

  it('a flip between cycles on the same code is flaky, never fixed', () => {
    const previous = firstCycleGateFailed();
    const current = secondCyclePassed();
    current.build.digest = 'sha256:same';
    previous.build.digest = 'sha256:same';
    const c = compareCycles(current, previous);
    expect(c.newlyPassing).toEqual([]);
    expect(c.flaky.map((x) => x.name).sort()).toEqual(['agent-pipeline', 'agent-pipeline-concurrent']);
  });

  it('the results table says flaky and the comparison lists it as flaky', () => {
    const current = withResults(secondCyclePassed(), (r) => (r.name === 'health' ? retried(r) : r));
    const md = renderCycleMarkdown(current, [firstCycleGateFailed()]);
    const p0 = section(md, '## Results by priority');
    expect(p0).toContain('### P0 — 2 of 3 passed, 1 flaky');
    const rows = readTables(p0).flatMap((t) => t.rows);
    expect(rows.find((r) => r[0] === 'health')?.[2]).toBe('**flaky**');
    const cmp = readTables(section(md, '## Compared with cycle 1')).flatMap((t) => t.rows);
    expect(cmp.find((r) => r[0] === 'health')?.[2]).toBe('flaky');
  });

  it('next steps name the flaky checks that kept the gate closed', () => {
    const current = withResults(secondCyclePassed(), (r) => (r.name === 'health' ? retried(r) : r));
    current.gate = assessGate(current.smoke.results, { P0: 100, P1: 100 });
    current.verdict = 'gate-failed';
    const md = renderCycleMarkdown(current, [firstCycleGateFailed()]);
    expect(section(md, '## Next steps')).toContain('P0 counts 1 flaky check (health) as not passed: they passed only on retry');
  });
});

describe('flaky in JUnit', () => {
  it('a pass after a failed attempt stays a pass, marked flaky the surefire way', () => {
    const current = withResults(secondCyclePassed(), (r) => (r.name === 'health' ? retried(r) : r));
    const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(renderJunit(current));
    const suites = [doc.testsuites.testsuite].flat() as { testcase: unknown }[];
    const cases = suites.flatMap((s) => [s.testcase].flat()) as Record<string, unknown>[];
    const health = cases.find((c) => c.name === 'health')!;
    expect(health.failure).toBeUndefined();
    expect(health.flakyFailure).toMatchObject({ type: 'http-5xx', message: 'flaky: passed on attempt 2 after HTTP 503' });
    expect(String(health['system-out'])).toContain('flaky');
    expect(cases.find((c) => c.name === 'info')!.flakyFailure).toBeUndefined();
  });
});
