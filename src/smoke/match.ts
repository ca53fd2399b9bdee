/**
 * JSON subset matching for `expect.json`, with a readable account of every difference.
 *
 * Rules (documented in the config reference):
 * - objects: every expected key must be present in the actual object and match recursively; extra
 *   actual keys are fine;
 * - arrays: matched element-wise by index for the expected length (expected `[a, b]` matches actual
 *   `[a', b', c]` when a ⊆ a' and b ⊆ b'); order matters, extra actual elements are fine. Write
 *   `[]` to only require an array;
 * - scalars (string, number, boolean, null): strictly equal, so `1` does not match `"1"` and `null`
 *   matches only `null`, never a missing key.
 */

export interface Mismatch {
  /** Where in the document, as a JSONPath-like string: `$.items[0].id`. */
  path: string;
  expected: string;
  actual: string;
  /** One line a person reads: `$.user.id: expected 42 (number), got "42" (string)`. */
  message: string;
}

export interface MatchResult {
  ok: boolean;
  /** The differences found, in document order, at most `MAX_MISMATCHES`. */
  mismatches: Mismatch[];
}

const MAX_MISMATCHES = 10;
const MAX_VALUE_CHARS = 80;

type Kind = 'object' | 'array' | 'null' | 'string' | 'number' | 'boolean' | 'missing' | 'other';

function kindOf(v: unknown): Kind {
  if (v === undefined) return 'missing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  const t = typeof v;
  if (t === 'object') return 'object';
  if (t === 'string' || t === 'number' || t === 'boolean') return t;
  return 'other';
}

/** A short rendering of a value for a message. */
export function renderValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS - 1)}…` : s;
}

function describe(v: unknown): string {
  const k = kindOf(v);
  if (k === 'missing') return 'nothing (key missing)';
  if (k === 'object' || k === 'array' || k === 'null') return renderValue(v);
  return `${renderValue(v)} (${k})`;
}

function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function walk(expected: unknown, actual: unknown, path: string, out: Mismatch[]): void {
  if (out.length >= MAX_MISMATCHES) return;
  const ek = kindOf(expected);
  const ak = kindOf(actual);
  const push = (message: string): void => {
    out.push({ path, expected: renderValue(expected), actual: renderValue(actual), message: `${path}: ${message}` });
  };

  if (ek === 'object') {
    if (ak !== 'object') return push(`expected an object, got ${describe(actual)}`);
    const a = actual as Record<string, unknown>;
    for (const [key, value] of Object.entries(expected as Record<string, unknown>)) {
      if (!Object.hasOwn(a, key)) {
        const p = childPath(path, key);
        out.push({ path: p, expected: renderValue(value), actual: 'nothing', message: `${p}: missing, expected ${describe(value)}` });
        if (out.length >= MAX_MISMATCHES) return;
        continue;
      }
      walk(value, a[key], childPath(path, key), out);
    }
    return;
  }
  if (ek === 'array') {
    if (ak !== 'array') return push(`expected an array, got ${describe(actual)}`);
    const e = expected as unknown[];
    const a = actual as unknown[];
    if (a.length < e.length) return push(`expected at least ${e.length} element(s), got ${a.length}`);
    e.forEach((value, i) => walk(value, a[i], childPath(path, i), out));
    return;
  }
  // Scalars: strict equality, and the type is named so `1` vs `"1"` is obvious.
  if (ek !== ak || expected !== actual) push(`expected ${describe(expected)}, got ${describe(actual)}`);
}

/** Does `actual` contain `expected` (see the rules above)? */
export function matchJson(expected: unknown, actual: unknown): MatchResult {
  const mismatches: Mismatch[] = [];
  walk(expected, actual, '$', mismatches);
  return { ok: mismatches.length === 0, mismatches };
}

/** The mismatches as one line each, for a failure message or `Evidence.actual`. */
export function formatMismatches(mismatches: Mismatch[]): string {
  return mismatches.map((m) => m.message).join('\n');
}
