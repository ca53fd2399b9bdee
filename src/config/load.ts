/**
 * Reads loop.config.yaml: YAML with positions, `${VAR}` interpolation from the environment, then the
 * zod schema. Every problem becomes a ConfigIssue naming file, line, column, field and what is expected.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, relative, resolve, dirname, sep } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { describeIssue, zodMessage } from './issues.js';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file. */
  file: string;
  /** Folder relative paths in the config are resolved against. */
  baseDir: string;
  /** Where each check is defined, by check name: `file:line`. */
  checkLocations: Record<string, string>;
}

export type Env = Record<string, string | undefined>;

export async function loadConfig(file: string, env: Env = process.env): Promise<LoadedConfig> {
  const abs = resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})`;
    throw new ConfigError(
      [{ file: abs, field: '', message: why }],
      'pass --config PATH, or create loop.config.yaml (deploy-loop init writes a commented one)',
    );
  }
  return parseConfigText(text, abs, env);
}

export function parseConfigText(text: string, file: string, env: Env = process.env): LoadedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const pos = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        if (e.code === 'DUPLICATE_KEY') {
          const path = pathOfKeyAt(doc.contents, e.pos[0], []) ?? [];
          const key = path[path.length - 1] ?? text.slice(e.pos[0]).split(/[:\s]/)[0];
          const field = formatPath(path);
          return { file, ...pos(e.pos[0]), field, message: `duplicate key "${key}": a key may appear only once in a mapping` };
        }
        return { file, ...pos(e.pos[0]), field: '', message: `YAML syntax: ${e.message.split('\n')[0]}` };
      }),
    );
  }
  const raw: unknown = doc.toJS();
  if (raw === null || raw === undefined) {
    throw new ConfigError([{ file, field: '', message: 'the file is empty; expected a mapping starting with apiVersion: deploy-loop/v1' }]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ file, line: 1, column: 1, field: '', message: 'expected a mapping (key: value) at the top level' }]);
  }

  const missing: ConfigIssue[] = [];
  const interpolated = interpolate(raw, [], env, (p, name) =>
    missing.push({
      file,
      ...pos(nodeAt(doc, p)?.range?.[0]),
      field: formatPath(p),
      message: `environment variable ${name} is not set (set it, or write \${${name}:-default})`,
    }),
  );
  if (missing.length > 0) throw new ConfigError(missing);

  // Messages set in the schema win; `zodMessage` only replaces zod's generic English.
  const parsed = configSchema.safeParse(interpolated, { error: zodMessage });
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((iss) => toConfigIssues(iss, interpolated, raw, doc, file, pos));
    throw new ConfigError(issues, 'deploy-loop schema prints the JSON Schema; the README lists every field');
  }
  const outside = reportsOutside(parsed.data.reports.dir, dirname(file), env);
  if (outside) throw new ConfigError([{ file, ...pos(nodeAt(doc, ['reports', 'dir'])?.range?.[0]), field: 'reports.dir', message: outside }]);
  const checkLocations: Record<string, string> = {};
  parsed.data.smoke.checks.forEach((c, i) => {
    const p = pos(nodeAt(doc, ['smoke', 'checks', i])?.range?.[0]);
    checkLocations[c.name] = p.line ? `${file}:${p.line}` : file;
  });
  return { config: parsed.data, file, baseDir: dirname(file), checkLocations };
}

type PathKey = string | number;

function nodeAt(doc: Document, path: PathKey[]): Node | undefined {
  // Walk down as far as the path exists: a missing key is reported at its parent.
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (node && typeof node === 'object' && 'range' in node) return node as Node;
  }
  return undefined;
}

/** For an unknown key, point at the key itself rather than the mapping holding it. */
function keyNodeAt(doc: Document, parent: PathKey[], key: string): Node | undefined {
  const map = parent.length === 0 ? doc.contents : doc.getIn(parent, true);
  if (!isMap(map)) return undefined;
  for (const pair of map.items) {
    if (isScalar(pair.key) && pair.key.value === key) return pair.key;
  }
  return undefined;
}

export function formatPath(path: readonly PathKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${k}` : k;
  return out;
}

/** Path of the key that starts at `offset` (a duplicate key's second occurrence). */
function pathOfKeyAt(node: unknown, offset: number, path: PathKey[]): PathKey[] | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) return [...path, key];
      const found = pathOfKeyAt(pair.value, offset, [...path, key]);
      if (found) return found;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const found = pathOfKeyAt(item, offset, [...path, i]);
      if (found) return found;
    }
  }
  return undefined;
}

function toConfigIssues(
  iss: z.core.$ZodIssue,
  data: unknown,
  raw: unknown,
  doc: Document,
  file: string,
  pos: (o: number | undefined) => { line?: number; column?: number },
): ConfigIssue[] {
  const path = iss.path.filter((k): k is PathKey => typeof k === 'string' || typeof k === 'number');
  if (iss.code === 'unrecognized_keys') {
    // One issue per key, each at the key's own line.
    return iss.keys.map((key) => ({
      file,
      ...pos((keyNodeAt(doc, path, key) ?? nodeAt(doc, path))?.range?.[0]),
      field: formatPath([...path, key]),
      message: describeIssue(iss, path, data, raw, key),
    }));
  }
  // A bad record key is pointed at the key, not at its value.
  const last = path[path.length - 1];
  const keyNode = iss.code === 'invalid_key' && typeof last === 'string' ? keyNodeAt(doc, path.slice(0, -1), last) : undefined;
  return [{ file, ...pos((keyNode ?? nodeAt(doc, path))?.range?.[0]), field: formatPath(path), message: describeIssue(iss, path, data, raw) }];
}

const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** Replaces `${VAR}` and `${VAR:-default}` in every string; `$${` stays a literal `${`. */
export function interpolate(
  value: unknown,
  path: PathKey[],
  env: Env,
  onMissing: (path: PathKey[], name: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (whole, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$${') return '${';
      const v = env[name as string];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      onMissing(path, name as string);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], env, onMissing));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, [...path, k], env, onMissing);
    return out;
  }
  return value;
}


/** Opt-in for a reports folder outside the config's folder (a shared CI artifacts path, say). */
export const REPORTS_OUTSIDE_ENV = 'DEPLOY_LOOP_REPORTS_OUTSIDE';

/**
 * The loop writes, replaces and locks files under reports.dir; a value that leaves the project
 * (`../../x`, `/etc`) would let a config overwrite files anywhere, so it is refused unless asked for.
 * Inside the config's folder or the working directory (a config in examples/ writing ./reports) is fine.
 */
function reportsOutside(dir: string, baseDir: string, env: Env): string | undefined {
  if (env[REPORTS_OUTSIDE_ENV] === '1') return undefined;
  const abs = resolve(baseDir, dir);
  const inside = (root: string): boolean => {
    const rel = relative(root, abs);
    return !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
  };
  if (inside(baseDir) || inside(process.cwd())) return undefined;
  return `"${dir}" resolves to ${abs}, outside the config's folder (${baseDir}) and the working directory; use a folder inside them, or set ${REPORTS_OUTSIDE_ENV}=1 to allow it`;
}
