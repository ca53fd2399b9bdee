/**
 * A line diff for "Changes since cycle N": counts and a unified diff. Hand-written because no diff
 * package is installed in this project (the `diff` package would do; adding a dependency is the
 * lead's call). Myers' O(ND) algorithm (1986) on the lines left after the common prefix and suffix
 * are stripped; past MAX_EDITS the middle is reported as replaced whole, so a rewritten file costs
 * bounded time and memory and its counts are still an upper bound that says so.
 */

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
  const n = a.length;
  const m = b.length;
  const max = Math.min(n + m, MAX_EDITS);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!) ? v[offset + k + 1]! : v[offset + k - 1]! + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, offset, d);
    }
  }
  return undefined;
}

/** Walks the saved frontiers back from (n, m) to (0, 0), collecting the script. */
function backtrack(trace: Int32Array[], a: readonly string[], b: readonly string[], offset: number, dEnd: number): Op[] {
  const ops: Op[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d--) {
    const v = trace[d]!;
    const k = x - y;
    const down = k === -d || (k !== d && v[offset + k - 1]! < v[offset + k + 1]!);
    const prevK = down ? k + 1 : k - 1;
    const prevX = v[offset + prevK]!;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) ops.push({ kind: '=', line: a[--x]! } satisfies Op), y--;
    if (down) ops.push({ kind: '+', line: b[--y]! });
    else ops.push({ kind: '-', line: a[--x]! });
  }
  while (x > 0 && y > 0) ops.push({ kind: '=', line: a[--x]! } satisfies Op), y--;
  return ops.reverse();
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
