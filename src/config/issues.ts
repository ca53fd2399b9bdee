/**
 * Turns zod issues into sentences for people editing loop.config.yaml: what is expected, what was
 * found, and for a misspelt key the closest allowed one. Messages written in the schema take
 * precedence; `zodMessage` only replaces zod's generic English ("Invalid input", "Too big: …").
 */
import type { z } from 'zod';
import { configSchema } from './schema.js';
import { isSecretHeader, redactText } from '../redact.js';

type PathKey = string | number;

/** Per-parse zod error map: a message for each issue the schema itself does not describe. */
export function zodMessage(iss: z.core.$ZodRawIssue): string | undefined {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${typeName(iss.expected)}`;
    case 'too_big': {
      const max = String(iss.maximum);
      if (iss.origin === 'array') return `expected at most ${max} item${max === '1' ? '' : 's'}`;
      if (iss.origin === 'string') return `expected at most ${max} characters`;
      return `expected ${iss.inclusive === false ? 'less than' : 'at most'} ${max}`;
    }
    case 'too_small': {
      const min = String(iss.minimum);
      if (iss.origin === 'array') return `expected at least ${min} item${min === '1' ? '' : 's'}`;
      if (iss.origin === 'string') return min === '1' ? 'expected a non-empty string' : `expected at least ${min} characters`;
      return `expected ${iss.inclusive === false ? 'more than' : 'at least'} ${min}`;
    }
    case 'invalid_value':
      return iss.values.length === 1
        ? `expected ${JSON.stringify(iss.values[0])}`
        : `expected one of ${iss.values.map((v) => String(v)).join(', ')}`;
    case 'invalid_union':
      return 'does not match any of the allowed forms';
    case 'invalid_format':
      return `expected the ${iss.format} format`;
    case 'invalid_key': {
      // zod's own text is "Invalid key in record", which names neither the key nor the rule.
      const key = JSON.stringify(String(iss.input));
      const rule = iss.issues[0]?.message;
      if (rule?.includes(key)) return rule;
      return `key ${key} is not valid${rule ? `: ${rule}` : ''}`;
    }
    default:
      return undefined;
  }
}

function typeName(expected: string): string {
  const names: Record<string, string> = {
    object: 'a mapping (key: value)',
    record: 'a mapping (key: value)',
    array: 'a list',
    tuple: 'a list',
    string: 'a string',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

/** A value as the message shows it: short, and in YAML's terms rather than JavaScript's. */
export function describeValue(v: unknown): string {
  if (v === null) return 'an empty value';
  // Redacted before the cut (src/redact.ts), and the length said when it is cut.
  if (typeof v === 'string') {
    const r = redactText(v);
    return r.length > 40 ? `${JSON.stringify(`${r.slice(0, 37)}...`)} (${v.length} characters)` : JSON.stringify(r);
  }
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : `a list of ${v.length}`;
  if (typeof v === 'object') {
    const keys = Object.keys(v as object);
    if (keys.length === 0) return 'an empty mapping';
    return `a mapping with ${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', …' : ''}`;
  }
  return String(v);
}

/**
 * The sentence for one issue. `data` is what was validated (after `${VAR}` interpolation), `raw` the
 * YAML as written; `key` names the unknown key for `unrecognized_keys`.
 */
export function describeIssue(iss: z.core.$ZodIssue, path: PathKey[], data: unknown, raw: unknown, key?: string): string {
  if (iss.code === 'unrecognized_keys') return describeUnknownKey(path, data, key ?? '');
  // The message names the key; the value under it is not what is wrong.
  if (iss.code === 'invalid_key') return iss.message;
  const parent = valueAt(data, path.slice(0, -1));
  const last = path[path.length - 1];
  const missing =
    last !== undefined && parent !== null && typeof parent === 'object' && !Object.hasOwn(parent as object, String(last));
  if (missing) return `required field "${String(last)}" is missing: ${iss.message}`;
  const value = valueAt(data, path);
  if (value === undefined) return iss.message;
  const written = valueAt(raw, path);
  // A value taken from the environment may be a secret: show the reference, not what it expanded to.
  // A credential field (an Authorization header, an API_TOKEN) is never shown at all.
  const mapName = path[path.length - 2];
  const credential = typeof last === 'string' && typeof mapName === 'string' && ['headers', 'env', 'buildArgs'].includes(mapName) && isSecretHeader(last);
  const shown = credential
    ? `a value of ${typeof value === 'string' ? value.length : '?'} characters, not shown: the field holds a credential`
    : typeof written === 'string' && written !== value
      ? `the expansion of ${describeValue(written)}`
      : describeValue(value);
  // Some messages (a duplicate check name) already quote the value.
  const quoted = typeof value === 'string' && iss.message.includes(shown);
  return quoted || iss.message.includes('(got ') ? iss.message : `${iss.message} (got ${shown})`;
}

function describeUnknownKey(path: PathKey[], data: unknown, key: string): string {
  const where = path.length > 0 ? formatFieldPath(path) : 'the top level';
  const allowed = allowedKeys(path, data);
  if (allowed.length === 0) return `unknown field "${key}" in ${where}`;
  const guess = closest(key, allowed);
  return `unknown field "${key}" in ${where}${guess ? ` (did you mean "${guess}"?)` : ''}; allowed: ${allowed.join(', ')}`;
}

function formatFieldPath(path: readonly PathKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${k}` : k;
  return out;
}

function valueAt(data: unknown, path: readonly PathKey[]): unknown {
  let v = data;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PathKey, unknown>)[k];
  }
  return v;
}

/** The parts of zod's schema definitions walked to find the keys an object allows. */
interface SchemaDef {
  type: string;
  shape?: Record<string, Walkable>;
  innerType?: Walkable;
  in?: Walkable;
  element?: Walkable;
  valueType?: Walkable;
  options?: readonly Walkable[];
  discriminator?: string;
  values?: readonly unknown[];
}
interface Walkable {
  _zod: { def: unknown };
}
const defOf = (s: Walkable) => s._zod.def as SchemaDef;

/** Keys the object at `path` allows, following the data to pick the branch of a union. */
export function allowedKeys(path: readonly PathKey[], data: unknown): string[] {
  let schema: Walkable | undefined = configSchema;
  let value = data;
  for (const k of [...path, undefined]) {
    schema = schema && unwrap(schema, value);
    if (!schema) return [];
    const def = defOf(schema);
    if (k === undefined) return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
    if (def.type === 'object') schema = def.shape?.[String(k)];
    else if (def.type === 'array') schema = def.element;
    else if (def.type === 'record') schema = def.valueType;
    else return [];
    value = value !== null && typeof value === 'object' ? (value as Record<PathKey, unknown>)[k] : undefined;
  }
  return [];
}

function unwrap(schema: Walkable, value: unknown): Walkable | undefined {
  let s: Walkable | undefined = schema;
  for (let i = 0; s && i < 20; i++) {
    const def = defOf(s);
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe') s = def.in;
    else if (def.type === 'union' && def.options) s = pickOption(def, value);
    else return s;
  }
  return s;
}

/** A discriminated union's option by the value's discriminator; else the first object option sharing a key. */
function pickOption(def: SchemaDef, value: unknown): Walkable | undefined {
  const obj = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const options = def.options ?? [];
  if (def.discriminator) {
    const want = obj[def.discriminator];
    return options.find((o) => {
      const d = defOf(o).shape?.[def.discriminator as string];
      return d !== undefined && (defOf(d).values ?? []).includes(want);
    });
  }
  const keys = Object.keys(obj);
  return options.find((o) => keys.some((k) => defOf(o).shape?.[k] !== undefined)) ?? options[0];
}

/** The allowed key within a small edit distance of the misspelt one (case-insensitive). */
function closest(key: string, allowed: readonly string[]): string | undefined {
  const limit = key.length <= 3 ? 1 : key.length <= 6 ? 2 : 3;
  let best: { key: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Levenshtein distance where swapping two neighbours counts as one edit ("prot" → "port"). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = best;
    }
  }
  return at(a.length, b.length);
}
