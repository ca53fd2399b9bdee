/**
 * The `podman` and `docker` builders: build the image from a Dockerfile, push it, and hand on the
 * pushed digest, so the revision runs exactly the bytes that were built (a tag can move, a digest
 * cannot). Both engines take the same build flags; they differ in how the digest is read back.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EngineBuildConfig } from '../config/container-schema.js';
import type { StageContext } from '../context.js';
import { describeCommandFailure, runCommand, type CommandResult } from '../exec.js';
import { describeStep, findPushedDigest, isDigest, pickRepoDigest, StepTracker } from './build-output.js';
import { buildClock, type Builder, type BuildOutcome } from './builder.js';
import { resolveEngine, tlsFlags, type Engine } from './container-engine.js';

export interface ContainerBuilderOptions {
  /** Folder relative paths are resolved against (the config file's folder). */
  baseDir: string;
  /** Environment the engine is chosen from (tests); defaults to process.env. */
  env?: NodeJS.ProcessEnv;
}

const TAIL_LINES = 60;

export class ContainerBuilder implements Builder {
  readonly kind: EngineBuildConfig['kind'];
  private readonly engine: Engine;

  constructor(
    private readonly cfg: EngineBuildConfig,
    private readonly opts: ContainerBuilderOptions,
  ) {
    this.kind = cfg.kind;
    this.engine = resolveEngine(cfg.kind, opts.env);
  }

  async build(ctx: StageContext): Promise<BuildOutcome> {
    const { elapsed, fail } = buildClock();
    const context = resolve(this.opts.baseDir, this.cfg.context);
    if (!(await stat(context).then((s) => s.isDirectory(), () => false))) {
      return fail(`build context ${context} is not a folder (build.context in the config)`);
    }
    const repository = `${this.cfg.registry}/${this.cfg.image}`;
    const tag = `${repository}:c${String(ctx.cycle).padStart(3, '0')}`;
    const steps = new StepTracker();
    const tmp = await mkdtemp(join(tmpdir(), 'deploy-loop-build-'));
    const run = (args: string[]): Promise<CommandResult> =>
      runCommand([...this.engine.argv, ...args], {
        env: { ...this.engine.env, ...this.cfg.env },
        signal: ctx.signal,
        timeoutMs: Math.max(1, this.cfg.timeoutMs - elapsed()),
        log: ctx.log,
        tailLines: TAIL_LINES,
        onLine: (line) => {
          steps.push(line);
          ctx.log.debug({ stage: 'build' }, line);
        },
      });
    try {
      ctx.log.info({ image: tag, context }, `${this.kind} build started`);
      const oneStep = this.cfg.kind === 'docker' && this.cfg.buildx;
      const metadataFile = join(tmp, 'metadata.json');
      const built = await run(this.buildArgs(context, tag, oneStep ? metadataFile : undefined));
      if (!built.ok) {
        const step = steps.current();
        const at = step ? ` at ${describeStep(step)}` : '';
        return fail(`${this.kind} build of ${tag} failed${at}: ${describeCommandFailure(built)}`, built.outputTail, built.exitCode);
      }
      ctx.log.info({ image: tag, durationMs: elapsed() }, 'image built');

      let digest: string | undefined;
      let outputTail = built.outputTail;
      if (oneStep) {
        digest = await readBuildxDigest(metadataFile);
      } else {
        const digestFile = join(tmp, 'digest');
        const pushArgs = this.engine.kind === 'podman'
          ? ['push', ...tlsFlags(this.engine, tag, this.cfg.kind === 'podman' ? this.cfg.tlsVerify : undefined), '--digestfile', digestFile, tag]
          : ['push', tag];
        const pushed = await run(pushArgs);
        outputTail = [...built.outputTail, ...pushed.outputTail].slice(-TAIL_LINES);
        if (!pushed.ok) {
          return fail(`pushing ${tag} failed: ${describeCommandFailure(pushed)}`, outputTail, pushed.exitCode);
        }
        digest = this.engine.kind === 'podman'
          ? await readFile(digestFile, 'utf8').then((s) => s.trim(), () => undefined)
          : (findPushedDigest(pushed.outputTail) ?? (await this.inspectRepoDigest(tag, repository, ctx)));
      }
      if (!digest || !isDigest(digest)) {
        return fail(`pushed ${tag} but could not read its digest (got ${digest ?? 'nothing'})`, outputTail);
      }
      const ref = `${repository}@${digest}`;
      ctx.log.info({ image: ref, durationMs: elapsed() }, 'image pushed');
      return { ok: true, image: { ref, digest, durationMs: elapsed(), outputTail } };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** The build command's arguments after the engine's global flags. */
  buildArgs(context: string, tag: string, buildxMetadataFile?: string): string[] {
    const args = buildxMetadataFile ? ['buildx', 'build', '--push', '--metadata-file', buildxMetadataFile] : ['build'];
    args.push('-t', tag, '-f', resolve(context, this.cfg.dockerfile));
    for (const [name, value] of Object.entries(this.cfg.buildArgs)) args.push('--build-arg', `${name}=${value}`);
    for (const [name, path] of Object.entries(this.cfg.buildContexts)) {
      args.push('--build-context', `${name}=${resolve(this.opts.baseDir, path)}`);
    }
    args.push(...this.cfg.flags, context);
    return args;
  }

  private async inspectRepoDigest(tag: string, repository: string, ctx: StageContext): Promise<string | undefined> {
    const res = await runCommand([...this.engine.argv, 'image', 'inspect', '--format', '{{json .RepoDigests}}', tag], {
      env: { ...this.engine.env, ...this.cfg.env },
      signal: ctx.signal,
      log: ctx.log,
    });
    if (!res.ok) return undefined;
    // The CLI may print notices around the JSON line.
    const line = res.outputTail.find((l) => l.startsWith('['));
    if (!line) return undefined;
    try {
      const list: unknown = JSON.parse(line);
      return Array.isArray(list) ? pickRepoDigest(list.filter((x): x is string => typeof x === 'string'), repository) : undefined;
    } catch {
      return undefined;
    }
  }
}

/** `docker buildx build --metadata-file` writes `{"containerimage.digest": "sha256:…", …}`. */
async function readBuildxDigest(file: string): Promise<string | undefined> {
  try {
    const meta: unknown = JSON.parse(await readFile(file, 'utf8'));
    const digest = typeof meta === 'object' && meta !== null ? (meta as Record<string, unknown>)['containerimage.digest'] : undefined;
    return typeof digest === 'string' ? digest : undefined;
  } catch {
    return undefined;
  }
}
