/**
 * What each cycle deployed, whatever the builder: a manifest of the build context as Docker sees it
 * (path → type, mode, size, sha256, from listContext) and the files' content in a small
 * content-addressed blob store, under the reports folder's hidden state (`reports/.changes/`). The
 * next cycle diffs against it, and `loop.onRegression: revert` restores from it. Like the build
 * folders this is local state: contents are kept as they are (a report redacts what it shows).
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../fs-atomic.js';
import { listContext } from './snapshot.js';

export const CHANGES_DIR = '.changes';
/** A file over this size is recorded as changed, without line counts or diff, and cannot be reverted. */
export const BLOB_FILE_CAP = 256 * 1024;
/** The whole blob store; once full, new contents are not kept (their files count as too large). */
export const BLOB_TOTAL_CAP = 64 * 1024 * 1024;
/** Manifests kept; blobs no kept manifest names are removed. */
export const MANIFESTS_KEPT = 10;

const entrySchema = z.object({
  path: z.string(),
  type: z.enum(['dir', 'file', 'symlink']),
  mode: z.number().int(),
  size: z.number().int(),
  sha256: z.string(),
  /** The content is in the blob store (file content, or a symlink's target text). */
  kept: z.boolean().optional(),
});
export type ManifestEntry = z.infer<typeof entrySchema>;

const manifestSchema = z.object({
  version: z.literal(1),
  cycle: z.number().int(),
  digest: z.string(),
  /** The build context as given in the config (relative to the config's folder), never absolute. */
  context: z.string(),
  entries: z.array(entrySchema),
  /** HEAD when the context is inside a git work tree. */
  gitHead: z.string().optional(),
});
export type ContextManifest = z.infer<typeof manifestSchema>;

export interface ManifestOptions {
  /** Absolute context folder. */
  root: string;
  /** As the config says it (for the manifest; never an absolute path). */
  context: string;
  /** build.exclude for the command builder; the context's .dockerignore is read for every kind. */
  exclude: readonly string[];
  /** Absolute paths never listed (deploy-loop's own state, the config file, the reports folder). */
  alwaysExclude: readonly string[];
}

export class ChangeStore {
  readonly dir: string;
  private usage: number | undefined;

  constructor(reportsDir: string) {
    this.dir = join(reportsDir, CHANGES_DIR);
  }

  manifestFile(cycle: number): string {
    return join(this.dir, 'manifests', `c${String(cycle).padStart(3, '0')}.json`);
  }

  blobFile(sha: string): string {
    return join(this.dir, 'blobs', sha.slice(0, 2), sha);
  }

  async readManifest(cycle: number): Promise<ContextManifest | undefined> {
    try {
      const parsed = manifestSchema.safeParse(JSON.parse(await readFile(this.manifestFile(cycle), 'utf8')));
      return parsed.success ? parsed.data : undefined;
    } catch {
      // Missing or torn: that cycle's changes cannot be computed, which the record then says by omission.
      return undefined;
    }
  }

  async writeManifest(m: ContextManifest): Promise<void> {
    await writeFileAtomic(this.manifestFile(m.cycle), `${JSON.stringify(m)}\n`, { durable: false });
  }

  async readBlob(sha: string): Promise<Buffer | undefined> {
    try {
      const data = await readFile(this.blobFile(sha));
      // A blob is only trusted when it still hashes to its name.
      return createHash('sha256').update(data).digest('hex') === sha ? data : undefined;
    } catch {
      return undefined;
    }
  }

  /** Keeps `data` under its sha256; false when it is over a cap. */
  async putBlob(sha: string, data: Buffer): Promise<boolean> {
    if (data.length > BLOB_FILE_CAP) return false;
    const file = this.blobFile(sha);
    if (await stat(file).then(() => true, () => false)) return true;
    this.usage ??= await this.measure();
    if (this.usage + data.length > BLOB_TOTAL_CAP) return false;
    await writeFileAtomic(file, data, { durable: false });
    this.usage += data.length;
    return true;
  }

  private async measure(): Promise<number> {
    let total = 0;
    for (const file of await this.blobFiles()) total += await stat(file).then((s) => s.size, () => 0);
    return total;
  }

  private async blobFiles(): Promise<string[]> {
    const root = join(this.dir, 'blobs');
    const out: string[] = [];
    for (const sub of await readdir(root).catch(() => [] as string[])) {
      for (const name of await readdir(join(root, sub)).catch(() => [] as string[])) out.push(join(root, sub, name));
    }
    return out;
  }

  /** Keeps the newest MANIFESTS_KEPT manifests and the blobs they name. */
  async prune(): Promise<void> {
    const dir = join(this.dir, 'manifests');
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^c\d+\.json$/.test(n));
    names.sort((a, b) => Number(a.slice(1, -5)) - Number(b.slice(1, -5)));
    for (const old of names.slice(0, Math.max(0, names.length - MANIFESTS_KEPT))) await rm(join(dir, old), { force: true });
    const live = new Set<string>();
    for (const name of names.slice(-MANIFESTS_KEPT)) {
      const m = await this.readManifest(Number(name.slice(1, -5)));
      for (const e of m?.entries ?? []) if (e.kept) live.add(e.sha256);
    }
    for (const file of await this.blobFiles()) {
      if (!live.has(file.slice(file.lastIndexOf('/') + 1))) await rm(file, { force: true });
    }
    this.usage = undefined;
  }
}

/** Lists the context and keeps each file's content (and each symlink's target) in the store. */
export async function takeManifest(store: ChangeStore, cycle: number, opts: ManifestOptions): Promise<ContextManifest> {
  const root = await realpath(opts.root);
  const alwaysExclude = await Promise.all(opts.alwaysExclude.map((p) => realpath(p).catch(() => resolve(p))));
  // .git is never build input worth diffing; the commit range says what moved there.
  const listing = await listContext(root, { exclude: [...opts.exclude, '**/.git'], alwaysExclude });
  const entries: ManifestEntry[] = [];
  for (const e of listing.entries) {
    const entry: ManifestEntry = { path: e.path, type: e.type, mode: e.mode, size: e.size, sha256: e.sha256 };
    if (e.type === 'file' && e.size <= BLOB_FILE_CAP) {
      const data = await readFile(join(root, e.path)).catch(() => undefined);
      // A file rewritten since it was hashed is kept only if its bytes still match the listing.
      if (data && createHash('sha256').update(data).digest('hex') === e.sha256) entry.kept = await store.putBlob(e.sha256, data);
    } else if (e.type === 'symlink') {
      const target = Buffer.from(await readlink(join(root, e.path)));
      if (createHash('sha256').update(target).digest('hex') === e.sha256) entry.kept = await store.putBlob(e.sha256, target);
    }
    entries.push(entry);
  }
  return { version: 1, cycle, digest: listing.digest, context: opts.context, entries };
}
