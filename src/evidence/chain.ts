/**
 * The evidence chain of an issue: symptom → the service's log record in the check's window → the
 * innermost frame in the user's own source → (once fixed) the change that fixed it. Every link is a
 * measurement labelled with where it was measured; a link with no evidence says so ("no log line in
 * the window", "no frame in your source") and is never filled in by a guess. Pure.
 *
 * Frames are found at cycle time (source-frames.ts reads the lines around them from the build that
 * ran), in log lines whose build-copy paths were already mapped to the context (frames.ts).
 */
import type { CheckResult, Evidence, FailureClass, SourceFrame } from '../model/check-result.js';
import type { ChainLink, CycleChanges, EvidenceChain } from '../model/changes.js';
import type { CycleRecord } from '../model/record.js';
import { groupRecords, type LogRecord } from './records.js';

/** Lines of a chain link quoted from a log are cut to this many characters. */
export const CHAIN_TEXT_MAX = 300;
/** Lines of a source excerpt are cut to this many characters. */
export const EXCERPT_LINE_MAX = 200;
/** Lines either side of the frame's line in an excerpt. */
export const EXCERPT_AROUND = 2;

/** Third-party code inside the context is not "your source". */
const NOT_YOURS = /(^|\/)(node_modules|site-packages|dist-packages|\.venv|vendor)\//;
const PY_FRAME = /File "([^"]+)", line (\d+)/;
/** `/abs/x.mjs:46:11`, `file:///abs/x.mjs:46`, `(/abs/x.js:3:1)`, Go's `\t/abs/main.go:12 +0x1d`. */
const PATH_FRAME = /(?:file:\/\/)?(\/[^\s()"'<>]*?\.[A-Za-z0-9]+):(\d+)(?::\d+)?(?=$|[\s)\],])/g;
const PY_TRACEBACK = /^Traceback \(most recent call last\):/;
const ERROR_LINE = /\b[A-Z]\w*(Error|Exception)\b|^panic: |^fatal error: |\b(error|exception|fatal|panic)\b/i;

export interface FoundFrame {
  /** Relative to the context, `/` separators. */
  file: string;
  line: number;
}

function decodePath(path: string, wasUrl: boolean): string {
  if (!wasUrl) return path;
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

/** Every frame of one line that points into `contextDir` (absolute, no trailing slash) and is the user's own. */
function framesIn(text: string, contextDir: string): FoundFrame[] {
  const root = `${contextDir.replace(/\/+$/, '')}/`;
  const out: FoundFrame[] = [];
  const take = (path: string, line: string): void => {
    if (!path.startsWith(root)) return;
    const file = path.slice(root.length);
    if (file === '' || file.split('/').includes('..') || NOT_YOURS.test(file)) return;
    out.push({ file, line: Number(line) });
  };
  const py = PY_FRAME.exec(text);
  if (py) {
    take(py[1]!, py[2]!);
    return out;
  }
  for (const m of text.matchAll(PATH_FRAME)) take(decodePath(m[1]!, m[0].startsWith('file://')), m[2]!);
  return out;
}

function isPythonRecord(rec: readonly string[]): boolean {
  return rec.some((l) => PY_TRACEBACK.test(l));
}

/** The record's innermost own frame: Python prints it last ("most recent call last"), Node and Go first. */
function innermostIn(rec: readonly string[], contextDir: string): FoundFrame | undefined {
  const frames = rec.flatMap((l) => framesIn(l, contextDir));
  return isPythonRecord(rec) ? frames.at(-1) : frames[0];
}

function records(lines: readonly string[]): LogRecord[] {
  return groupRecords(lines.map((text) => ({ at: 0, text })));
}

const textsOf = (r: LogRecord): string[] => r.lines.map((l) => l.text);

/**
 * The innermost frame in the user's own source among `lines` (a check's log window, build copies
 * already mapped to `contextDir`): from the first record that has one. node_modules, site-packages and
 * `node:` internals are not the user's; nor is any path outside the context.
 */
export function innermostUserFrame(lines: readonly string[], contextDir: string): FoundFrame | undefined {
  for (const rec of records(lines)) {
    const found = innermostIn(textsOf(rec), contextDir);
    if (found) return found;
  }
  return undefined;
}

/** `line` with EXCERPT_AROUND lines either side, as `NN| text`; undefined when the file has no such line. */
export function excerptAround(source: string, line: number, around = EXCERPT_AROUND): string[] | undefined {
  const lines = source.split(/\r?\n/);
  // A file ending in a newline has no line after it.
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  if (line < 1 || line > lines.length) return undefined;
  const from = Math.max(1, line - around);
  const to = Math.min(lines.length, line + around);
  const width = String(to).length;
  const out: string[] = [];
  for (let n = from; n <= to; n++) out.push(`${String(n).padStart(width)}| ${cutLine(lines[n - 1]!, EXCERPT_LINE_MAX)}`);
  return out;
}

function cutLine(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters)`;
}

/** What a chain is built from: a ranked issue (or anything shaped like one) of cycle `cycle`. */
export interface ChainSubject {
  check: string;
  class: FailureClass;
  message: string;
  evidence: Evidence;
}

function symptomLink(s: ChainSubject): ChainLink {
  const e = s.evidence;
  const facts = [`${s.check}: ${s.class}`];
  if (e.closeCode !== undefined) facts.push(`close code ${e.closeCode}${e.closeReason ? ` "${cutLine(e.closeReason, 120)}"` : ''}`);
  if (e.status !== undefined) facts.push(`HTTP ${e.status}`);
  if (e.step !== undefined) facts.push(`script step ${e.step}`);
  const source = s.class === 'build-failure' ? 'build stage' : s.class === 'deploy-failure' ? 'deploy stage' : 'smoke check';
  return { kind: 'symptom', source, text: `${facts.join(', ')}: ${cutLine(s.message, CHAIN_TEXT_MAX)}` };
}

function logSource(s: ChainSubject): string {
  if (s.class === 'build-failure') return 'build output';
  switch (s.evidence.logScope) {
    case 'check':
      return "service log, this check's window";
    case 'concurrent':
      return `service log, this check's window (shared with ${(s.evidence.logSharedWith ?? []).join(', ')})`;
    case 'revision':
      return "service log, the revision's tail (not tied to this check)";
    default:
      return 'service log';
  }
}

/** Whether a (relativized) log line names `frame`: `…/pipeline.mjs:47`, `pipeline.mjs", line 47`. */
function namesFrame(text: string, frame: SourceFrame): boolean {
  const file = frame.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[/\\s("'])${file}(:${frame.line}(?!\\d)|", line ${frame.line}(?!\\d))`).test(text);
}

/**
 * The record the chain quotes: the one holding the frame, else the first with an error line, else
 * the last naming the HTTP status the check saw, else the window's last (a server logs a request
 * once it has answered it).
 */
function pickRecord(lines: readonly string[], frame: SourceFrame | undefined, status: number | undefined): string[] | undefined {
  const recs = records(lines).map(textsOf);
  if (frame) {
    const own = recs.find((r) => r.some((l) => namesFrame(l, frame)));
    if (own) return own;
  }
  const erring = recs.find((r) => r.some((l) => ERROR_LINE.test(l)));
  if (erring) return erring;
  const code = status !== undefined ? new RegExp(`(^|[^\\d.:])${status}($|[^\\d.:])`) : undefined;
  return (code ? recs.filter((r) => r.some((l) => code.test(l))).at(-1) : undefined) ?? recs.at(-1);
}

/** Python's exception is the record's last unindented line; elsewhere the first line that reads as an error. */
function errorLine(rec: readonly string[]): string {
  if (isPythonRecord(rec)) {
    const last = [...rec].reverse().find((l) => l.trim() !== '' && !/^\s/.test(l));
    if (last) return last;
  }
  return rec.find((l) => ERROR_LINE.test(l)) ?? rec[0] ?? '';
}

function logLink(s: ChainSubject, frame: SourceFrame | undefined): ChainLink {
  const source = logSource(s);
  const tail = (s.evidence.logTail ?? []).filter((l) => !/^… \d+ (more lines|lines of this record)/.test(l));
  const rec = tail.length > 0 ? pickRecord(tail, frame, s.evidence.status) : undefined;
  if (!rec || rec.length === 0) {
    const where = s.evidence.logScope === 'revision' ? "no log line in the revision's tail" : 'no log line in the window';
    return { kind: 'log', source, text: where, missing: true };
  }
  const error = errorLine(rec);
  const head = rec[0]!;
  const text = error === head ? cutLine(head, CHAIN_TEXT_MAX) : `${cutLine(error, CHAIN_TEXT_MAX)} (the record starts: ${cutLine(head, CHAIN_TEXT_MAX)})`;
  return { kind: 'log', source, text };
}

function frameLink(s: ChainSubject): ChainLink {
  const frame = s.evidence.frame;
  if (frame) {
    return {
      kind: 'frame',
      source: 'build context',
      text: `${frame.file}:${frame.line}, the innermost frame in your source${frame.excerpt.length === 0 ? ' (the line could not be read from the build)' : ''}`,
      file: frame.file,
      line: frame.line,
      excerpt: frame.excerpt,
    };
  }
  const searched = s.evidence.frameSearched === true;
  const hasLog = (s.evidence.logTail ?? []).length > 0;
  const text = !hasLog
    ? 'no frame in your source: no log line to find one in'
    : searched
      ? 'no frame in your source: the log record names no file of the build context'
      : 'no frame in your source: this output was not searched for one';
  return { kind: 'frame', source: 'build context', text, missing: true };
}

/** `pipeline.mjs (+1 −1)`, `target.env.FAULT`, suite sentences: what a cycle's changes list. */
export function changeSubjects(c: CycleChanges): string[] {
  const files = c.files.map((f) => (f.binary ? `${f.path} (${f.status}, binary)` : f.status === 'modified' ? `${f.path} (+${f.added} −${f.removed})` : `${f.path} (${f.status}, +${f.added} −${f.removed})`));
  if (c.filesOmitted) files.push(`${c.filesOmitted} more files`);
  return [...files, ...c.inputs, ...c.suite];
}

const passing = (status: string): boolean => status === 'pass' || status === 'degraded';

/** The first later cycle in which the check passed, and what had changed before it, as its record says. */
export function fixLink(check: string, cycle: number, later: readonly CycleRecord[]): ChainLink | undefined {
  const sorted = later.filter((r) => r.cycle > cycle).sort((a, b) => a.cycle - b.cycle);
  for (const rec of sorted) {
    const own = rec.smoke.results.find((r) => r.name === check);
    if (!own || !passing(own.status)) continue;
    const source = `cycle ${rec.cycle} changes`;
    const c = rec.changes;
    if (!c) return { kind: 'fix', source, text: `passed in cycle ${rec.cycle}; that cycle recorded no changes to name`, missing: true };
    const subjects = changeSubjects(c);
    if (subjects.length === 0) return { kind: 'fix', source, text: `passed in cycle ${rec.cycle} with nothing changed since cycle ${c.sinceCycle}: not a fix (flaky)` };
    return { kind: 'fix', source, text: `passed in cycle ${rec.cycle} after these changes since cycle ${c.sinceCycle}: ${subjects.join(', ')}` };
  }
  return undefined;
}

/** The chain of one issue of cycle `cycle`; `later` are records after it (the fix link comes from them). */
export function buildChain(s: ChainSubject, cycle: number, later: readonly CycleRecord[] = []): EvidenceChain {
  const frame = s.evidence.frame;
  const chain: EvidenceChain = [symptomLink(s), logLink(s, frame), frameLink(s)];
  const fixed = fixLink(s.check, cycle, later);
  if (fixed) chain.push(fixed);
  return chain;
}

/** Reads source files for frames; undefined when the file cannot be read. */
export type ReadSource = (file: string) => string | undefined;

/**
 * Each failing result whose log window names a frame in the context gets `evidence.frame` (its
 * file:line and the lines around it, read with `read`) and `frameSearched`. `lines` must have their
 * build-copy paths mapped to `contextDir` already.
 */
export function withSourceFrames(results: readonly CheckResult[], contextDir: string, read: ReadSource): CheckResult[] {
  return results.map((r) => {
    const tail = r.failure?.evidence.logTail;
    if (!r.failure || !tail || tail.length === 0) return r;
    const found = innermostUserFrame(tail, contextDir);
    const evidence: Evidence = { ...r.failure.evidence, frameSearched: true };
    const text = found ? read(found.file) : undefined;
    const excerpt = found && text !== undefined ? excerptAround(text, found.line) : undefined;
    // A frame whose file cannot be read (removed, outside the copy) is still the frame; its excerpt is empty.
    if (found) evidence.frame = { file: found.file, line: found.line, excerpt: excerpt ?? [] };
    return { ...r, failure: { ...r.failure, evidence } };
  });
}
