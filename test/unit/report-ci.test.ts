import { describe, expect, it } from 'vitest';
import { renderAnnotations, renderStepSummary } from '../../src/report/ci.js';
import { agentFailing, firstCycleGateFailed, gateOf, result, secondCyclePassed } from './report-fixtures.js';

describe('renderAnnotations', () => {
  it('annotates failing P0 and P1 checks only, with the config location and escaped text', () => {
    const rec = firstCycleGateFailed();
    const results = [
      { ...agentFailing(), failure: { ...agentFailing().failure!, message: 'line one\nline two, 100% broken' } },
      result({ name: 'minor', priority: 'P2', status: 'fail', failure: { class: 'http-5xx', message: 'HTTP 500', evidence: {} } }),
    ];
    const cur = { ...rec, smoke: { ...rec.smoke, results }, gate: gateOf(results), checkLocations: { 'agent-pipeline': '/repo/loop.config.yaml:52' } };
    expect(renderAnnotations(cur, [], '/repo')).toEqual([
      '::error file=loop.config.yaml,line=52,title=[P0] agent-pipeline%3A ws-1011-internal-error::cycle 1: line one%0Aline two, 100%25 broken',
    ]);
  });

  it('annotates nothing when the cycle passed', () => {
    expect(renderAnnotations(secondCyclePassed(), [firstCycleGateFailed()], '/repo')).toEqual([]);
  });
});

describe('renderStepSummary', () => {
  it('holds the verdict, the gate and the remaining issues, after the run line', () => {
    const md = renderStepSummary(firstCycleGateFailed(), [], '**deploy-loop run: max-cycles** after 1 cycle(s).');
    const order = ['**deploy-loop run: max-cycles**', '# chat-service — cycle 1', '## Gate', '## Remaining issues', '[P0] agent-pipeline'].map((s) => md.indexOf(s));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(md).not.toContain('## Deployment');
    expect(md.endsWith('\n\n')).toBe(true);
  });
});
