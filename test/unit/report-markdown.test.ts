import { describe, expect, it } from 'vitest';
import type { CycleRecord } from '../../src/model/record.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import {
  agentFailing,
  firstCycleBuildFailed,
  firstCycleGateFailed,
  gateOf,
  interruptedCycle,
  result,
  secondCycleDeployFailed,
  secondCyclePassed,
  thirdCyclePassedAfterDeployFailure,
} from './report-fixtures.js';
import {
  firstCodeSpan,
  headings,
  readFences,
  readTables,
  section,
  unescapeMarkdown,
} from './report-markdown-reader.js';

const SCENARIOS: [string, () => [CycleRecord, CycleRecord[]]][] = [
  ['cycle-1-gate-failed', () => [firstCycleGateFailed(), []]],
  ['cycle-2-passed', () => [secondCyclePassed(), [firstCycleGateFailed()]]],
  ['cycle-2-deploy-failed', () => [secondCycleDeployFailed(), [firstCycleGateFailed()]]],
  ['cycle-1-build-failed', () => [firstCycleBuildFailed(), []]],
  ['cycle-3-interrupted', () => [interruptedCycle(), [firstCycleGateFailed(), secondCyclePassed()]]],
  [
    'cycle-3-passed-after-deploy-failure',
    () => [thirdCyclePassedAfterDeployFailure(), [firstCycleGateFailed(), secondCycleDeployFailed()]],
  ],
];

describe('renderCycleMarkdown snapshots', () => {
  it.each(SCENARIOS)('%s', async (name, make) => {
    const [current, history] = make();
    await expect(renderCycleMarkdown(current, history)).toMatchFileSnapshot(`__snapshots__/${name}.md`);
  });
});

describe('renderCycleMarkdown', () => {
  it('has the sections in the agreed order', () => {
    const md = renderCycleMarkdown(secondCyclePassed(), [firstCycleGateFailed()]);
    expect(headings(md).filter((h) => /^#{1,2} /.test(h))).toEqual([
      '# chat-service — cycle 2',
      '## Gate',
      '## Deployment',
      '## Fix step',
      '## Results by priority',
      '## Compared with cycle 1',
      '## Remaining issues',
      '## Next steps',
    ]);
    expect(md).toContain('**Verdict: gate passed** — run `run-20250603-0914-7f3a`, started 2025-06-03T09:14:48.530Z, took 5.51 s.');
  });

  it.each([
    [firstCycleGateFailed(), 'gate failed'],
    [secondCycleDeployFailed(), 'deploy failed'],
    [firstCycleBuildFailed(), 'build failed'],
    [interruptedCycle(), 'interrupted'],
  ])('states the verdict %#', (rec, verdict) => {
    expect(renderCycleMarkdown(rec, [])).toContain(`**Verdict: ${verdict}**`);
  });

  it('shows the 1011 close code and reason in the evidence of the P0 issue', () => {
    const md = renderCycleMarkdown(firstCycleGateFailed(), []);
    const issue = section(md, '#### [P0] agent-pipeline');
    expect(issue).toContain('- Close code: 1011');
    expect(issue).toContain('- Close reason: `internal error`');
    expect(issue).toContain('- Config: `loop.config.yaml:52`');
    expect(issue).toContain('- Failing since: cycle 1 (this cycle)');
    const blocks = readFences(issue).blocks.map((b) => b.content);
    expect(blocks).toContain('{"type":"ack","id":"m-1"}');
  });

  it('shows a log tail shared by every check of a group once, above the checks', () => {
    const md = renderCycleMarkdown(firstCycleGateFailed(), []);
    const group = section(md, '### 1. [P0] ws-1011-internal-error: close 1011 "internal error" — 2 checks');
    expect(group).toContain('Log tail (the same for all 2 checks):');
    expect(md.split('[ws] closing 1011: internal error').length - 1).toBe(1);
    for (const check of ['#### [P0] agent-pipeline', '#### [P1] agent-pipeline-concurrent']) {
      expect(section(md, check)).not.toContain('Log tail');
    }
    // Tails that differ stay with their checks.
    const rec = firstCycleGateFailed();
    const other = rec.smoke.results.find((r) => r.name === 'agent-pipeline-concurrent')!;
    other.failure!.evidence.logTail = ['another revision line'];
    const apart = renderCycleMarkdown(rec, []);
    expect(apart).not.toContain('the same for all');
    expect(readFences(section(apart, '#### [P0] agent-pipeline')).blocks.some((b) => b.content.includes('[ws] closing 1011: internal error'))).toBe(true);
    expect(readFences(section(apart, '#### [P1] agent-pipeline-concurrent')).blocks.map((b) => b.content)).toContain('another revision line');
  });

  it('lists the agent check as newly passing with latency and connect before → after', () => {
    const md = renderCycleMarkdown(secondCyclePassed(), [firstCycleGateFailed()]);
    const comparison = section(md, '## Compared with cycle 1');
    expect(comparison).toContain('Newly passing: 2 · Newly failing: 0 · Still failing: 0 · Still passing: 4.');
    const rows = readTables(comparison)[0]!.rows;
    expect(rows[0]).toEqual(['agent-pipeline', 'P0', 'newly passing', 'fail', 'pass', '118 ms → 391 ms', '4.2 ms → 3.8 ms']);
  });

  it('says so when there is no previous cycle', () => {
    const md = renderCycleMarkdown(firstCycleGateFailed(), []);
    expect(section(md, '## Compared with the previous cycle')).toContain('There is no previous cycle of chat-service to compare with.');
  });

  it('renders ranked issues P0 first and longer-failing first', () => {
    const c1 = firstCycleGateFailed();
    const c2 = firstCycleGateFailed();
    c2.cycle = 2;
    c2.startedAt = '2025-06-03T09:15:00.000Z';
    // The P0 agent check passes in cycle 2, so in cycle 3 its streak is younger than the P1 one.
    c2.smoke.results = c2.smoke.results.map((r) => (r.name === 'agent-pipeline' ? result({ name: r.name, priority: 'P0' }) : r));
    const c3 = firstCycleGateFailed();
    c3.cycle = 3;
    c3.startedAt = '2025-06-03T09:16:00.000Z';
    c3.smoke.results.push({ ...agentFailing(), name: 'agent-history', priority: 'P0' });
    c2.smoke.results.push({ ...agentFailing(), name: 'agent-history', priority: 'P0' });
    c3.gate = gateOf(c3.smoke.results);
    const md = renderCycleMarkdown(c3, [c1, c2]);
    // One root cause (the same 1011 close), so one issue with three pieces of evidence, in rank order.
    const group = '### 1. [P0] ws-1011-internal-error: close 1011 "internal error" — 3 checks';
    expect(headings(md).filter((h) => h.startsWith('### ') && /\[P\d\]/.test(h))).toEqual([group]);
    expect(section(md, group).split('\n').filter((l) => l.startsWith('#### '))).toEqual([
      '#### [P0] agent-history',
      '#### [P0] agent-pipeline',
      '#### [P1] agent-pipeline-concurrent',
    ]);
    expect(section(md, group)).toContain('failing since cycle 1.');
    expect(section(md, '#### [P1] agent-pipeline-concurrent')).toContain('- Failing since: cycle 1 (failed in 3 cycles)');
    expect(section(md, '## Next steps')).toContain('1. Fix the P0 issues above (issue 1); the gate needs P0 at 100% (now 50%).');
  });

  it('keeps tables and fences intact whatever backticks and pipes the content holds', () => {
    const rec = firstCycleGateFailed();
    const weird = agentFailing();
    weird.name = 'a|b`c';
    weird.failure!.message = 'pipe | and ``` fence and `tick';
    weird.failure!.evidence.excerpt = '```\n## Next steps\n````\n| x | y |';
    weird.failure!.evidence.closeReason = '`|`';
    weird.failure!.evidence.logTail = ['~~~', '```', 'last line'];
    rec.smoke.results.push(weird);
    const md = renderCycleMarkdown(rec, []);

    const { blocks } = readFences(md);
    expect(blocks.map((b) => b.content)).toContain(weird.failure!.evidence.excerpt);
    expect(blocks.map((b) => b.content)).toContain('~~~\n```\nlast line');
    expect(headings(md).filter((h) => h === '## Next steps')).toHaveLength(1);

    for (const table of readTables(md)) {
      for (const row of table.rows) expect(row).toHaveLength(table.header.length);
    }
    const p0 = readTables(section(md, '### P0 — 2 of 4 passed'))[0]!;
    const row = p0.rows.find((r) => unescapeMarkdown(r[0]!) === 'a|b`c');
    expect(row).toBeDefined();
    expect(row![5]).toContain('close 1011');
    expect(firstCodeSpan(row![5]!.slice(row![5]!.indexOf('close 1011')))).toBe('`|`');
  });

  it('masks authorization and cookie values that reach the evidence', () => {
    const rec = firstCycleGateFailed();
    const agent = rec.smoke.results.find((r) => r.name === 'agent-pipeline')!;
    agent.failure!.evidence.excerpt = 'GET /ws/agent\nAuthorization: Bearer tok-live-123456\nCookie: sid=s3cr3t-cookie';
    agent.failure!.evidence.actual = '{"authorization":"Bearer tok-live-123456"}';
    const md = renderCycleMarkdown(rec, []);
    expect(md).not.toContain('tok-live-123456');
    expect(md).not.toContain('s3cr3t-cookie');
    expect(md).toContain('Authorization: [redacted]');
  });

  it('is a pure function of its inputs: same output twice, inputs untouched', () => {
    const current = secondCyclePassed();
    const history = [firstCycleGateFailed()];
    const before = structuredClone([current, history]);
    const first = renderCycleMarkdown(current, history);
    expect(renderCycleMarkdown(current, history)).toBe(first);
    expect([current, history]).toEqual(before);
  });

  it('describes what happened to traffic in words', () => {
    expect(renderCycleMarkdown(secondCyclePassed(), [firstCycleGateFailed()])).toContain('Traffic moved 100% to chat-service-00002.');
    expect(renderCycleMarkdown(interruptedCycle(), [])).toContain('Traffic kept on chat-service-00002 (last good revision).');
    expect(renderCycleMarkdown(firstCycleGateFailed(), [])).toContain(
      'No revision serves traffic yet: this is the first cycle and the candidate did not pass the gate.',
    );
  });

  it('derives next steps only from the gate and the issues', () => {
    const md = renderCycleMarkdown(firstCycleGateFailed(), []);
    expect(section(md, '## Next steps').split('\n').filter((l) => /^\d+\. /.test(l))).toEqual([
      '1. Fix the P0 issues above (issue 1); the gate needs P0 at 100% (now 66.7%).',
      // The P1 check shares the P0 check's root cause, so both point at the same issue.
      '2. Fix the P1 issues above (issue 1); the gate needs P1 at 100% (now 50%).',
    ]);
    expect(section(renderCycleMarkdown(secondCycleDeployFailed(), []), '## Next steps')).toContain(
      '1. Fix the deploy failure (issue 1); no smoke check ran against it.',
    );
  });

  it('contains no emoji', () => {
    for (const [, make] of SCENARIOS) {
      expect(renderCycleMarkdown(...make())).not.toMatch(/\p{Extended_Pictographic}/u);
    }
  });
});
