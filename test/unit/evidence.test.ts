import { describe, expect, it } from 'vitest';
import { mapBuildFrames } from '../../src/evidence/frames.js';
import { attachCheckLogs, attachRevisionTail } from '../../src/evidence/log-window.js';
import { groupRecords } from '../../src/evidence/records.js';
import type { CheckResult } from '../../src/model/check-result.js';
import type { TimedLine } from '../../src/model/log-line.js';
import { mergeSamples, percentile, sampleValues, thinSamples } from '../../src/model/samples.js';
import { evaluateThreshold } from '../../src/model/thresholds.js';
import { compareCycles } from '../../src/report/compare.js';
import { relativizePaths, relativizeText } from '../../src/report/paths.js';
import { record, result } from './report-fixtures.js';

/** Lines captured `gap` ms apart from `t0` (one write when gap is 0). */
function timed(texts: string[], t0 = 1000, gap = 0): TimedLine[] {
  return texts.map((text, i) => ({ at: t0 + i * gap, text }));
}

const NODE_ERROR = ['Error: db exploded', '    at query (/app/db.mjs:12:11)', '    at async handler (/app/server.mjs:40:5)'];
const NODE_UNCAUGHT = ['/app/pipeline.mjs:46', "    throw new Error('boom');", '    ^', '', 'Error: boom', '    at run (/app/pipeline.mjs:46:11)', '', 'Node.js v24.1.0'];
const PYTHON = [
  'ERROR:app:handler failed',
  'Traceback (most recent call last):',
  '  File "/app/server.py", line 20, in do_GET',
  '    divide(1, 0)',
  '  File "/app/server.py", line 8, in divide',
  '    return a / b',
  '           ~~^~~',
  'ZeroDivisionError: division by zero',
];
const PYTHON_CHAINED = [
  'Traceback (most recent call last):',
  '  File "/app/x.py", line 3, in <module>',
  'KeyError: \'k\'',
  '',
  'During handling of the above exception, another exception occurred:',
  '',
  'Traceback (most recent call last):',
  '  File "/app/x.py", line 5, in <module>',
  'ValueError: bad',
];
const GO_PANIC = ['panic: runtime error: index out of range [3] with length 3', '', 'goroutine 1 [running]:', 'main.handler(0xc0000a4000)', '\t/app/main.go:12 +0x1d', 'main.main()', '\t/app/main.go:20 +0x25', 'exit status 2'];
const GO_HTTP = [
  '2026/12/01 09:44:25 http: panic serving 127.0.0.1:5555: boom',
  'goroutine 20 [running]:',
  'net/http.(*conn).serve.func1()',
  '\t/usr/lib/go/src/net/http/server.go:1854 +0xbf',
  'panic({0x6a4e20?, 0x7b1d30?})',
  '\t/usr/lib/go/src/runtime/panic.go:890 +0x263',
];

describe('groupRecords keeps a traceback whole, from its first line', () => {
  it.each([
    ['a node error printed with its frames', NODE_ERROR],
    ["node's uncaught-exception header, message, frames and version", NODE_UNCAUGHT],
    ['a python traceback after the log line that announced it', PYTHON],
    ['a chained python traceback', PYTHON_CHAINED],
    ['a go panic with its goroutine dump', GO_PANIC],
    ["go's http: panic serving with its goroutine dump", GO_HTTP],
  ])('%s', (_name, lines) => {
    const before = { at: 900, text: 'GET /health 200' };
    const after = { at: 1200, text: 'GET /next 200' };
    const records = groupRecords([before, ...timed(lines), after]);
    expect(records.map((r) => r.lines.map((l) => l.text))).toEqual([[before.text], lines, [after.text]]);
  });

  it('keeps plain lines apart, and a traceback written later apart from the line before it', () => {
    const records = groupRecords([
      { at: 0, text: 'one' },
      { at: 0, text: 'two' },
      { at: 500, text: 'Traceback (most recent call last):' },
      { at: 500, text: '  File "/app/x.py", line 1, in <module>' },
      { at: 500, text: 'ValueError: v' },
      { at: 501, text: 'after' },
    ]);
    expect(records.map((r) => r.lines.length)).toEqual([1, 1, 3, 1]);
  });
});

describe('mapBuildFrames points frames at the build context', () => {
  const contextDir = '/repo/svc';
  const buildDir = '/repo/.deploy-loop/builds/svc/c001-3f2a9c1b';
  it.each([
    ['node', `    at run (${buildDir}/pipeline.mjs:46:11)`, '    at run (/repo/svc/pipeline.mjs:46:11)'],
    ['node ESM URL', `    at file://${buildDir}/lib/a.mjs:3:1`, '    at /repo/svc/lib/a.mjs:3:1'],
    ['python', `  File "${buildDir}/server.py", line 20, in do_GET`, '  File "/repo/svc/server.py", line 20, in do_GET'],
    ['go', `\t${buildDir}/main.go:12 +0x1d`, '\t/repo/svc/main.go:12 +0x1d'],
    ["another cycle's copy", '    at f (/repo/.deploy-loop/builds/svc/c007-aa11/x.mjs:1:1)', '    at f (/repo/svc/x.mjs:1:1)'],
  ])('%s', (_kind, line, want) => expect(mapBuildFrames(line, { contextDir, buildDir })).toBe(want));

  it('leaves frames elsewhere alone', () => {
    expect(mapBuildFrames('    at node:internal/process/task_queues:95:5', { contextDir, buildDir })).toBe('    at node:internal/process/task_queues:95:5');
  });
});

describe('relativizeText writes paths relative to the config folder', () => {
  it.each([
    ['/home/runner/work/app/loop.config.yaml:54', 'loop.config.yaml:54'],
    ['dir:/home/runner/work/app/.deploy-loop/builds/svc/c001-ab', 'dir:.deploy-loop/builds/svc/c001-ab'],
    ['  File "/home/runner/work/app/svc/x.py", line 3', '  File "svc/x.py", line 3'],
    ['file:///home/runner/work/app/x.mjs:1', 'x.mjs:1'],
    ['cwd /home/runner/work/app', 'cwd .'],
    ['/home/runner/work/apple/x', '/home/runner/work/apple/x'],
  ])('%s → %s', (text, want) => expect(relativizeText(text, '/home/runner/work/app')).toBe(want));

  it('rewrites every string of a record but not its keys', () => {
    const out = relativizePaths({ checkLocations: { '/root/a': '/root/c.yaml:3' }, tail: ['at /root/x.mjs:1'] }, '/root');
    expect(out).toEqual({ checkLocations: { '/root/a': 'c.yaml:3' }, tail: ['at x.mjs:1'] });
  });
});

function failed(name: string, windows: [number, number][]): CheckResult {
  return result({
    name,
    priority: 'P1',
    status: 'fail',
    attempts: windows.length,
    attemptLog: windows.map(([startedAt, endedAt], i) => ({ attempt: i + 1, status: 'fail', durationMs: endedAt - startedAt, startedAt, endedAt })),
    failure: { class: 'http-5xx', message: `${name} failed`, evidence: { status: 500 } },
  });
}

describe('attachCheckLogs', () => {
  it('gives a line between two checks to the nearer one, within the margin', () => {
    const [a, b] = attachCheckLogs([failed('a', [[0, 100]]), failed('b', [[200, 300]])], [
      { at: 50, text: 'a1' },
      { at: 110, text: 'a2 (just after a)' },
      { at: 190, text: 'b0 (just before b)' },
      { at: 250, text: 'b1' },
      { at: 900, text: 'much later' },
    ]);
    expect(a!.failure!.evidence).toMatchObject({ logScope: 'check', logTail: ['a1', 'a2 (just after a)'] });
    expect(b!.failure!.evidence).toMatchObject({ logScope: 'check', logTail: ['b0 (just before b)', 'b1'] });
  });

  it('covers every attempt of a retried check', () => {
    const [a] = attachCheckLogs([failed('a', [[0, 10], [1000, 1010]])], [{ at: 5, text: 'first try' }, { at: 500, text: 'between' }, { at: 1005, text: 'second try' }]);
    expect(a!.failure!.evidence.logTail).toEqual(['first try', 'second try']);
  });

  it('says the revision wrote nothing when nothing was logged during the attempts', () => {
    const [a] = attachCheckLogs([failed('a', [[0, 10]])], [{ at: 5000, text: 'unrelated' }]);
    expect(a!.failure!.evidence).toMatchObject({ logScope: 'check', logTail: [] });
  });

  it('cuts on record boundaries and keeps an oversized record its head and its end', () => {
    const big = timed(['Traceback (most recent call last):', ...Array.from({ length: 30 }, (_, i) => `  File "/x.py", line ${i}, in f`), 'RecursionError: too deep'], 5);
    const [a] = attachCheckLogs([failed('a', [[0, 100]])], big, { maxLines: 9 });
    const tail = a!.failure!.evidence.logTail!;
    expect(tail).toHaveLength(9);
    expect(tail[0]).toBe('Traceback (most recent call last):');
    expect(tail.at(-1)).toBe('RecursionError: too deep');
    expect(tail).toContain('… 24 lines of this record cut …');
  });

  it("leaves a check's own output alone, and gives untimed results the revision's tail, said to be shared", () => {
    const own = failed('cmd', [[0, 10]]);
    own.failure!.evidence.logTail = ['its own output'];
    const untimed = { ...failed('old', []), attemptLog: [] };
    const out = attachCheckLogs([own, untimed], timed(['x', '    at frame', 'y'], 5000, 100));
    expect(out[0]!.failure!.evidence).toEqual(own.failure!.evidence);
    expect(out[1]!.failure!.evidence).toMatchObject({ logScope: 'revision', logTail: ['x', '    at frame', 'y'] });
  });

  it('attachRevisionTail starts the shared tail at a record, not mid-traceback', () => {
    const [a] = attachRevisionTail([failed('a', [])], ['    at cut (/x.mjs:1:1)', '    at cut2 (/x.mjs:2:1)', 'Error: second', '    at f (/x.mjs:3:1)']);
    expect(a!.failure!.evidence).toMatchObject({ logScope: 'revision', logTail: ['Error: second', '    at f (/x.mjs:3:1)'] });
  });
});

describe('figures over every sample', () => {
  it('percentile is nearest rank and undefined for no values', () => {
    expect(percentile([], 50)).toBeUndefined();
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
    expect(percentile([7], 99)).toBe(7);
  });

  it('thins beyond the bound but keeps the smallest and the largest, and the true count', () => {
    const values = Array.from({ length: 5000 }, (_, i) => (i * 7919) % 5000);
    const thinned = thinSamples(values, 100);
    expect(thinned).toHaveLength(100);
    expect(Math.min(...thinned)).toBe(0);
    expect(Math.max(...thinned)).toBe(4999);
    const merged = mergeSamples([{ samples: { connectMs: values } }]);
    expect(merged?.measured?.connectMs).toBe(5000);
    expect(sampleValues({ samples: merged }, 'connectMs').count).toBe(5000);
  });

  const multi = result({
    name: 'chat-ws',
    kind: 'websocket',
    priority: 'P1',
    figures: { connectMs: 57, connectP50Ms: 60, connectP95Ms: 94, connectMaxMs: 94, connections: 7, samples: { connectMs: [57, 55, 94, 61, 58, 60, 59] } },
  });

  it('a threshold over a multi-connection check fails on its slowest connection, counting every sample', () => {
    const t = evaluateThreshold([multi], { expr: 'max(connectMs) < 60ms' });
    expect(t).toMatchObject({ passed: false, value: 94, samples: 7 });
    expect(evaluateThreshold([multi], { expr: 'min(connectMs) < 56ms' })).toMatchObject({ passed: true, value: 55 });
  });

  it('a record without samples counts its figure as one sample', () => {
    const old = result({ name: 'h', priority: 'P1', figures: { latencyMs: 120 } });
    expect(evaluateThreshold([old], { expr: 'p95(latency) < 100ms' })).toMatchObject({ passed: false, value: 120, samples: 1 });
  });

  it("the comparison's Connect column is the p95 of a multi-connection check", () => {
    const before = record({ cycle: 1, startedAt: '2025-06-03T09:14:00.000Z', smoke: { durationMs: 1, results: [multi] } });
    const after = record({ cycle: 2, startedAt: '2025-06-03T09:20:00.000Z', smoke: { durationMs: 1, results: [{ ...multi, figures: { ...multi.figures, connectMs: 10, connectP95Ms: 120 } }] } });
    const change = compareCycles(after, before).stillPassing.find((c) => c.name === 'chat-ws');
    expect(change).toMatchObject({ connectBeforeMs: 94, connectAfterMs: 120 });
  });
});

describe('reports of the same run in two folders', () => {
  it('are the same once the record is written relative to its config folder (markdown, JSON, JUnit, issues)', async () => {
    const { renderCycleMarkdown } = await import('../../src/report/markdown.js');
    const { renderCycleJson } = await import('../../src/report/json.js');
    const { renderJunit } = await import('../../src/report/junit.js');
    const { rankIssues } = await import('../../src/report/issues.js');
    const { evidenceScoped } = await import('./report-fixtures.js');
    const at = (root: string) => {
      const rec = evidenceScoped();
      rec.checkLocations = Object.fromEntries(Object.entries(rec.checkLocations).map(([k, v]) => [k, `${root}/${v}`]));
      rec.build.image = `dir:${root}/.deploy-loop/builds/chat-service/c001-3f2a`;
      rec.deploy.image = rec.build.image;
      const agent = rec.smoke.results.find((r) => r.name === 'agent-pipeline')!;
      agent.failure!.evidence.logTail = [`    at runTool (file://${root}/.deploy-loop/builds/chat-service/c001-3f2a/agent.mjs:48:22)`].map((l) => mapBuildFrames(l, { contextDir: root }));
      return relativizePaths(rec, root);
    };
    const a = at('/home/runner/work/app');
    const b = at('/tmp/ci-42/checkout');
    const render = (r: typeof a) => [renderCycleMarkdown(r, []), JSON.stringify(renderCycleJson(r, [])), renderJunit(r), JSON.stringify(rankIssues(r, []))];
    expect(render(a)).toEqual(render(b));
    const [md, , junit] = render(a);
    expect(md).not.toMatch(/\/home\/runner|\/tmp\/ci-42/);
    expect(md).toContain('at runTool (agent.mjs:48:22)');
    expect(junit).toContain('file="loop.config.yaml" line="52"');
  });
});
