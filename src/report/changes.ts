/**
 * Attribution as fact: what changed between two cycles (record.changes) next to which checks
 * flipped (the comparison). A pure function of the records. A flip with nothing changed is flaky; a
 * passing check that fails after a change is a regression of that change.
 */
import { isPassing } from '../model/check-result.js';
import type { Attribution, CycleChanges, FileChange, Flip } from '../model/changes.js';
import type { CycleRecord } from '../model/record.js';
import type { CheckChange, Comparison } from '../model/report.js';
import { joinWords } from './format.js';
import { sameRevision } from './flaky.js';

/**
 * How subjects are written: `quote` for paths and input names (backticks in plain text and JSON, a
 * real code span in markdown), `text` for everything else taken from records (escaped in markdown).
 */
export interface Quote {
  quote: (text: string) => string;
  text: (text: string) => string;
}
const plainQuote: Quote = { quote: (t) => `\`${t}\``, text: (t) => t };

/** `+1 −1`, or what stands instead of line counts. */
export function lineCounts(f: FileChange): string {
  if (f.status === 'mode') return 'mode changed';
  if (f.symlink) return 'symlink';
  if (f.binary) return 'binary';
  if (f.tooLarge) return 'too large to diff';
  return `+${f.added} −${f.removed}`;
}

/** A file as a subject: `pipeline.mjs` (+1 −1), `new.js` (added, +10 −0). */
export function fileSubject(f: FileChange, quote: Quote = plainQuote): string {
  const status = f.status === 'modified' || f.status === 'mode' ? '' : `${f.status}, `;
  return `${quote.quote(f.path)} (${status}${lineCounts(f)})`;
}

/** Every subject that changed, in the order the section lists them. */
export function changeSubjects(c: CycleChanges, quote: Quote = plainQuote): string[] {
  return [
    ...c.files.map((f) => fileSubject(f, quote)),
    ...(c.filesOmitted ? [`${c.filesOmitted} more files`] : []),
    ...c.inputs.map((i) => `the deploy input ${quote.quote(i)}`),
    ...c.suite.map((s) => `the suite: ${quote.text(s)}`),
  ];
}

export function nothingChanged(c: CycleChanges): boolean {
  return c.files.length === 0 && !c.filesOmitted && c.inputs.length === 0 && c.suite.length === 0;
}

function flip(c: CheckChange): Flip | undefined {
  if (c.before === 'absent' || c.after === 'absent') return undefined;
  return { check: c.name, priority: c.priority, before: c.before, after: c.after };
}

export const flipText = (f: Flip, quote: Quote = plainQuote): string => `${quote.text(f.check)} (${f.before} → ${f.after})`;

/**
 * The attribution of `current` against `previous`, when the current record holds the changes since
 * exactly that cycle; undefined otherwise (first cycle, or no manifest to compare). Flips are the
 * comparison's: what it set aside as flaky (the same revision, or a pass that needed a retry) is
 * flaky here, never fixed or broken.
 */
export function attributeChanges(current: CycleRecord, previous: CycleRecord | undefined, comparison: Comparison): Attribution | undefined {
  const changes = current.changes;
  if (!changes || !previous || changes.sinceCycle !== previous.cycle) return undefined;
  const flipped = [...comparison.newlyPassing, ...comparison.newlyFailing].flatMap((c) => flip(c) ?? []);
  const flaky = comparison.flaky
    .filter((c) => c.before !== 'absent' && c.after !== 'absent' && c.before !== 'skipped' && isPassing(c.before) !== isPassing(c.after))
    .map((c) => c.name);
  const buildOnly = nothingChanged(changes) && !sameRevision(previous, current);
  return {
    sinceCycle: previous.cycle,
    changed: [...changeSubjects(changes), ...(buildOnly ? [BUILD_ONLY] : [])],
    flipped,
    text: attributionText(current.cycle, changes, flipped, flaky, plainQuote, buildOnly),
    flaky: [...new Set(flaky)].sort(),
    // A flip the comparison counts (not the same revision) from passing to failing: that change broke it.
    regressions: flipped.filter((f) => isPassing(f.before) && !isPassing(f.after)),
  };
}

/** What changed when the files, inputs and suite did not, but the build digest did. */
const BUILD_ONLY = 'the build (the same files built to another digest: build settings changed)';

/** The attribution sentence; `quote` makes its subjects code spans in markdown. */
export function attributionText(
  cycle: number,
  changes: CycleChanges,
  flipped: readonly Flip[],
  flaky: readonly string[],
  quote: Quote = plainQuote,
  buildOnly = false,
): string {
  const between = `Between cycle ${changes.sinceCycle} and cycle ${cycle}`;
  const flakyText = flaky.length > 0 ? `${flipped.length > 0 ? '; and' : ', yet'} these checks flipped on the same revision, so they are flaky: ${joinWords(flaky.map(quote.text))}` : '';
  const subjects = [...changeSubjects(changes, quote), ...(buildOnly ? [BUILD_ONLY] : [])];
  const what = subjects.length === 0
    ? `${between} nothing changed (the same build context, deploy inputs and suite)`
    : `${between} the only ${subjects.length === 1 ? 'change was' : 'changes were'} ${joinWords(subjects)}`;
  if (flipped.length === 0 && flaky.length === 0) return `${what}; no check flipped.`;
  const flips = flipped.length > 0 ? `; these checks flipped: ${flipped.map((f) => flipText(f, quote)).join(', ')}` : '';
  return `${what}${flips}${flakyText}.`;
}

/** The regression sentence at the top of a report (and the run's ending): the checks the change broke. */
export function regressionText(a: Attribution, cycle: number, changes: CycleChanges, quote: Quote = plainQuote): string | undefined {
  if (a.regressions.length === 0) return undefined;
  const broke = a.regressions.map((f) => flipText(f, quote)).join(', ');
  const n = a.regressions.length;
  return `the change between cycle ${a.sinceCycle} and cycle ${cycle} (${joinWords(changeSubjects(changes, quote))}) broke ${n === 1 ? 'a passing check' : `${n} passing checks`}: ${broke}`;
}

/** The summary's short "changed" cell: `pipeline.mjs +1 −1`, `3 files, 1 input`, `nothing`, or `—`. */
export function shortChanged(c: CycleChanges | undefined): string {
  if (!c) return '—';
  if (nothingChanged(c)) return 'nothing';
  const files = c.files.length + (c.filesOmitted ?? 0);
  const parts: string[] = [];
  const only = c.files[0];
  if (files === 1 && only) parts.push(`${only.path} ${lineCounts(only)}`);
  else if (files > 1) parts.push(`${files} files`);
  if (c.inputs.length > 0) parts.push(c.inputs.length === 1 ? (c.inputs[0] ?? '') : `${c.inputs.length} inputs`);
  if (c.suite.length > 0) parts.push(c.suite.length === 1 ? 'suite' : `suite (${c.suite.length})`);
  return parts.join(', ');
}
