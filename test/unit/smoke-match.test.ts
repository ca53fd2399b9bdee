import { describe, expect, it } from 'vitest';
import { formatMismatches, matchJson } from '../../src/smoke/match.js';

interface Case {
  what: string;
  expected: unknown;
  actual: unknown;
  ok: boolean;
  /** Substrings of the mismatch description, in order. */
  says?: string[];
}

const cases: Case[] = [
  { what: 'equal scalars', expected: 'ok', actual: 'ok', ok: true },
  { what: 'different strings', expected: 'ok', actual: 'degraded', ok: false, says: ['$: expected "ok" (string), got "degraded" (string)'] },
  { what: 'number vs numeric string', expected: 1, actual: '1', ok: false, says: ['expected 1 (number), got "1" (string)'] },
  { what: 'string vs number', expected: '1', actual: 1, ok: false, says: ['expected "1" (string), got 1 (number)'] },
  { what: 'integer vs float of same value', expected: 2, actual: 2.0, ok: true },
  { what: 'different numbers', expected: 2, actual: 2.5, ok: false, says: ['expected 2 (number), got 2.5 (number)'] },
  { what: 'boolean vs string', expected: true, actual: 'true', ok: false, says: ['expected true (boolean), got "true" (string)'] },
  { what: 'null matches null', expected: null, actual: null, ok: true },
  { what: 'null vs 0', expected: null, actual: 0, ok: false, says: ['expected null, got 0 (number)'] },
  { what: 'null vs missing key', expected: { a: null }, actual: {}, ok: false, says: ['$.a: missing, expected null'] },
  { what: 'value vs null', expected: { a: 1 }, actual: { a: null }, ok: false, says: ['$.a: expected 1 (number), got null'] },
  { what: 'object subset with extra keys', expected: { status: 'ok' }, actual: { status: 'ok', version: 3 }, ok: true },
  { what: 'empty object matches any object', expected: {}, actual: { a: 1 }, ok: true },
  { what: 'object vs array', expected: {}, actual: [], ok: false, says: ['$: expected an object, got []'] },
  { what: 'object vs null', expected: { a: 1 }, actual: null, ok: false, says: ['$: expected an object, got null'] },
  { what: 'nested objects', expected: { db: { ok: true, pool: { size: 5 } } }, actual: { db: { ok: true, pool: { size: 5, idle: 2 } } }, ok: true },
  {
    what: 'nested mismatch names the path',
    expected: { db: { pool: { size: 5 } } },
    actual: { db: { pool: { size: 4 } } },
    ok: false,
    says: ['$.db.pool.size: expected 5 (number), got 4 (number)'],
  },
  { what: 'missing nested key', expected: { db: { ok: true } }, actual: { db: {} }, ok: false, says: ['$.db.ok: missing, expected true (boolean)'] },
  { what: 'keys that are not identifiers are quoted', expected: { 'content-type': 'x' }, actual: {}, ok: false, says: ['$["content-type"]: missing'] },
  { what: 'array prefix by index', expected: [1, 2], actual: [1, 2, 3], ok: true },
  { what: 'array order matters', expected: [1, 2], actual: [2, 1], ok: false, says: ['$[0]: expected 1 (number), got 2 (number)', '$[1]: expected 2'] },
  { what: 'array too short', expected: [1, 2, 3], actual: [1, 2], ok: false, says: ['$: expected at least 3 element(s), got 2'] },
  { what: 'empty array only requires an array', expected: [], actual: [9, 8], ok: true },
  { what: 'array vs object', expected: [], actual: {}, ok: false, says: ['$: expected an array, got {}'] },
  { what: 'objects inside arrays are subsets', expected: { items: [{ id: 1 }] }, actual: { items: [{ id: 1, name: 'a' }, { id: 2 }] }, ok: true },
  { what: 'mismatch inside an array element', expected: { items: [{ id: 1 }, { id: 3 }] }, actual: { items: [{ id: 1 }, { id: 2 }] }, ok: false, says: ['$.items[1].id: expected 3 (number), got 2 (number)'] },
];

describe('matchJson', () => {
  it.each(cases)('$what', ({ expected, actual, ok, says }) => {
    const result = matchJson(expected, actual);
    expect(result.ok).toBe(ok);
    expect(result.mismatches.length === 0).toBe(ok);
    const text = formatMismatches(result.mismatches);
    let from = 0;
    for (const s of says ?? []) {
      const at = text.indexOf(s, from);
      expect(at, `"${s}" in:\n${text}`).toBeGreaterThanOrEqual(0);
      from = at + s.length;
    }
  });

  it('reports every mismatch in document order, one line each', () => {
    const r = matchJson({ a: 1, b: { c: 'x' }, d: [true] }, { a: 2, b: { c: 'y' }, d: [false] });
    expect(r.mismatches.map((m) => m.path)).toEqual(['$.a', '$.b.c', '$.d[0]']);
    expect(formatMismatches(r.mismatches).split('\n')).toHaveLength(3);
  });

  it('caps the number of mismatches so a huge document gives a short diff', () => {
    const expected = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, i]));
    const r = matchJson(expected, {});
    expect(r.ok).toBe(false);
    expect(r.mismatches).toHaveLength(10);
  });

  it('shortens long values in the description', () => {
    const long = 'x'.repeat(500);
    const r = matchJson({ a: 'short' }, { a: long });
    expect(r.mismatches[0]?.actual.length).toBeLessThanOrEqual(80);
    expect(r.mismatches[0]?.message.length).toBeLessThan(200);
  });
});
