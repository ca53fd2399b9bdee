/**
 * The build context as `docker build` sees it: the files of a folder minus what `.dockerignore` and
 * `build.exclude` leave out (matched by @balena/dockerignore, a port of Docker's own matcher), minus
 * deploy-loop's own files. One walk lists exactly what is included; the digest and the copy are both
 * made from that list, so the digest describes the bytes that were copied.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, constants, copyFile, lstat, mkdir, readdir, readFile, readlink, symlink } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import dockerignore from '@balena/dockerignore';

// A CommonJS module whose types say `export default`: under NodeNext the function is `.default`
// (the package sets factory.default = factory for exactly this).
const ignore = dockerignore.default;

export interface ContextEntry {
  /** Path relative to the context root, with `/` separators. */
  path: string;
  type: 'dir' | 'file' | 'symlink';
  /** Permission bits (mode & 0o7777). */
  mode: number;
  size: number;
  /** sha256 of the content (files) or of the link target (symlinks); empty for folders. */
  sha256: string;
  /** What the copy checks again, to notice a file that changed after it was hashed. */
  stamp: string;
}

export interface ContextListing {
  root: string;
  entries: ContextEntry[];
  /** `sha256:` over every entry's path, type, mode and content digest, in path order. */
  digest: string;
  files: number;
  bytes: number;
}

export interface ListOptions {
  /** Patterns in .dockerignore syntax (after the context's own .dockerignore). */
  exclude: readonly string[];
  /** Absolute paths never included, whatever the patterns say (deploy-loop's own state). */
  alwaysExclude: readonly string[];
}

/** The `.dockerignore` lines of a context, or none when it has no such file. */
export async function readDockerignore(root: string): Promise<string[]> {
  try {
    return (await readFile(join(root, '.dockerignore'), 'utf8')).split(/\r?\n/);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Walks `root` and lists what a build copies. Like Docker, a folder that matches a pattern is
 * skipped whole unless some `!` pattern could re-include something below it; then it is walked and
 * kept only as the parent of what is re-included. Symlinks are listed, never followed, so the walk
 * cannot loop or leave the context.
 */
export async function listContext(root: string, opts: ListOptions): Promise<ContextListing> {
  const patterns = [...(await readDockerignore(root)), ...opts.exclude];
  const matcher = ignore().add(patterns);
  const hasExceptions = patterns.some((p) => p.trim().startsWith('!'));
  const never = new Set(opts.alwaysExclude);
  const entries: ContextEntry[] = [];

  /** Lists what is kept below `dir`; true when anything was. */
  const walk = async (dir: string): Promise<boolean> => {
    const names = (await readdir(dir)).sort(byBytes);
    let keptAny = false;
    for (const name of names) {
      const full = join(dir, name);
      if (never.has(full)) continue;
      const rel = relative(root, full).split(sep).join('/');
      const ignored = matcher.ignores(rel);
      const st = await lstat(full, { bigint: true });
      const mode = Number(st.mode & 0o7777n);
      const stamp = `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
      if (st.isDirectory()) {
        if (ignored && !hasExceptions) continue;
        const at = entries.length;
        entries.push({ path: rel, type: 'dir', mode, size: 0, sha256: '', stamp });
        const keptBelow = await walk(full);
        // An ignored folder walked only for `!` exceptions stays only if one matched below it.
        if (ignored && !keptBelow) entries.splice(at, 1);
        else keptAny = true;
      } else if (st.isFile()) {
        if (ignored) continue;
        entries.push({ path: rel, type: 'file', mode, size: Number(st.size), sha256: await hashFile(full), stamp });
        keptAny = true;
      } else if (st.isSymbolicLink()) {
        if (ignored) continue;
        const target = await readlink(full);
        entries.push({ path: rel, type: 'symlink', mode, size: 0, sha256: createHash('sha256').update(target).digest('hex'), stamp });
        keptAny = true;
      }
      // Sockets, FIFOs and devices are not build input (docker build skips them too).
    }
    return keptAny;
  };
  await walk(root);

  const hash = createHash('sha256');
  hash.update('deploy-loop context v1\n');
  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    // JSON keeps odd characters in names (newlines, tabs) from running two entries together.
    hash.update(`${JSON.stringify([e.type, e.path, e.mode.toString(8), e.size, e.sha256])}\n`);
    if (e.type === 'file') {
      files++;
      bytes += e.size;
    }
  }
  return { root, entries, digest: `sha256:${hash.digest('hex')}`, files, bytes };
}

/** Raised when a file changed between being hashed and being copied. */
export class ContextChangedError extends Error {
  constructor(readonly path: string) {
    super(`${path} changed while the build context was being copied`);
  }
}

/**
 * Copies exactly the listed entries into `dest` (which must not exist yet, and is never inside
 * the listing, since deploy-loop's folders are always excluded). Throws ContextChangedError when a
 * file's stat no longer matches the one that was hashed.
 */
export async function copyListing(listing: ContextListing, dest: string, signal?: AbortSignal): Promise<void> {
  await mkdir(dest, { recursive: true });
  const dirModes: Array<[string, number]> = [];
  for (const e of listing.entries) {
    signal?.throwIfAborted();
    const from = join(listing.root, e.path);
    const to = join(dest, e.path);
    if (e.type === 'dir') {
      await mkdir(to, { recursive: true });
      dirModes.push([to, e.mode]);
    } else if (e.type === 'file') {
      await copyFile(from, to, constants.COPYFILE_FICLONE);
      await chmod(to, e.mode);
      const st = await lstat(from, { bigint: true });
      if (`${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` !== e.stamp) throw new ContextChangedError(e.path);
    } else {
      await symlink(await readlink(from), to);
    }
  }
  // Folder modes last: a read-only folder would refuse the files copied into it.
  for (const [dir, mode] of dirModes.reverse()) await chmod(dir, mode);
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Byte order of the names, so the digest does not depend on the locale. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
