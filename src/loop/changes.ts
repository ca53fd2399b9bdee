/**
 * What changed between two cycles' deploys, for every builder: the build context's files (from the
 * manifests of build/manifest.ts, so no git is needed), the commit range when the context is a git
 * work tree, the deploy inputs (their HMAC fields) and the suite (its integrity changes).
 */
import { join, resolve } from 'node:path';
import { ChangeStore, takeManifest, type ContextManifest, type ManifestEntry } from '../build/manifest.js';
import type { LoadedConfig } from '../config/load.js';
import { runCommand } from '../exec.js';
import type { Logger } from '../log.js';
import type { CycleChanges, FileChange } from '../model/changes.js';
import type { CycleRecord, SuiteIntegrity } from '../model/record.js';
import { redactText } from '../redact.js';
import { changedInputs } from '../report/flaky.js';
import { diffLines, splitLines, unifiedHunks } from './changes-diff.js';

/** Characters of unified diff a record keeps (after redaction). */
export const DIFF_BUDGET = 16_000;
/** Changed files listed; the rest are counted in filesOmitted. */
export const FILES_LISTED = 200;
const COMMITS_LISTED = 20;

/** The context folder and what is left out of it, as the build sees it, for any build kind. */
export function manifestOptions(loaded: LoadedConfig): Parameters<typeof takeManifest>[2] {
  const { config, baseDir, file } = loaded;
  const context = config.build.context;
  const exclude = config.build.kind === 'command' ? config.build.exclude : [];
  const reportsDir = resolve(baseDir, config.reports.dir);
  return { root: resolve(baseDir, context), context, exclude, alwaysExclude: [join(baseDir, '.deploy-loop'), file, reportsDir] };
}

/**
 * Lists this cycle's build context into the store before the build. Never fails the cycle: a
 * context that cannot be listed (missing, unreadable) is the build's to report; here it only means
 * no changes are recorded against this cycle.
 */
export async function recordContext(loaded: LoadedConfig, reportsDir: string, cycle: number, log: Logger): Promise<ContextManifest | undefined> {
  const store = new ChangeStore(reportsDir);
  const opts = manifestOptions(loaded);
  try {
    const manifest = await takeManifest(store, cycle, opts);
    const head = await gitHead(opts.root);
    if (head) manifest.gitHead = head;
    await store.writeManifest(manifest);
    await store.prune();
    return manifest;
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'could not list the build context for "Changes since": no changes recorded for this cycle');
    return undefined;
  }
}

/** HEAD of the git work tree holding `root`, if it is one (git run only through exec.ts). */
async function gitHead(root: string): Promise<string | undefined> {
  const r = await runCommand(['git', '-C', root, 'rev-parse', 'HEAD'], { timeoutMs: 10_000, tailLines: 2 });
  const line = r.outputTail.at(-1)?.trim() ?? '';
  return r.ok && /^[0-9a-f]{40,64}$/.test(line) ? line : undefined;
}

async function commitSubjects(root: string, from: string, to: string): Promise<string[]> {
  const r = await runCommand(['git', '-C', root, 'log', `--max-count=${COMMITS_LISTED}`, '--format=%h %s', `${from}..${to}`], { timeoutMs: 10_000, tailLines: COMMITS_LISTED });
  return r.ok ? r.outputTail.filter((l) => l.trim() !== '') : [];
}

export interface ChangesInput {
  reportsDir: string;
  /** The cycle compared with (the previous record) and the current one (deploy inputs filled in). */
  previous: CycleRecord;
  current: CycleRecord;
  manifest: ContextManifest;
  integrity: SuiteIntegrity;
  /** Absolute context folder, for git. */
  root: string;
  secrets: readonly string[];
}

/** record.changes against the previous cycle; undefined when that cycle left no manifest. */
export async function changesSince(input: ChangesInput): Promise<CycleChanges | undefined> {
  const { previous, current, manifest } = input;
  const store = new ChangeStore(input.reportsDir);
  const before = await store.readManifest(previous.cycle);
  if (!before) return undefined;
  const files = await diffManifests(store, before, manifest);
  const changes: CycleChanges = {
    sinceCycle: previous.cycle,
    contextDigestBefore: before.digest,
    contextDigestAfter: manifest.digest,
    files: files.map((f) => f.change).slice(0, FILES_LISTED),
    ...cutDiff(files.map((f) => f.diff).filter((d) => d !== '').join('\n'), input.secrets),
    inputs: changedInputs(previous, current),
    suite: input.integrity.comparedWithCycle === previous.cycle ? input.integrity.changes.map((c) => c.text) : [],
  };
  if (files.length > FILES_LISTED) changes.filesOmitted = files.length - FILES_LISTED;
  if (before.gitHead && manifest.gitHead && before.gitHead !== manifest.gitHead) {
    changes.commits = { from: before.gitHead, to: manifest.gitHead, subjects: (await commitSubjects(input.root, before.gitHead, manifest.gitHead)).map((s) => redactText(s, input.secrets)) };
  }
  return changes;
}

/** Redacted first, then cut at a line end: a cut can never leave part of a secret. */
function cutDiff(diff: string, secrets: readonly string[]): { diff: string; diffTruncated: boolean } {
  const redacted = redactText(diff, secrets);
  if (redacted.length <= DIFF_BUDGET) return { diff: redacted, diffTruncated: false };
  const end = redacted.lastIndexOf('\n', DIFF_BUDGET);
  return { diff: redacted.slice(0, end > 0 ? end : DIFF_BUDGET), diffTruncated: true };
}

interface DiffedFile {
  change: FileChange;
  diff: string;
}

export async function diffManifests(store: ChangeStore, before: ContextManifest, after: ContextManifest): Promise<DiffedFile[]> {
  const a = new Map(before.entries.filter((e) => e.type !== 'dir').map((e) => [e.path, e]));
  const b = new Map(after.entries.filter((e) => e.type !== 'dir').map((e) => [e.path, e]));
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const out: DiffedFile[] = [];
  for (const path of paths) {
    const x = a.get(path);
    const y = b.get(path);
    if (x && y && x.type === y.type && x.sha256 === y.sha256) {
      if (x.mode !== y.mode) out.push({ change: { path, status: 'mode', added: 0, removed: 0 }, diff: `mode ${path}: ${x.mode.toString(8)} → ${y.mode.toString(8)}` });
      continue;
    }
    out.push(await diffFile(store, path, x, y));
  }
  return out;
}

async function diffFile(store: ChangeStore, path: string, x: ManifestEntry | undefined, y: ManifestEntry | undefined): Promise<DiffedFile> {
  const status = !x ? 'added' : !y ? 'removed' : 'modified';
  const change: FileChange = { path, status, added: 0, removed: 0 };
  if (x?.type === 'symlink' || y?.type === 'symlink') return { change: { ...change, symlink: true }, diff: '' };
  const left = x ? await textOf(store, x) : '';
  const right = y ? await textOf(store, y) : '';
  if (left === undefined || right === undefined) {
    const tooLarge = [x, y].some((e) => e !== undefined && !e.kept);
    return { change: { ...change, ...(tooLarge ? { tooLarge: true } : { binary: true }) }, diff: '' };
  }
  const d = diffLines(splitLines(left), splitLines(right));
  change.added = d.added;
  change.removed = d.removed;
  if (d.approximate) change.approximate = true;
  const head = [`--- ${x ? `a/${path}` : '/dev/null'}`, `+++ ${y ? `b/${path}` : '/dev/null'}`];
  return { change, diff: [...head, ...unifiedHunks(d.ops)].join('\n') };
}

/** The file's text, or undefined when it was not kept or is not UTF-8 text. */
async function textOf(store: ChangeStore, e: ManifestEntry): Promise<string | undefined> {
  if (!e.kept) return undefined;
  const data = await store.readBlob(e.sha256);
  if (!data || data.includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    return undefined;
  }
}
