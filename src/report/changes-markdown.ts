/** The report's "Changes since cycle N" section and its regression line at the top. */
import type { CycleChanges } from '../model/changes.js';
import type { CycleRecord } from '../model/record.js';
import { attributionText, changeSubjects, fileSubject, lineCounts, regressionText, type Quote } from './changes.js';
import { escapeText, fence, inlineCode } from './format.js';
import type { CycleSummary } from './summary.js';

export const MARKDOWN_QUOTE: Quote = { quote: inlineCode, text: escapeText };

/** `**Regression:** …`, the first thing after the verdict, when a change broke a passing check. */
export function renderRegression(s: CycleSummary): string {
  const a = s.attribution;
  const changes = s.record.changes;
  if (!a || !changes) return '';
  const text = regressionText(a, s.record.cycle, changes, MARKDOWN_QUOTE);
  return text ? `**Regression:** ${text}.` : '';
}

export function renderChanges(s: CycleSummary): string {
  const c = s.record.changes;
  const a = s.attribution;
  if (!c) return s.record.revert ? renderRevert(s.record) : '';
  const out = [`## Changes since cycle ${c.sinceCycle}`];
  if (a) out.push(attributionText(s.record.cycle, c, a.flipped, a.flaky, MARKDOWN_QUOTE, a.changed.length > changeSubjects(c).length));
  const list = [
    ...c.files.map((f) => `- ${fileSubject(f, MARKDOWN_QUOTE)}${fileNote(f)}`),
    ...(c.filesOmitted ? [`- ${c.filesOmitted} more changed files, not listed`] : []),
    ...c.inputs.map((i) => `- Deploy input ${inlineCode(i)} changed (values are never recorded)`),
    ...c.suite.map((t) => `- Suite: ${escapeText(t)}`),
  ];
  if (list.length > 0) out.push(list.join('\n'));
  if (c.commits) out.push(renderCommits(c.commits));
  if (c.diff !== '') {
    out.push(fence(c.diff, 'diff'));
    if (c.diffTruncated) out.push('The diff was cut to its size budget; the files above are the complete list.');
  }
  if (s.record.revert) out.push(renderRevert(s.record));
  return out.join('\n\n');
}

function fileNote(f: CycleChanges['files'][number]): string {
  if (f.tooLarge) return ': over the size cap of the change store, so no diff and no revert';
  if (f.binary) return ': not text, so no diff';
  if (f.approximate) return `: too many edits to align; counted as ${lineCounts(f)} lines replaced`;
  return '';
}

function renderCommits(c: NonNullable<CycleChanges['commits']>): string {
  const range = `Commits ${inlineCode(`${c.from.slice(0, 12)}..${c.to.slice(0, 12)}`)}`;
  if (c.subjects.length === 0) return `${range}: none listed (HEAD moved to a commit that is not a descendant).`;
  return `${range}:\n\n${c.subjects.map((l) => `- ${escapeText(l)}`).join('\n')}`;
}

/** What loop.onRegression: revert wrote back after this cycle. */
export function renderRevert(r: CycleRecord): string {
  const v = r.revert;
  if (!v) return '';
  const head = `### Reverted after cycle ${v.afterCycle} (loop.onRegression: revert)`;
  if (v.refused) return `${head}\n\nNothing was reverted: ${escapeText(v.refused)}.`;
  const files = v.files.map((f) => `- ${inlineCode(f.path)}: ${f.action === 'deleted' ? 'deleted (the change had added it)' : `restored from cycle ${v.toCycle}`}`);
  return `${head}\n\n${files.join('\n')}`;
}
