/**
 * The evidence chain: frames found in a log window (Node, Python, Go; third-party and internals
 * skipped), the source lines around them, the links with their sources, the missing-link wording,
 * the fix link from a later record's changes; and the prompt brief built from the chains.
 */
import { describe, expect, it } from 'vitest';
import { buildChain, excerptAround, innermostUserFrame, withSourceFrames, type ChainSubject } from '../../src/evidence/chain.js';
import type { CheckResult } from '../../src/model/check-result.js';
import type { CycleChanges } from '../../src/model/changes.js';
import type { CycleRecord } from '../../src/model/record.js';
import { PROMPT_BUDGET, renderFixPrompt } from '../../src/loop/prompt.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { rankIssues } from '../../src/report/issues.js';
import { agentFailing, firstCycleGateFailed, result, secondCyclePassed } from './report-fixtures.js';

const CTX = '/work/app/svc';

const NODE_STACK = [
  'pipeline error on /ws/agent: TypeError: Do not know how to serialize a BigInt',
  '    at JSON.stringify (<anonymous>)',
  `    at serialize (file://${CTX}/node_modules/fast-json/index.js:12:9)`,
  `    at encode (file://${CTX}/pipeline.mjs:46:15)`,
  `    at agentTurn (file://${CTX}/pipeline.mjs:41:9)`,
  '    at runNextTicks (node:internal/process/task_queues:65:5)',
];

const PY_TRACE = [
  '127.0.0.1 - GET /price',
  'Traceback (most recent call last):',
  `  File "${CTX}/server.py", line 14, in do_GET`,
  '    body = json.dumps({"total": total([3, 4], FAULT)})',
  `  File "${CTX}/pricing.py", line 3, in total`,
  '    return sum(items) / n',
  `  File "${CTX}/.venv/lib/python3.12/site-packages/money/core.py", line 88, in div`,
  '    return a / b',
  'ZeroDivisionError: division by zero',
];

describe('innermostUserFrame', () => {
  it('Node: the first frame in the context, past node_modules and node: internals', () => {
    expect(innermostUserFrame(NODE_STACK, CTX)).toEqual({ file: 'pipeline.mjs', line: 46 });
  });

  it('Python: the last frame of the traceback in the context, past site-packages', () => {
    expect(innermostUserFrame(PY_TRACE, CTX)).toEqual({ file: 'pricing.py', line: 3 });
  });

  it('Go: the first frame line in the context after the runtime frames', () => {
    const go = ['panic: runtime error: index out of range [3] with length 3', '', 'goroutine 7 [running]:', 'main.lookup(...)', `\t${CTX}/cmd/api/main.go:41 +0x1d`, 'runtime.goexit()', '\t/usr/local/go/src/runtime/asm_amd64.s:1650 +0x1'];
    expect(innermostUserFrame(go, CTX)).toEqual({ file: 'cmd/api/main.go', line: 41 });
  });

  it('decodes file:// URLs and refuses paths outside the context, a sibling with the same prefix included', () => {
    expect(innermostUserFrame([`Error: x`, `    at f (file://${CTX}/my%20dir/a.mjs:3:1)`], CTX)).toEqual({ file: 'my dir/a.mjs', line: 3 });
    expect(innermostUserFrame(['Error: x', `    at f (${CTX}-old/a.js:3:1)`, '    at g (/usr/lib/node/x.js:1:1)', `    at h (${CTX}/../b.js:2:2)`], CTX)).toBeUndefined();
  });
});

describe('excerptAround', () => {
  const src = ['a', 'b', 'c', 'd', 'e', 'f'].join('\n');
  it('the line with two lines either side, numbered', () => {
    expect(excerptAround(src, 3)).toEqual(['1| a', '2| b', '3| c', '4| d', '5| e']);
    expect(excerptAround(src, 1)).toEqual(['1| a', '2| b', '3| c']);
    expect(excerptAround(src, 6)).toEqual(['4| d', '5| e', '6| f']);
  });
  it('no excerpt for a line the file does not have', () => {
    expect(excerptAround(src, 40)).toBeUndefined();
  });
});

function subject(evidence: ChainSubject['evidence']): ChainSubject {
  return { check: 'price', class: 'http-5xx', message: 'GET /price answered 500', evidence: { status: 500, ...evidence } };
}

describe('buildChain', () => {
  it('symptom, the log record with its error line and head, and the frame with its lines, each labelled', () => {
    const [r] = withSourceFrames([result({ name: 'price', priority: 'P0', status: 'fail', failure: { class: 'http-5xx', message: 'GET /price answered 500', evidence: { status: 500, logTail: PY_TRACE, logScope: 'check' } } })], CTX, (f) =>
      f === 'pricing.py' ? 'def total(items, fault):\n    n = 0 if fault == "1" else len(items)\n    return sum(items) / n\n' : undefined,
    );
    const chain = buildChain({ check: 'price', class: 'http-5xx', message: 'GET /price answered 500', evidence: r!.failure!.evidence }, 1);
    expect(chain.map((l) => [l.kind, l.source, l.missing ?? false])).toEqual([
      ['symptom', 'smoke check', false],
      ['log', "service log, this check's window", false],
      ['frame', 'build context', false],
    ]);
    expect(chain[0]!.text).toContain('price: http-5xx, HTTP 500');
    expect(chain[1]!.text).toBe('ZeroDivisionError: division by zero (the record starts: 127.0.0.1 - GET /price)');
    expect(chain[2]).toMatchObject({ file: 'pricing.py', line: 3, excerpt: ['1| def total(items, fault):', '2|     n = 0 if fault == "1" else len(items)', '3|     return sum(items) / n'] });
  });

  it('says which link is missing instead of inventing one', () => {
    const none = buildChain(subject({ logTail: [], logScope: 'check' }), 1);
    expect(none[1]).toEqual({ kind: 'log', source: "service log, this check's window", text: 'no log line in the window', missing: true });
    expect(none[2]).toMatchObject({ kind: 'frame', missing: true, text: 'no frame in your source: no log line to find one in' });
    const revision = buildChain(subject({ logScope: 'revision' }), 1);
    expect(revision[1]!.text).toBe("no log line in the revision's tail");
    const noFrame = buildChain(subject({ logTail: ['"GET /healthz HTTP/1.1" 500 -'], logScope: 'check', frameSearched: true }), 1);
    expect(noFrame[1]!.missing).toBeUndefined();
    expect(noFrame[2]).toMatchObject({ missing: true, text: 'no frame in your source: the log record names no file of the build context' });
    expect(buildChain(subject({ logTail: ['x'] }), 1)[2]!.text).toBe('no frame in your source: this output was not searched for one');
  });

  it('without an error line, quotes the last record naming the status the check saw', () => {
    const chain = buildChain(subject({ logTail: ['"GET / HTTP/1.1" 200 -', '"GET /price HTTP/1.1" 500 -', '"GET /other HTTP/1.1" 200 -'], logScope: 'check' }), 1);
    expect(chain[1]!.text).toBe('"GET /price HTTP/1.1" 500 -');
  });

  it('quotes the record that holds the frame, not the first line of the window', () => {
    const tail = ['GET /other 200', ...NODE_STACK.map((l) => l.replace(`file://${CTX}/`, 'app/'))];
    const chain = buildChain(subject({ logTail: tail, logScope: 'check', frame: { file: 'pipeline.mjs', line: 46, excerpt: ['46|   return JSON.stringify(frame);'] } }), 1);
    expect(chain[1]!.text).toBe('pipeline error on /ws/agent: TypeError: Do not know how to serialize a BigInt');
  });

  const changes: CycleChanges = {
    sinceCycle: 1,
    files: [{ path: 'pipeline.mjs', status: 'modified', added: 1, removed: 1 }],
    diff: '',
    diffTruncated: false,
    inputs: [],
    suite: [],
  };

  it('once a later cycle passes the check, the change recorded before it is the fix link', () => {
    const later: CycleRecord = { ...secondCyclePassed(), changes };
    const chain = buildChain({ ...subject({}), check: 'agent-pipeline' }, 1, [later]);
    expect(chain.at(-1)).toEqual({ kind: 'fix', source: 'cycle 2 changes', text: 'passed in cycle 2 after these changes since cycle 1: pipeline.mjs (+1 −1)' });
    const nothing = buildChain({ ...subject({}), check: 'agent-pipeline' }, 1, [{ ...secondCyclePassed(), changes: { ...changes, files: [] } }]);
    expect(nothing.at(-1)!.text).toBe('passed in cycle 2 with nothing changed since cycle 1: not a fix (flaky)');
    const unrecorded = buildChain({ ...subject({}), check: 'agent-pipeline' }, 1, [secondCyclePassed()]);
    expect(unrecorded.at(-1)).toMatchObject({ kind: 'fix', missing: true });
    expect(buildChain({ ...subject({}), check: 'agent-pipeline' }, 1, []).map((l) => l.kind)).toEqual(['symptom', 'log', 'frame']);
  });

  it('rankIssues puts the chain on each issue, and the markdown renders it with the excerpt', () => {
    const rec = firstCycleGateFailed();
    const agent = rec.smoke.results.find((r) => r.name === 'agent-pipeline')!;
    agent.failure!.evidence.frame = { file: 'pipeline.mjs', line: 46, excerpt: ['45| export function encode(frame) {', '46|   return JSON.stringify(frame);', '47| }'] };
    const issue = rankIssues(rec, []).find((i) => i.check === 'agent-pipeline')!;
    expect(issue.chain?.at(-1)).toMatchObject({ kind: 'frame', file: 'pipeline.mjs', line: 46 });
    const md = renderCycleMarkdown(rec, []);
    expect(md).toContain('3. frame (build context): `pipeline.mjs:46`, the innermost frame in your source');
    expect(md).toContain('   46|   return JSON.stringify(frame);');
  });
});

describe('the fix notes in the report', () => {
  it('stand under "The fix command says", after the measured fix step and before the results', () => {
    const rec = secondCyclePassed();
    rec.fix = { ...rec.fix!, notes: 'I changed `pipeline.mjs`.\n\\x1B[31m' };
    const md = renderCycleMarkdown(rec, [firstCycleGateFailed()]);
    const at = (s: string) => md.indexOf(s);
    expect(at('## The fix command says')).toBeGreaterThan(at('## Fix step'));
    expect(at('## The fix command says')).toBeLessThan(at('## Results by priority'));
    expect(md).toContain('its own claims, not measured by deploy-loop');
    expect(md).toContain('I changed `pipeline.mjs`.');
    expect(renderCycleMarkdown(secondCyclePassed(), [firstCycleGateFailed()])).not.toContain('The fix command says');
  });
});

describe('renderFixPrompt', () => {
  const SECRET = 'sk-planted-0123456789abcdef';

  function bigIssues(n: number): CheckResult[] {
    return Array.from({ length: n }, (_, i) =>
      result({
        name: `check-${String(i).padStart(3, '0')}`,
        priority: 'P0',
        status: 'fail',
        failure: {
          class: 'http-5xx',
          message: `answered 500 (token ${SECRET})`,
          evidence: {
            status: 500,
            logTail: Array.from({ length: 40 }, (_, j) => `line ${j} of a long log, API_KEY=${SECRET} ${'x'.repeat(120)}`),
            logScope: 'check',
            frame: { file: 'app.py', line: 9, excerpt: [`9| KEY = "${SECRET}"`] },
          },
        },
      }),
    );
  }

  function input(results: CheckResult[], budget?: number) {
    const rec: CycleRecord = { ...firstCycleGateFailed(), smoke: { durationMs: 10, results } };
    const issues = rankIssues(rec, []);
    return {
      file: { cycle: 1, service: rec.service, issues, groups: [], flaky: [] },
      record: rec,
      history: [],
      context: 'svc',
      paths: { issues: 'reports/issues-001.json', notes: 'reports/fix-notes-001.md', reportMd: 'reports/cycle-001.md' },
      secrets: [SECRET],
      ...(budget !== undefined ? { budget } : {}),
    };
  }

  it('stays within its budget, names what it left out, and holds no secret', () => {
    const text = renderFixPrompt(input(bigIssues(200)));
    expect(text.length).toBeLessThanOrEqual(PROMPT_BUDGET);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain('sk-planted');
    expect(text).toMatch(/\d+ more issues left out to keep this brief within 24000 characters; all are in `reports\/issues-001.json`/);
    expect(text).toContain('## Rules');
    expect(text).toContain('## The gate to meet');
    expect(text).toContain('`app.py:9` (innermost frame in your source)');
  });

  it('cuts a single issue larger than the budget after redacting it', () => {
    const text = renderFixPrompt(input(bigIssues(1), 3000));
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text).not.toContain('sk-planted');
    expect(text).toMatch(/more characters\)$/);
  });

  it('says what each earlier fix of the run changed and which checks flipped after it', () => {
    const one = firstCycleGateFailed();
    const two: CycleRecord = {
      ...secondCyclePassed(),
      verdict: 'gate-failed',
      changes: { sinceCycle: 1, files: [{ path: 'agent.mjs', status: 'modified', added: 2, removed: 1 }], diff: '', diffTruncated: false, inputs: ['target.env.FAULT'], suite: [] },
      smoke: { durationMs: 10, results: [...secondCyclePassed().smoke.results.filter((r) => r.name !== 'health'), { ...agentFailing(), name: 'health' }] },
    };
    const text = renderFixPrompt({ ...input(two.smoke.results), record: two, history: [one] });
    expect(text).toContain('## Earlier fixes in this run (measured)');
    expect(text).toContain('- Fix after cycle 1 (exit 0): changed agent.mjs (+2 −1), target.env.FAULT. In cycle 2:');
    expect(text).toContain('agent-pipeline fail → pass (fixed)');
    expect(text).toContain('health pass → fail (**broken**)');
  });
});
