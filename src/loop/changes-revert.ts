/**
 * `loop.onRegression`: finding a regression (report/changes.ts, from the records) and, for
 * `revert`, writing back from the previous cycle's manifest only the files the regressing change
 * touched. All or nothing: a file that changed again since the regressed cycle was listed, a content
 * the store did not keep, or a path or link that would leave the build context refuses the whole
 * revert, naming the file, and the loop goes on without it.
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, readlink, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ChangeStore, type ContextManifest, type ManifestEntry } from '../build/manifest.js';
import type { Attribution, RevertRecord } from '../model/changes.js';
import type { CycleRecord } from '../model/record.js';
import { attributeChanges, regressionText } from '../report/changes.js';
import { compareCycles } from '../report/compare.js';

export interface Regression {
  attribution: Attribution;
  /** One sentence, for the run's ending and the log. */
  text: string;
}

/** The regression `record` shows against `previous`, if a change broke a passing check. */
export function findRegression(record: CycleRecord, previous: CycleRecord | undefined): Regression | undefined {
  const attribution = attributeChanges(record, previous, compareCycles(record, previous));
  const text = attribution && record.changes ? regressionText(attribution, record.cycle, record.changes) : undefined;
  return attribution && text ? { attribution, text } : undefined;
}

interface Step {
  path: string;
  /** The entry to write back; undefined: the change added the file, so it is deleted. */
  restore: ManifestEntry | undefined;
  data?: Buffer;
}

/** Reverts the change recorded on `regressed` (since regressed.changes.sinceCycle) in the context `root`. */
export async function revertChanges(reportsDir: string, root: string, regressed: CycleRecord): Promise<RevertRecord> {
  const toCycle = regressed.changes?.sinceCycle ?? regressed.cycle - 1;
  const base = { afterCycle: regressed.cycle, toCycle };
  const store = new ChangeStore(reportsDir);
  const [before, after] = [await store.readManifest(toCycle), await store.readManifest(regressed.cycle)];
  if (!before || !after) return { ...base, files: [], refused: `the build context of cycle ${before ? regressed.cycle : toCycle} was not kept in the change store` };
  const realRoot = await realpath(root);
  const planned = await plan(store, realRoot, before, after);
  if (typeof planned === 'string') return { ...base, files: [], refused: planned };
  for (const step of planned) await apply(realRoot, step);
  return { ...base, files: planned.map((s) => ({ path: s.path, action: s.restore ? 'restored' : 'deleted' })) };
}

/** The steps, or why the revert is refused; nothing is written while planning. */
async function plan(store: ChangeStore, root: string, before: ContextManifest, after: ContextManifest): Promise<Step[] | string> {
  const a = files(before);
  const b = files(after);
  const steps: Step[] = [];
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const was = a.get(path);
    const now = b.get(path);
    if (was && now && was.type === now.type && was.sha256 === now.sha256 && was.mode === now.mode) continue;
    const unsafe = await leavesContext(root, path);
    if (unsafe) return unsafe;
    if (!(await unchangedSince(root, path, now))) {
      return `${path} changed again since cycle ${after.cycle}'s build context was listed, so reverting could lose that edit (revert it by hand, or let the next fix do it)`;
    }
    const step: Step = { path, restore: was };
    if (was) {
      const data = await store.readBlob(was.sha256);
      if (!was.kept || !data) return `${path}: its content in cycle ${before.cycle} was not kept (over the change store's size cap)`;
      if (was.type === 'symlink' && (await linkLeaves(root, path, data.toString()))) return `${path}: cycle ${before.cycle}'s symlink points outside the build context`;
      step.data = data;
    }
    steps.push(step);
  }
  return steps;
}

function files(m: ContextManifest): Map<string, ManifestEntry> {
  return new Map(m.entries.filter((e) => e.type !== 'dir').map((e) => [e.path, e]));
}

/** A path that is absolute, climbs with `..`, or whose existing folders resolve outside `root`. */
async function leavesContext(root: string, path: string): Promise<string | undefined> {
  const full = resolve(root, path);
  if (isAbsolute(path) || path.split('/').includes('..') || !within(root, full)) return `${path} is not inside the build context`;
  let dir = dirname(full);
  while (!(await lstat(dir).then(() => true, () => false)) && dir !== root) dir = dirname(dir);
  if (!within(root, await realpath(dir))) return `${path}: a folder on its way is a symlink that leaves the build context`;
  return undefined;
}

async function linkLeaves(root: string, path: string, target: string): Promise<boolean> {
  return !within(root, resolve(dirname(resolve(root, path)), target));
}

function within(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** The file on disk is still what `entry` (the regressed cycle's listing) says, or absent as it was. */
async function unchangedSince(root: string, path: string, entry: ManifestEntry | undefined): Promise<boolean> {
  const full = join(root, path);
  const st = await lstat(full).catch(() => undefined);
  if (!entry || !st) return !entry && !st;
  if ((st.mode & 0o7777) !== entry.mode) return false;
  if (entry.type === 'symlink') return st.isSymbolicLink() && sha256(Buffer.from(await readlink(full))) === entry.sha256;
  return st.isFile() && sha256(await readFile(full)) === entry.sha256;
}

async function apply(root: string, step: Step): Promise<void> {
  const full = join(root, step.path);
  // rm never follows a symlink: the link itself goes, never what it points at.
  await rm(full, { force: true });
  const was = step.restore;
  if (!was || !step.data) return;
  await mkdir(dirname(full), { recursive: true });
  if (was.type === 'symlink') {
    await symlink(step.data.toString(), full);
    return;
  }
  await writeFile(full, step.data, { flag: 'wx', mode: was.mode });
  // The umask may have taken bits off the mode asked for.
  await chmod(full, was.mode);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
