/**
 * Small pure helpers for the report renderers. Everything that puts outside text (check output,
 * server messages, log lines) into markdown goes through here, so that text can never break a
 * table, a code span or a fence.
 */

/** `12 ms`, `1.23 s`, `2 min 5 s`; `—` when there is no figure. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  if (ms < 10) return `${trimZeros(ms.toFixed(1))} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${trimZeros((ms / 1000).toFixed(2))} s`;
  if (ms < 60_000) return `${trimZeros((ms / 1000).toFixed(1))} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** `75%`, `66.7%`; `—` for a priority without checks. */
export function formatPercent(percent: number | null | undefined): string {
  if (percent === null || percent === undefined || !Number.isFinite(percent)) return '—';
  return `${trimZeros(percent.toFixed(1))}%`;
}

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

// ANSI escape sequences (colours, cursor moves) carry no meaning in a report; CSI and OSC forms.
const ANSI = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)/g;
// C0 controls other than tab and newline, DEL and the C1 range.
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
// The same class, unflagged for `test`: ESC (ANSI) and CR fall inside it, so without a match cleanText changes nothing.
const HAS_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
// What escapeText changes: markdown punctuation, a newline (collapsed) or a control character.
const MARKDOWN_SPECIAL = /[\\`*_[\]<>&~\u0000-\u001f\u007f-\u009f]/;

/**
 * Removes ANSI sequences, turns CR/CRLF into newlines (progress bars rewrite a line with CR) and
 * shows any other control character as `\xNN`, so what was measured stays visible.
 */
export function cleanText(text: string): string {
  // Most text (names, kinds, statuses) has no control character, so nothing to clean: skip the passes.
  if (!HAS_CONTROL.test(text)) return text;
  return text
    .replace(ANSI, '')
    .replace(/\r\n?/g, '\n')
    .replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** One line of plain markdown text: newlines collapsed, markdown punctuation escaped. */
export function escapeText(text: string): string {
  if (!MARKDOWN_SPECIAL.test(text) && !/^[#+=-]/.test(text)) return text;
  const oneLine = cleanText(text).replace(/\s*\n\s*/g, ' ');
  // Pipes are left alone here: renderTable escapes every pipe of a cell, once.
  return oneLine.replace(/[\\`*_[\]<>&~]/g, '\\$&').replace(/^([#+=-])/, '\\$1');
}

/** A code span that its content cannot close early: the fence is longer than any backtick run inside. */
export function inlineCode(text: string): string {
  const oneLine = cleanText(text).replace(/\n/g, ' ');
  if (oneLine === '') return '""';
  const fence = '`'.repeat(longestRun(oneLine, '`') + 1);
  // CommonMark strips one space from each end when both ends have one; pad so that restores it.
  const needsPad =
    oneLine.startsWith('`') || oneLine.endsWith('`') || (oneLine.startsWith(' ') && oneLine.endsWith(' ') && oneLine.trim() !== '');
  const pad = needsPad ? ' ' : '';
  return `${fence}${pad}${oneLine}${pad}${fence}`;
}

/** A fenced code block that its content cannot close: the fence is longer than any backtick run inside. */
export function fence(content: string, info = 'text'): string {
  const body = cleanText(content).replace(/\n+$/, '');
  const marker = '`'.repeat(Math.max(3, longestRun(body, '`') + 1));
  return `${marker}${info}\n${body}\n${marker}`;
}

function longestRun(text: string, ch: string): number {
  let best = 0;
  let run = 0;
  for (const c of text) {
    run = c === ch ? run + 1 : 0;
    if (run > best) best = run;
  }
  return best;
}

export type Align = 'left' | 'right';

/**
 * A GitHub-flavoured markdown table. Cells are markdown already (escaped text, code spans); every
 * pipe is escaped here, which GitHub honours even inside code spans, and newlines become spaces.
 */
export function renderTable(headers: string[], rows: string[][], align: Align[] = []): string {
  const cell = (s: string): string => (/[\n|]/.test(s) ? s.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|') : s).trim();
  const line = (cells: string[]): string => `| ${cells.map(cell).join(' | ')} |`;
  const rule = headers.map((_, i) => (align[i] === 'right' ? '---:' : '---'));
  const body = rows.map((r) => line(headers.map((_, i) => r[i] ?? '')));
  return [line(headers), `| ${rule.join(' | ')} |`, ...body].join('\n');
}

/** An argument list as a person would type it: plain words as they are, anything else single-quoted. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** `a`, `a and b`, `a, b and c`. */
export function joinWords(words: readonly string[]): string {
  if (words.length <= 1) return words.join('');
  return `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** `1 check`, `2 checks`. */
export function plural(n: number, word: string, pluralWord = `${word}s`): string {
  return `${n} ${n === 1 ? word : pluralWord}`;
}
