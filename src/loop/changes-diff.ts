/**
 * A line diff for "Changes since cycle N": counts and a unified diff. The alignment is jsdiff's
 * (the `diff` package, Myers' O(ND) algorithm) on the lines left after the common prefix and suffix are
 * stripped; past MAX_EDITS (jsdiff's maxEditLength) the middle is reported as replaced whole, so a
 * rewritten file costs bounded time and memory and its counts are an upper bound that says so.
 * The hunks are printed here, from the same ops, so counts and diff cannot disagree.
 */
import { diffArrays } from 'diff';

export type Op = { kind: '=' | '-' | '+'; line: string };

export interface LineDiff {
  added: number;
  removed: number;
  ops: Op[];
  /** The middle was over MAX_EDITS and is shown as removed then added. */
  approximate: boolean;
}

const MAX_EDITS = 2000;
const CONTEXT = 3;

/** Lines as a diff sees them: a final newline does not make an empty last line. */
export function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

export function diffLines(a: readonly string[], b: readonly string[]): LineDiff {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  // With one side empty the whole-middle answer is exact; only a real alignment can run out of budget.
  const middle = start === endA || start === endB ? undefined : myers(a.slice(start, endA), b.slice(start, endB));
  const exact = middle !== undefined || start === endA || start === endB;
  const ops: Op[] = [
    ...a.slice(0, start).map((line) => ({ kind: '=' as const, line })),
    ...(middle ?? [...a.slice(start, endA).map((line) => ({ kind: '-' as const, line })), ...b.slice(start, endB).map((line) => ({ kind: '+' as const, line }))]),
    ...a.slice(endA).map((line) => ({ kind: '=' as const, line })),
  ];
  return {
    added: ops.filter((o) => o.kind === '+').length,
    removed: ops.filter((o) => o.kind === '-').length,
    ops,
    approximate: !exact,
  };
}

/** The shortest edit script from `a` to `b`, or undefined past MAX_EDITS. */
function myers(a: readonly string[], b: readonly string[]): Op[] | undefined {
  const parts = diffArrays([...a], [...b], { maxEditLength: MAX_EDITS });
  if (!parts) return undefined;
  return parts.flatMap((p) => p.value.map((line): Op => ({ kind: p.added ? '+' : p.removed ? '-' : '=', line })));
}

/** `@@ -l,s +l,s @@` hunks with CONTEXT lines around each change, as `diff -u` prints them. */
export function unifiedHunks(ops: readonly Op[]): string[] {
  const out: string[] = [];
  let i = 0;
  let lineA = 1;
  let lineB = 1;
  while (i < ops.length) {
    const next = ops.findIndex((o, j) => j >= i && o.kind !== '=');
    if (next === -1) break;
    const from = Math.max(i, next - CONTEXT);
    for (let j = i; j < from; j++) lineA++, lineB++;
    let end = next;
    // A hunk goes on while the next change is within 2 × CONTEXT unchanged lines.
    for (let j = next, quiet = 0; j < ops.length && quiet <= 2 * CONTEXT; j++) {
      if (ops[j]!.kind === '=') quiet++;
      else {
        quiet = 0;
        end = j;
      }
    }
    const to = Math.min(ops.length, end + 1 + CONTEXT);
    const body = ops.slice(from, to);
    const countA = body.filter((o) => o.kind !== '+').length;
    const countB = body.filter((o) => o.kind !== '-').length;
    out.push(`@@ -${countA === 0 ? lineA - 1 : lineA},${countA} +${countB === 0 ? lineB - 1 : lineB},${countB} @@`);
    for (const o of body) out.push(`${o.kind === '=' ? ' ' : o.kind}${o.line}`);
    lineA += countA;
    lineB += countB;
    i = to;
  }
  return out;
}
