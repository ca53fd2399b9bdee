/**
 * The `command` builder: snapshots the build context into an immutable build folder and runs the
 * build command inside it. Snapshots are content-addressed: the build key covers the included files
 * (paths, modes, contents) and the build settings, and a key already built is reused as it is (no
 * copy, no build command), the way an image build with an unchanged context hits its cache.
 */
import { createHash } from 'node:crypto';
import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { BuildConfig } from '../config/schema.js';
import type { StageContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { describeCommandFailure, runCommand } from '../exec.js';
import type { SnapshotRecord } from '../model/record.js';
import { buildClock, type Builder, type BuildOutcome, type BuildRunOptions } from './builder.js';
import { ContextChangedError, copyListing, listContext, type ContextListing } from './snapshot.js';
import { describeSnapshot } from '../model/snapshot-text.js';
import { BuildStore, buildFolderName } from './store.js';

type CommandBuildConfig = Extract<BuildConfig, { kind: 'command' }>;

export interface CommandBuilderOptions {
  service: string;
  /** Folder relative paths are resolved against (the config file's folder). */
  baseDir: string;
  /** Where build folders go; defaults to BASEDIR/.deploy-loop/builds/SERVICE. */
  buildsDir?: string;
  /** How many of the most recently made or used builds to keep; overrides build.keep. */
  keep?: number;
  /** The config file: never copied into a build. */
  configFile?: string;
  /** The reports folder: never copied into a build; also scopes "unchanged since cycle N" to its history. */
  reportsDir?: string;
}

/** Attempts at a consistent snapshot when files change while they are copied. */
const SNAPSHOT_ATTEMPTS = 3;

export class CommandBuilder implements Builder {
  readonly kind = 'command';
  private readonly context: string;
  private readonly buildsDir: string;

  constructor(
    private readonly cfg: CommandBuildConfig,
    private readonly opts: CommandBuilderOptions,
  ) {
    this.context = resolve(opts.baseDir, cfg.context);
    this.buildsDir = opts.buildsDir ?? join(opts.baseDir, '.deploy-loop', 'builds', opts.service);
  }

  /** The build key: the context digest plus what else shapes the build folder (command and env). */
  buildKey(contextDigest: string): string {
    const env = Object.fromEntries(Object.entries(this.cfg.env).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    return createHash('sha256')
      .update(`deploy-loop build v1\n${contextDigest}\n${JSON.stringify({ command: this.cfg.command ?? null, env })}`)
      .digest('hex');
  }

  async build(ctx: StageContext, run: BuildRunOptions = {}): Promise<BuildOutcome> {
    const { elapsed, fail } = buildClock();
    const shown = this.shown(this.context);
    if (!(await stat(this.context).then((s) => s.isDirectory(), () => false))) {
      return fail(`build context ${shown} is not a folder (build.context in the config)`);
    }
    const store = new BuildStore(this.buildsDir, ctx.log);
    const scope = this.opts.reportsDir ? this.shown(this.opts.reportsDir) : '';
    let stagingDir: string | undefined;
    try {
      const root = await realpath(this.context);
      await mkdir(this.buildsDir, { recursive: true });
      const builds = await realpath(this.buildsDir);
      if (isWithin(root, builds)) {
        return fail(`build context ${shown} is inside the builds folder ${this.shown(this.buildsDir)}; point build.context at your project's files`);
      }
      const alwaysExclude = await Promise.all(
        [builds, join(this.opts.baseDir, '.deploy-loop'), this.opts.configFile, this.opts.reportsDir]
          .filter((p): p is string => p !== undefined)
          .map(realpathOf),
      );
      // Listed again when a file changes while it is copied, so the digest always names the bytes copied.
      let listing: ContextListing;
      let key: string;
      let name: string;
      let finalDir: string;
      let reused: { name: string; dir: string; builtInCycle?: number } | undefined;
      for (let attempt = 1; ; attempt++) {
        listing = await listContext(root, { exclude: this.cfg.exclude, alwaysExclude });
        key = this.buildKey(listing.digest);
        name = buildFolderName(ctx.cycle, key);
        finalDir = join(this.buildsDir, name);
        const found = await store.find(key);
        if (found) {
          reused = { name: found.name, dir: found.dir, ...(found.entry.scope === scope ? { builtInCycle: found.entry.cycle } : {}) };
          break;
        }
        if (await stat(finalDir).then((s) => s.isDirectory(), () => false)) {
          // A complete build under this name whose index entry was lost: same cycle, same key prefix.
          await store.add(name, this.indexEntry(key, listing, ctx.cycle, scope));
          reused = { name, dir: finalDir };
          break;
        }
        stagingDir = `${finalDir}.tmp-${process.pid}`;
        await rm(stagingDir, { recursive: true, force: true });
        try {
          await copyListing(listing, stagingDir, ctx.signal);
          break;
        } catch (err) {
          if (!(err instanceof ContextChangedError) || ctx.signal.aborted) throw err;
          await rm(stagingDir, { recursive: true, force: true });
          stagingDir = undefined;
          if (attempt >= SNAPSHOT_ATTEMPTS) {
            return fail(`build context ${shown} kept changing while it was copied (${attempt} attempts, last ${err.path}); stop what writes into it during a cycle, or leave that file out with .dockerignore or build.exclude`);
          }
          ctx.log.warn({ file: err.path, attempt }, 'build context changed while it was copied; listing it again');
        }
      }
      const unchangedSince = await store.noteContext(scope, listing.digest, ctx.cycle);
      const snapshot: SnapshotRecord = {
        digest: listing.digest,
        reused: reused !== undefined,
        ...(reused?.builtInCycle !== undefined ? { builtInCycle: reused.builtInCycle } : {}),
        ...(unchangedSince !== undefined ? { unchangedSinceCycle: unchangedSince } : {}),
        files: listing.files,
        bytes: listing.bytes,
      };
      if (reused) {
        await store.touch(reused.name);
        ctx.log.info({ dir: this.shown(reused.dir), digest: listing.digest, builtInCycle: reused.builtInCycle }, reuseMessage(snapshot));
        await this.prune(store, reused.name, run, ctx);
        return { ok: true, image: { ref: `dir:${reused.dir}`, dir: reused.dir, digest: `sha256:${key}`, durationMs: elapsed(), outputTail: [], snapshot } };
      }
      if (!stagingDir) throw new Error('no staging folder after the snapshot');
      ctx.log.info({ context: shown, dir: this.shown(finalDir), digest: listing.digest, files: listing.files, bytes: listing.bytes }, 'build context snapshotted');

      let outputTail: string[] = [];
      if (this.cfg.command) {
        const res = await runCommand(this.cfg.command, {
          cwd: stagingDir,
          env: { ...this.cfg.env, DEPLOY_LOOP_CYCLE: String(ctx.cycle) },
          signal: ctx.signal,
          timeoutMs: this.cfg.timeoutMs,
          log: ctx.log,
          onLine: (line) => ctx.log.debug({ stage: 'build' }, line),
        });
        outputTail = res.outputTail;
        if (!res.ok) {
          return fail(`build command \`${this.cfg.command.join(' ')}\` ${describeCommandFailure(res)}`, outputTail, res.exitCode);
        }
      }
      // Rename last, so a folder under its final name is always a complete build.
      await rename(stagingDir, finalDir);
      stagingDir = undefined;
      await store.add(name, this.indexEntry(key, listing, ctx.cycle, scope));
      await this.prune(store, name, run, ctx);
      return {
        ok: true,
        image: { ref: `dir:${finalDir}`, dir: finalDir, digest: `sha256:${key}`, durationMs: elapsed(), outputTail, snapshot },
      };
    } catch (err) {
      if (ctx.signal.aborted) return fail('interrupted while snapshotting the build context');
      // A file the loop cannot read or write is this cycle's build failure, with a record, not a crash.
      return fail(`snapshotting build context ${shown}: ${this.withoutBase(errorMessage(err))}`);
    } finally {
      if (stagingDir) await rm(stagingDir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private indexEntry(key: string, listing: ContextListing, cycle: number, scope: string) {
    return { key, digest: listing.digest, cycle, scope, builtAt: new Date().toISOString(), files: listing.files, bytes: listing.bytes };
  }

  private async prune(store: BuildStore, current: string, run: BuildRunOptions, ctx: StageContext): Promise<void> {
    try {
      const res = await store.prune({ keep: this.opts.keep ?? this.cfg.keep, current, ...(run.keep ? { also: run.keep } : {}) });
      if (Object.keys(res.protected).length > 0) ctx.log.debug({ protected: res.protected }, 'old builds kept: current, pinned by a running revision, or recorded as serving');
    } catch (err) {
      // Retention is housekeeping: a failure to remove an old folder never fails the build.
      ctx.log.warn({ err: errorMessage(err) }, 'removing old builds failed; they are left as they are');
    }
  }

  /** A path as reports show it: relative to the config's folder. */
  private shown(path: string): string {
    const rel = relative(this.opts.baseDir, path);
    return rel === '' ? '.' : rel.split(sep).join('/');
  }

  private withoutBase(message: string): string {
    return message.split(`${resolve(this.opts.baseDir)}${sep}`).join('');
  }
}

/** The log line for a reused build: the report's sentence, in a log's lower case and without the stop. */
function reuseMessage(s: SnapshotRecord): string {
  const text = describeSnapshot(s) ?? 'build reused';
  return `${text.charAt(0).toLowerCase()}${text.slice(1).replace(/\.$/, '')}`;
}

function isWithin(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** The real path of `p`, also when it does not exist yet (a reports folder before the first cycle). */
async function realpathOf(p: string): Promise<string> {
  try {
    return await realpath(p);
  } catch {
    const parent = dirname(p);
    return parent === p ? p : join(await realpathOf(parent), basename(p));
  }
}
