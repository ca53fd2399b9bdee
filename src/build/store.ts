/**
 * The builds folder of the `command` builder (`.deploy-loop/builds/SERVICE/`): one folder per build,
 * `cNNN-KEY12`, under its final name only once complete; `index.json` maps each folder to the build
 * key and context digest it holds (so an unchanged context is reused, not copied again); `.pins/`
 * holds one lease per revision that runs from a folder. Retention orders folders by time (the
 * folder's mtime, refreshed when a build is reused), never by name, and never removes the current
 * build, a pinned one, or one the caller says must stay (a revision the history records as serving).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../fs-atomic.js';
import type { Logger } from '../log.js';
import type { CycleRecord } from '../model/record.js';
import { pidAlive } from '../pid.js';

/** A complete build folder's name: the cycle that made it (3 or more digits) and the build key's first 12 hex digits. */
export const BUILD_NAME = /^c(\d{3,})-([0-9a-f]{12})$/;
const STAGING_NAME = /^(c\d{3,}-[0-9a-f]{12})\.tmp-(\d+)$/;
const TRASH_NAME = /^\.trash-.*-(\d+)-[0-9a-f]{8}$/;

export function buildFolderName(cycle: number, key: string): string {
  return `c${String(cycle).padStart(3, '0')}-${key.slice(0, 12)}`;
}

const indexEntrySchema = z.object({
  key: z.string(),
  digest: z.string(),
  cycle: z.number().int(),
  scope: z.string(),
  builtAt: z.string(),
  files: z.number().int().optional(),
  bytes: z.number().int().optional(),
});
export type IndexEntry = z.infer<typeof indexEntrySchema>;

const streakSchema = z.object({ digest: z.string(), cycle: z.number().int(), since: z.number().int() });

const indexSchema = z.object({
  version: z.literal(1),
  /** By folder name. */
  builds: z.record(z.string(), indexEntrySchema),
  /** By scope (reports folder): the last context digest built and since which cycle it has not changed. */
  contexts: z.record(z.string(), streakSchema),
});
type Index = z.infer<typeof indexSchema>;

/** Builds a caller needs kept whatever their age: by folder (absolute or name) or by build digest. */
export interface BuildKeep {
  dirs?: readonly string[];
  digests?: readonly string[];
}

export interface PruneResult {
  removed: string[];
  /** Kept though older than the newest `keep`, with the reason. */
  protected: Record<string, 'current' | 'pinned' | 'requested'>;
}

export class BuildStore {
  readonly indexFile: string;
  readonly pinsDir: string;

  constructor(
    readonly dir: string,
    private readonly log?: Logger,
  ) {
    this.indexFile = join(dir, 'index.json');
    this.pinsDir = join(dir, '.pins');
  }

  async readIndex(): Promise<Index> {
    let text: string;
    try {
      text = await readFile(this.indexFile, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return emptyIndex();
      throw err;
    }
    try {
      const parsed = indexSchema.safeParse(JSON.parse(text));
      if (parsed.success) return parsed.data;
    } catch {
      // Falls through: a torn or edited index only costs a rebuild.
    }
    this.log?.warn({ file: this.indexFile }, 'build index unreadable: starting a new one (existing builds are rebuilt once, not reused)');
    return emptyIndex();
  }

  private async update(change: (index: Index) => void): Promise<void> {
    const index = await this.readIndex();
    change(index);
    await writeFileAtomic(this.indexFile, `${JSON.stringify(index, null, 2)}\n`, { durable: false });
  }

  /** The complete folder holding the build with this key, if any. */
  async find(key: string): Promise<{ name: string; dir: string; entry: IndexEntry } | undefined> {
    const index = await this.readIndex();
    for (const [name, entry] of Object.entries(index.builds)) {
      if (entry.key !== key) continue;
      const dir = join(this.dir, name);
      if (await isDir(dir)) return { name, dir, entry };
    }
    return undefined;
  }

  async add(name: string, entry: IndexEntry): Promise<void> {
    await this.update((index) => {
      index.builds[name] = entry;
    });
  }

  /**
   * Notes that `scope` built a context with this digest in `cycle`; returns the cycle since which it
   * has been unchanged, when the previous cycle had the same digest (a gap in the numbering, such as
   * a new history, makes no claim).
   */
  async noteContext(scope: string, digest: string, cycle: number): Promise<number | undefined> {
    let since: number | undefined;
    await this.update((index) => {
      const last = index.contexts[scope];
      since = last && last.digest === digest && last.cycle === cycle - 1 ? last.since : undefined;
      index.contexts[scope] = { digest, cycle, since: since ?? cycle };
    });
    return since;
  }

  /** Marks a reused build as just used, so retention (which goes by time) counts it as new. */
  async touch(name: string): Promise<void> {
    const now = new Date();
    await utimes(join(this.dir, name), now, now);
  }

  /**
   * Keeps the `keep` most recently made or used builds and every protected one; removes the rest,
   * oldest first. Also clears leases whose holders are gone and leftovers of dead builds.
   */
  async prune(opts: { keep: number; current?: string; also?: BuildKeep }): Promise<PruneResult> {
    const result: PruneResult = { removed: [], protected: {} };
    const names = await this.listBuilds();
    const pinned = await this.livePins();
    const requested = await this.requestedNames(opts.also);
    const reasonFor = (name: string): PruneResult['protected'][string] | undefined =>
      name === opts.current ? 'current' : pinned.has(name) ? 'pinned' : requested.has(name) ? 'requested' : undefined;

    const dated = await Promise.all(names.map(async (name) => ({ name, mtimeMs: await mtimeOf(join(this.dir, name)) })));
    const present = dated.filter((d): d is { name: string; mtimeMs: number } => d.mtimeMs !== undefined);
    // Newest first; equal times fall back to the cycle number as a number, never the name.
    present.sort((a, b) => b.mtimeMs - a.mtimeMs || cycleOf(b.name) - cycleOf(a.name) || (a.name < b.name ? -1 : 1));
    const old = present.slice(Math.max(0, opts.keep));
    for (const { name, mtimeMs } of old.reverse()) {
      const reason = reasonFor(name);
      if (reason) {
        result.protected[name] = reason;
        continue;
      }
      // Checked again just before: another loop may have reused or pinned it meanwhile.
      if ((await mtimeOf(join(this.dir, name))) !== mtimeMs || (await this.livePins()).has(name)) continue;
      if (await this.remove(name)) result.removed.push(name);
    }
    if (result.removed.length > 0) {
      const gone = new Set(result.removed);
      await this.update((index) => {
        for (const name of Object.keys(index.builds)) if (gone.has(name)) delete index.builds[name];
      });
      this.log?.info({ removed: result.removed.length, kept: present.length - result.removed.length }, 'old builds removed');
    }
    await this.removeLeftovers();
    return result;
  }

  async listBuilds(): Promise<string[]> {
    try {
      return (await readdir(this.dir, { withFileTypes: true })).filter((e) => e.isDirectory() && BUILD_NAME.test(e.name)).map((e) => e.name);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  /** Build folders with at least one lease whose holder is alive; leases of dead holders are deleted. */
  async livePins(): Promise<Set<string>> {
    const live = new Set<string>();
    let files: string[];
    try {
      files = await readdir(this.pinsDir);
    } catch {
      return live;
    }
    for (const file of files) {
      if (!file.endsWith('.json')) continue;
      const full = join(this.pinsDir, file);
      let pin: PinFile | undefined;
      try {
        const parsed = pinFileSchema.safeParse(JSON.parse(await readFile(full, 'utf8')));
        pin = parsed.success ? parsed.data : undefined;
      } catch {
        // Being written (pins are written in place and small) or gone: judged on the next prune.
        continue;
      }
      if (!pin) continue;
      if (pin.pids.some(pidAlive)) live.add(pin.build);
      else await rm(full, { force: true });
    }
    return live;
  }

  private async requestedNames(also: BuildKeep | undefined): Promise<Set<string>> {
    const names = new Set<string>((also?.dirs ?? []).map((d) => basename(d)));
    if (also?.digests && also.digests.length > 0) {
      const wanted = new Set(also.digests);
      for (const [name, entry] of Object.entries((await this.readIndex()).builds)) {
        if (wanted.has(entry.key) || wanted.has(`sha256:${entry.key}`)) names.add(name);
      }
    }
    return names;
  }

  /** Renamed first, so a half-removed folder never sits under a build's name. */
  private async remove(name: string): Promise<boolean> {
    const trash = join(this.dir, `.trash-${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
    try {
      await rename(join(this.dir, name), trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
    await rm(trash, { recursive: true, force: true });
    return true;
  }

  /** Staging and trash folders whose process is gone (a loop killed mid-build or mid-removal). */
  private async removeLeftovers(): Promise<void> {
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      const pid = STAGING_NAME.exec(name)?.[2] ?? TRASH_NAME.exec(name)?.[1];
      if (pid !== undefined && !pidAlive(Number(pid))) await rm(join(this.dir, name), { recursive: true, force: true });
    }
  }
}

const pinFileSchema = z.object({
  build: z.string(),
  revision: z.string(),
  pids: z.array(z.number().int()),
  pinnedAt: z.string(),
});
type PinFile = z.infer<typeof pinFileSchema>;

/** A lease on a build folder: while any of its pids is alive, retention keeps the folder. */
export interface BuildPin {
  /** The lease file; undefined when the folder is not a build folder (nothing to protect). */
  readonly file: string | undefined;
  /** Adds a holder, e.g. the revision's own process once it started. */
  addPid(pid: number): Promise<void>;
  release(): Promise<void>;
}

/**
 * Pins the build folder a revision runs from. The lease names the calling process (the loop) and,
 * after addPid, the revision's process: it outlives a loop killed with -9 while the revision still
 * runs, and stops counting once both are gone.
 */
export async function pinBuild(dir: string, holder: { revision: string; pid?: number }): Promise<BuildPin> {
  const build = basename(dir);
  if (!BUILD_NAME.test(build)) return { file: undefined, addPid: async () => {}, release: async () => {} };
  const pinsDir = join(dirname(dir), '.pins');
  await mkdir(pinsDir, { recursive: true });
  const file = join(pinsDir, `${build}.${holder.revision.replace(/[^a-zA-Z0-9_-]/g, '_')}.${process.pid}.${randomBytes(3).toString('hex')}.json`);
  const pin: PinFile = { build, revision: holder.revision, pids: [process.pid, ...(holder.pid ? [holder.pid] : [])], pinnedAt: new Date().toISOString() };
  const write = () => writeFile(file, `${JSON.stringify(pin)}\n`);
  await write();
  let released = false;
  return {
    file,
    async addPid(pid) {
      if (released || pin.pids.includes(pid)) return;
      pin.pids.push(pid);
      await write();
    },
    async release() {
      released = true;
      await rm(file, { force: true });
    },
  };
}

/**
 * The builds the history says must stay: those of the revisions the last record leaves serving
 * (any share of traffic) and its last good revision, which a rollback or a failed canary restores.
 */
export function buildsToKeep(records: readonly CycleRecord[]): BuildKeep {
  const last = records.at(-1);
  if (!last) return {};
  const revisions = new Set(last.traffic.after.filter((e) => e.percent > 0).map((e) => e.revision));
  if (last.traffic.lastGoodRevision) revisions.add(last.traffic.lastGoodRevision);
  const dirs: string[] = [];
  const digests: string[] = [];
  for (const name of revisions) {
    const made = records.findLast((r) => r.deploy.revision === name && r.build.status === 'ok');
    if (!made) continue;
    const image = made.deploy.image ?? made.build.image;
    if (image?.startsWith('dir:')) dirs.push(image.slice('dir:'.length));
    if (made.build.digest) digests.push(made.build.digest);
  }
  return { dirs, digests };
}

function emptyIndex(): Index {
  return { version: 1, builds: {}, contexts: {} };
}

function cycleOf(name: string): number {
  return Number(BUILD_NAME.exec(name)?.[1] ?? 0);
}

async function mtimeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

