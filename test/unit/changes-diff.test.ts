import { describe, expect, it } from 'vitest';
import { diffLines, splitLines, unifiedHunks } from '../../src/loop/changes-diff.js';

/** Length of the longest common subsequence, by the textbook table: the minimum an edit script can keep. */
function lcs(a: string[], b: string[]): number {
  const t = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) t[i]![j] = a[i - 1] === b[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!);
  return t[a.length]![b.length]!;
}

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe('diffLines', () => {
  it('rebuilds both sides and keeps as many lines as the longest common subsequence (200 random pairs)', () => {
    const r = rng(7);
    for (let n = 0; n < 200; n++) {
      const a = Array.from({ length: Math.floor(r() * 12) }, () => 'abcd'[Math.floor(r() * 4)]!);
      const b = Array.from({ length: Math.floor(r() * 12) }, () => 'abcd'[Math.floor(r() * 4)]!);
      const d = diffLines(a, b);
      expect(d.ops.filter((o) => o.kind !== '+').map((o) => o.line)).toEqual(a);
      expect(d.ops.filter((o) => o.kind !== '-').map((o) => o.line)).toEqual(b);
      expect(d.ops.filter((o) => o.kind === '=').length).toBe(lcs(a, b));
      expect(d.added).toBe(b.length - lcs(a, b));
      expect(d.removed).toBe(a.length - lcs(a, b));
      expect(d.approximate).toBe(false);
    }
  });

  it('counts a one-line change as +1 −1 and prints the hunk diff -u prints', () => {
    const a = splitLines('1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n');
    const b = splitLines('1\n2\n3\n4\n5\nsix\n7\n8\n9\n10\n');
    const d = diffLines(a, b);
    expect([d.added, d.removed]).toEqual([1, 1]);
    expect(unifiedHunks(d.ops)).toEqual(['@@ -3,7 +3,7 @@', ' 3', ' 4', ' 5', '-6', '+six', ' 7', ' 8', ' 9']);
  });

  it('splits changes more than six unchanged lines apart into two hunks, and numbers an added file from 0', () => {
    const a = Array.from({ length: 20 }, (_, i) => String(i + 1));
    const b = a.map((l) => (l === '2' || l === '18' ? `${l}!` : l));
    expect(unifiedHunks(diffLines(a, b).ops).filter((l) => l.startsWith('@@'))).toEqual(['@@ -1,5 +1,5 @@', '@@ -15,6 +15,6 @@']);
    expect(unifiedHunks(diffLines([], ['x', 'y']).ops)).toEqual(['@@ -0,0 +1,2 @@', '+x', '+y']);
  });

  it('past its edit budget counts the differing middle as replaced whole and says so', () => {
    const a = Array.from({ length: 3000 }, (_, i) => `a${i}`);
    const b = Array.from({ length: 3000 }, (_, i) => `b${i}`);
    const d = diffLines(['same', ...a, 'end'], ['same', ...b, 'end']);
    expect(d).toMatchObject({ added: 3000, removed: 3000, approximate: true });
  });
});
