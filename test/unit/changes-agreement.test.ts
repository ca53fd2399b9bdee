/**
 * Changes and attributions agree across every output that carries them: the markdown report, the
 * JSON report, the summary's per-cycle row and the fix issues file, from the same records.
 */
import { describe, expect, it } from 'vitest';
import type { CycleChanges } from '../../src/model/changes.js';
import type { CycleRecord } from '../../src/model/record.js';
import { attributeChanges, shortChanged } from '../../src/report/changes.js';
import { compareCycles } from '../../src/report/compare.js';
import { escapeText, inlineCode } from '../../src/report/format.js';
import { fixProvenance } from '../../src/report/issues.js';
import { renderCycleJson } from '../../src/report/json.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { renderTrend } from '../../src/report/trend.js';
import { buildHtmlData, cycleViews } from '../../src/report/html-data.js';
import { fixIssuesFileSchema } from '../../src/model/fix-issues.js';
import { firstCycleGateFailed, result, secondCyclePassed, gateOf } from './report-fixtures.js';
import { readFences, readTables, section } from './report-markdown-reader.js';

const DIFF = ['--- a/agent.mjs', '+++ b/agent.mjs', '@@ -1,3 +1,3 @@', ' import { tools } from "./tools.mjs";', '-const registry = {};', '+const registry = { weather: tools.weather };', ' export { registry };'].join('\n');

const FILE_CHANGE: CycleChanges = {
  sinceCycle: 1,
  files: [{ path: 'agent.mjs', status: 'modified', added: 1, removed: 1 }, { path: 'notes_*draft*.md', status: 'added', added: 2, removed: 0 }],
  diff: DIFF,
  diffTruncated: false,
  inputs: ['target.env.FAULT'],
  suite: ['check "info" (P1) was edited'],
};

const NOTHING: CycleChanges = { sinceCycle: 1, files: [], diff: '', diffTruncated: false, inputs: [], suite: [] };

/** Cycle 2 of the fixtures with its changes; the code changed, so the build digests differ. */
function withChanges(changes: CycleChanges | undefined, digest2 = 'sha256:2222'): [CycleRecord, CycleRecord[]] {
  const one = { ...firstCycleGateFailed(), build: { ...firstCycleGateFailed().build, digest: 'sha256:1111' } };
  const two = { ...secondCyclePassed(), build: { ...secondCyclePassed().build, digest: digest2 }, ...(changes ? { changes } : {}) };
  return [two, [one]];
}

/** Cycle 2 broke a check that passed in cycle 1 (health) while fixing agent-pipeline. */
function regressed(): [CycleRecord, CycleRecord[]] {
  const [two, history] = withChanges({ ...FILE_CHANGE, inputs: [], suite: [] });
  const results = two.smoke.results.map((r) => (r.name === 'health' ? result({ ...r, status: 'fail', failure: { class: 'http-5xx', message: 'status 500, expected 200', evidence: { status: 500 } } }) : r));
  return [{ ...two, smoke: { ...two.smoke, results }, gate: gateOf(results), verdict: 'gate-failed' }, history];
}

function all(current: CycleRecord, history: CycleRecord[]) {
  const md = renderCycleMarkdown(current, history);
  const json = renderCycleJson(current, history);
  const trend = renderTrend([...history, current]);
  const issues = fixIssuesFileSchema.parse({ cycle: current.cycle, service: current.service, issues: [], groups: [], flaky: [], ...fixProvenance(current, history) });
  return { md, json, trend, issues };
}

describe('changes and attributions agree across markdown, JSON, summary and the issues file', () => {
  it.each([
    ['files, an input and the suite changed', () => withChanges(FILE_CHANGE)],
    ['nothing changed', () => withChanges(NOTHING, 'sha256:1111')],
    ['only the build settings changed', () => withChanges(NOTHING)],
    ['a change broke a passing check', regressed],
  ] as const)('%s', (_name, make) => {
    const [current, history] = make();
    const { md, json, trend, issues } = all(current, history);
    const changes = current.changes!;
    const attribution = attributeChanges(current, history.at(-1), compareCycles(current, history.at(-1)));

    // JSON: the record's changes as recorded, the attribution as derived.
    expect(json.record.changes).toEqual(changes);
    expect(json.attribution).toEqual(attribution);
    expect(json.attribution).toBeDefined();
    const a = json.attribution!;
    // Issues file: the same two objects.
    expect(issues.changes).toEqual(json.record.changes);
    expect(issues.attribution).toEqual(json.attribution);

    // Markdown: the section lists every file with its counts, every input and suite change, and the diff.
    const text = section(md, `## Changes since cycle ${changes.sinceCycle}`);
    for (const f of changes.files) expect(text).toContain(`${inlineCode(f.path)} (${f.status === 'modified' ? '' : `${f.status}, `}+${f.added} −${f.removed})`);
    for (const i of changes.inputs) expect(text).toContain(`Deploy input ${inlineCode(i)} changed`);
    for (const s of changes.suite) expect(text).toContain(`Suite: ${escapeText(s)}`);
    const blocks = readFences(text).blocks.filter((b) => b.info === 'diff');
    expect(blocks.map((b) => b.content)).toEqual(changes.diff === '' ? [] : [changes.diff]);
    // The attribution sentence: every flip and every flaky check the JSON names, in the markdown's words.
    for (const f of a.flipped) expect(text).toContain(`${escapeText(f.check)} (${f.before} → ${f.after})`);
    for (const name of a.flaky) expect(text).toContain(escapeText(name));
    expect(a.text.startsWith(`Between cycle ${changes.sinceCycle} and cycle ${current.cycle}`)).toBe(true);

    // Regressions named at the top (before the first section) exactly when the JSON lists them.
    const top = md.slice(0, md.indexOf('\n## '));
    expect(top.includes('**Regression:**')).toBe(a.regressions.length > 0);
    for (const f of a.regressions) expect(top).toContain(`${escapeText(f.check)} (pass → fail)`);

    // Summary: the per-cycle row's Changed cell.
    const cycles = readTables(section(trend, '## Cycles'))[0]!;
    const col = cycles.header.indexOf('Changed');
    const row = cycles.rows.find((r) => r[0] === String(current.cycle))!;
    expect(row[col]).toBe(escapeText(shortChanged(json.record.changes)));

    // HTML page: the cycle's changes block from the same JSON report.
    const page = buildHtmlData(cycleViews([...history, current])).cycles.find((c) => c.cycle === current.cycle)!;
    expect(page.changes).toMatchObject({ since: changes.sinceCycle, text: a.text, diff: changes.diff, diffTruncated: changes.diffTruncated });
    expect(page.changes?.files.map((f) => f.path)).toEqual(changes.files.map((f) => f.path));
    expect(page.changes?.regressions).toEqual(a.regressions.map((f) => `${f.check} (${f.before} → ${f.after})`));
  });

  it('names what changed and what flipped as fact, and a flip with nothing changed as flaky', () => {
    expect(all(...withChanges(FILE_CHANGE)).json.attribution?.text).toBe(
      'Between cycle 1 and cycle 2 the only changes were `agent.mjs` (+1 −1), `notes_*draft*.md` (added, +2 −0), the deploy input `target.env.FAULT` and the suite: check "info" (P1) was edited; these checks flipped: agent-pipeline (fail → pass), agent-pipeline-concurrent (fail → pass).',
    );
    const none = all(...withChanges(NOTHING, 'sha256:1111')).json;
    expect(none.attribution).toMatchObject({ flipped: [], regressions: [], flaky: ['agent-pipeline', 'agent-pipeline-concurrent'] });
    expect(none.attribution?.text).toBe('Between cycle 1 and cycle 2 nothing changed (the same build context, deploy inputs and suite), yet these checks flipped on the same revision, so they are flaky: agent-pipeline and agent-pipeline-concurrent.');
    expect(all(...withChanges(NOTHING)).json.attribution?.text).toMatch(/^Between cycle 1 and cycle 2 the only change was the build \(the same files built to another digest: build settings changed\); these checks flipped: agent-pipeline \(fail → pass\)/);
    // The comparison agrees: the same revision (same context, same inputs) flipping is flaky there too.
    expect(none.comparison.newlyPassing).toEqual([]);
    const reg = all(...regressed()).json.attribution!;
    expect(reg.regressions).toEqual([{ check: 'health', priority: 'P0', before: 'pass', after: 'fail' }]);
  });

  it('has no attribution without recorded changes (first cycle, or no manifest to compare)', () => {
    const { json, issues, md } = all(...withChanges(undefined));
    expect(json.attribution).toBeUndefined();
    expect(issues.changes).toBeUndefined();
    expect(md).not.toContain('## Changes since');
  });
});
