/**
 * The `command` builder: snapshots the build context into an immutable revision folder (named by a
 * content hash, like an image digest) and runs the build command inside it.
 */
import { createHash } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { BuildConfig } from '../config/schema.js';
import type { StageContext } from '../context.js';
import { describeCommandFailure, runCommand } from '../exec.js';
import type { Builder, BuildOutcome } from './builder.js';

type CommandBuildConfig = Extract<BuildConfig, { kind: 'command' }>;

export interface CommandBuilderOptions {
  service: string;
  /** Folder relative paths are resolved against (the config file's folder). */
  baseDir: string;
  /** Where revision folders go; defaults to BASEDIR/.deploy-loop/builds/SERVICE. */
  buildsDir?: string;
  /** How many earlier build folders to keep. */
  keep?: number;
}

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

  async build(ctx: StageContext): Promise<BuildOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const exists = await stat(this.context).then((s) => s.isDirectory(), () => false);
    if (!exists) {
      return {
        ok: false,
        message: `build context ${this.context} is not a folder (build.context in the config)`,
        durationMs: elapsed(),
        outputTail: [],
        exitCode: null,
      };
    }
    const digest = await hashTree(this.context, new Set(this.cfg.exclude));
    const short = digest.slice(0, 12);
    const finalDir = join(this.buildsDir, `c${String(ctx.cycle).padStart(3, '0')}-${short}`);
    const stagingDir = `${finalDir}.tmp-${process.pid}`;
    await rm(stagingDir, { recursive: true, force: true });
    await mkdir(this.buildsDir, { recursive: true });
    const exclude = new Set(this.cfg.exclude);
    await cp(this.context, stagingDir, {
      recursive: true,
      filter: (src) => !relative(this.context, src).split(/[\\/]/).some((part) => exclude.has(part)),
    });
    ctx.log.info({ context: this.context, dir: finalDir, digest: short }, 'build context snapshotted');

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
        await rm(stagingDir, { recursive: true, force: true });
        return {
          ok: false,
          message: `build command \`${this.cfg.command.join(' ')}\` ${describeCommandFailure(res)}`,
          durationMs: elapsed(),
          outputTail,
          exitCode: res.exitCode,
        };
      }
    }
    // Rename last, so a folder under its final name is always a complete build.
    await rm(finalDir, { recursive: true, force: true });
    await rename(stagingDir, finalDir);
    await pruneBuilds(this.buildsDir, this.opts.keep ?? 10);
    return {
      ok: true,
      image: { ref: `dir:${finalDir}`, dir: finalDir, digest: `sha256:${digest}`, durationMs: elapsed(), outputTail },
    };
  }
}

/** sha256 over relative paths and contents, in sorted order, skipping excluded names. */
export async function hashTree(root: string, exclude: Set<string>): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (exclude.has(e.name)) continue;
      const full = join(dir, e.name);
      if (e.isDirectory()) await walk(full);
      else if (e.isFile()) {
        hash.update(relative(root, full));
        hash.update('\0');
        hash.update(await readFile(full));
        hash.update('\0');
      }
    }
  };
  await walk(root);
  return hash.digest('hex');
}

async function pruneBuilds(dir: string, keep: number): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory() && /^c\d{3,}-[0-9a-f]{12}$/.test(e.name))
    .map((e) => e.name)
    .sort();
  for (const name of entries.slice(0, Math.max(0, entries.length - keep))) {
    await rm(join(dir, name), { recursive: true, force: true });
  }
}
