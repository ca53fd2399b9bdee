/**
 * Reads loop.config.yaml: YAML with positions, `${VAR}` interpolation from the environment, then the
 * zod schema. Every problem becomes a ConfigIssue naming file, line, column, field and what is expected.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve, dirname, sep, parse as parsePath } from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { configSchema, type Config } from './schema.js';
import { describeIssue, zodMessage } from './issues.js';
import { decodeConfigText, nestingIssue, readConfigBytes } from './text.js';
import { collectSecrets, isSecretName, rememberSecrets } from '../redact.js';

/** Aliases expanded per document: a config needs a handful; a "billion laughs" file needs millions. */
export const MAX_ALIASES = 100;

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the config file. */
  file: string;
  /** Folder relative paths in the config are resolved against. */
  baseDir: string;
  /** Where each check is defined, by check name: `file:line`. */
  checkLocations: Record<string, string>;
  /** Where build.context is written (or the build section, for the default). */
  contextLocation?: { line?: number; column?: number };
}

export type Env = Record<string, string | undefined>;

/**
 * Reads and validates a config file: bounded in size and time whatever the file holds, and every
 * problem a ConfigError (exit 2) naming file, line, field and fix. The config's secrets are
 * remembered for redaction (src/redact.ts) each time a config is loaded.
 */
export interface LoadOptions {
  /**
   * Also check the paths the config names exist (build.context): for `validate`. Off for the loop
   * and `report`, where a context created later (the demo's) or a build error in the record is fine.
   */
  checkPaths?: boolean;
}

export async function loadConfig(file: string, env: Env = process.env, opts: LoadOptions = {}): Promise<LoadedConfig> {
  const abs = resolve(file);
  const read = await readConfigBytes(abs, env);
  if (!read.ok) throw new ConfigError([{ file: abs, ...read.issue }], read.hint);
  const decoded = decodeConfigText(read.bytes);
  if (!decoded.ok) throw new ConfigError([{ file: abs, ...decoded.issue }]);
  const loaded = parseConfigText(decoded.text, abs, env);
  if (opts.checkPaths) {
    const missing = await missingBuildContext(loaded);
    if (missing) throw new ConfigError([missing]);
  }
  return loaded;
}

export function parseConfigText(text: string, file: string, env: Env = process.env): LoadedConfig {
  const tooDeep = nestingIssue(text);
  if (tooDeep) throw new ConfigError([{ file, ...tooDeep }]);
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
        if (e.code === 'RESOURCE_EXHAUSTION') return { file, ...pos(e.pos[0]), field: '', message: 'the YAML is nested too deeply to parse; a deploy-loop config needs fewer than 10 levels' };
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
  const structural = structuralIssue(doc, file, pos);
  if (structural) throw new ConfigError([structural]);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    throw new ConfigError([aliasIssue(doc, err, file, pos)]);
  }
  if (raw === null || raw === undefined) {
    throw new ConfigError([{ file, field: '', message: 'the file is empty; expected a mapping starting with apiVersion: deploy-loop/v1' }]);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError([{ file, line: 1, column: 1, field: '', message: 'expected a mapping (key: value) at the top level' }]);
  }

  const missing: ConfigIssue[] = [];
  const expandedSecrets: string[] = [];
  const interpolated = interpolate(
    raw,
    [],
    env,
    (p, name) =>
      missing.push({
        file,
        ...pos(nodeAt(doc, p)?.range?.[0]),
        field: formatPath(p),
        message: `environment variable ${name} is not set (set it, or write \${${name}:-default})`,
      }),
    // `--api-key ${AGENT_KEY}`: a value taken from a secret-named variable is a secret wherever it lands.
    (name, value) => {
      if (isSecretName(name)) expandedSecrets.push(value);
    },
  );
  rememberSecrets(expandedSecrets);
  if (missing.length > 0) throw new ConfigError(missing);
  const nul = nulIssue(interpolated, [], doc, file, pos);
  if (nul) throw new ConfigError([nul]);

  // Messages set in the schema win; `zodMessage` only replaces zod's generic English.
  const parsed = configSchema.safeParse(interpolated, { error: zodMessage });
  if (!parsed.success) {
    const issues = parsed.error.issues.flatMap((iss) => toConfigIssues(iss, interpolated, raw, doc, file, pos));
    throw new ConfigError(issues, 'deploy-loop schema prints the JSON Schema; the README lists every field');
  }
  collectSecrets(parsed.data, expandedSecrets);
  const outside = reportsOutside(parsed.data.reports.dir, dirname(file), env);
  if (outside) throw new ConfigError([{ file, ...pos(nodeAt(doc, ['reports', 'dir'])?.range?.[0]), field: 'reports.dir', message: outside }]);
  const context = contextIssue(parsed.data, dirname(file));
  if (context) throw new ConfigError([{ file, ...pos(nodeAt(doc, ['build', 'context'])?.range?.[0]), field: 'build.context', message: context }]);
  const checkLocations: Record<string, string> = {};
  parsed.data.smoke.checks.forEach((c, i) => {
    const p = pos(nodeAt(doc, ['smoke', 'checks', i])?.range?.[0]);
    checkLocations[c.name] = p.line ? `${file}:${p.line}` : file;
  });
  return { config: parsed.data, file, baseDir: dirname(file), checkLocations, contextLocation: pos(nodeAt(doc, ['build', 'context'])?.range?.[0]) };
}

type Pos = (offset: number | undefined) => { line?: number; column?: number };

/** Merge keys (which YAML 1.2 dropped) and anything else the parser accepts but the loader cannot honour. */
function structuralIssue(doc: Document, file: string, pos: Pos): ConfigIssue | undefined {
  const stack: { node: unknown; path: PathKey[] }[] = [{ node: doc.contents, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop() as { node: unknown; path: PathKey[] };
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : '?';
        if (isScalar(pair.key) && pair.key.value === '<<') {
          return {
            file,
            ...pos(pair.key.range?.[0]),
            field: formatPath([...path, '<<']),
            message: 'merge keys (<<) are not supported (YAML 1.2 has none): write the keys out, or anchor the whole mapping (&name) and reuse it as *name',
          };
        }
        stack.push({ node: pair.value, path: [...path, key] });
      }
    } else if (isSeq(node)) node.items.forEach((item, i) => stack.push({ node: item, path: [...path, i] }));
  }
  return undefined;
}

/** The YAML library's alias errors (an undefined alias, an alias bomb), at the first alias concerned. */
function aliasIssue(doc: Document, err: unknown, file: string, pos: Pos): ConfigIssue {
  const message = err instanceof Error ? err.message : String(err);
  const aliases: { source: string; offset: number | undefined; path: PathKey[] }[] = [];
  const stack: { node: unknown; path: PathKey[] }[] = [{ node: doc.contents, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop() as { node: unknown; path: PathKey[] };
    if (isAlias(node)) aliases.push({ source: node.source, offset: node.range?.[0], path });
    else if (isMap(node)) for (const pair of node.items) stack.push({ node: pair.value, path: [...path, isScalar(pair.key) ? String(pair.key.value) : '?'] });
    else if (isSeq(node)) node.items.forEach((item, i) => stack.push({ node: item, path: [...path, i] }));
  }
  aliases.sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0));
  const unresolved = /Unresolved alias[^:]*: (.*)$/.exec(message);
  if (unresolved) {
    const name = unresolved[1] ?? '';
    const at = aliases.find((a) => a.source === name) ?? aliases[0];
    return { file, ...pos(at?.offset), field: formatPath(at?.path ?? []), message: `alias *${name} refers to no anchor: define &${name} before it is used` };
  }
  if (/Excessive alias count/.test(message)) {
    return {
      file,
      ...pos(aliases[0]?.offset),
      field: formatPath(aliases[0]?.path ?? []),
      message: `the aliases expand to more than ${MAX_ALIASES} copies (a "billion laughs" file); a config needs only a few: write the values out`,
    };
  }
  return { file, field: '', message: `YAML: ${message.split('\n')[0]}` };
}

/** A NUL (a "\0" escape, or one from the environment) would crash path and process calls later. */
function nulIssue(value: unknown, path: PathKey[], doc: Document, file: string, pos: Pos): ConfigIssue | undefined {
  if (typeof value === 'string') {
    if (!value.includes('\u0000')) return undefined;
    return { file, ...pos(nodeAt(doc, path)?.range?.[0]), field: formatPath(path), message: 'contains a NUL character ("\\0", or from a ${VAR}): paths, names, arguments and headers cannot hold one; remove it' };
  }
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) {
      const found = nulIssue(v, [...path, i], doc, file, pos);
      if (found) return found;
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const found = k.includes('\u0000')
        ? { file, ...pos(nodeAt(doc, path)?.range?.[0]), field: formatPath([...path, k]), message: 'a key contains a NUL character; remove it' }
        : nulIssue(v, [...path, k], doc, file, pos);
      if (found) return found;
    }
  }
  return undefined;
}

/** Build contexts that would copy far more than a service: the filesystem root. */
function contextIssue(config: Config, baseDir: string): string | undefined {
  const context = (config.build as { context?: string }).context;
  if (context === undefined) return undefined;
  const abs = resolve(baseDir, context);
  if (abs === parsePath(abs).root) {
    return `"${context}" resolves to ${abs}, the filesystem root: every cycle would copy the whole machine; point build.context at your service's folder`;
  }
  return undefined;
}

/** A build.context folder that does not exist fails the first build; `validate` says so first. */
async function missingBuildContext(loaded: LoadedConfig): Promise<ConfigIssue | undefined> {
  const context = (loaded.config.build as { context?: string }).context;
  if (context === undefined) return undefined;
  const abs = resolve(loaded.baseDir, context);
  const st = await stat(abs).catch(() => undefined);
  if (st?.isDirectory()) return undefined;
  const what = st ? 'is not a folder' : 'does not exist';
  return {
    file: loaded.file,
    ...(loaded.contextLocation ?? {}),
    field: 'build.context',
    message: `"${context}" (${abs}) ${what}: create it, or set build.context to your service's folder, relative to the config file`,
  };
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
  onExpand?: (name: string, value: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(VAR, (whole, name: string | undefined, fallback: string | undefined) => {
      if (whole === '$${') return '${';
      const v = env[name as string];
      if (v !== undefined && v !== '') {
        onExpand?.(name as string, v);
        return v;
      }
      if (fallback !== undefined) return fallback;
      onMissing(path, name as string);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...path, i], env, onMissing, onExpand));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, [...path, k], env, onMissing, onExpand);
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
