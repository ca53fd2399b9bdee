/**
 * The `cloudbuild` builder: `gcloud builds submit --tag IMAGE:c<cycle> CONTEXT`. Cloud Build builds
 * and pushes remotely; the pushed digest is read from the streamed build log (the push's
 * `TAG: digest: sha256:… size: N` line), so the revision is deployed by digest when it is there.
 */
import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import type { CloudBuildConfig } from '../config/container-schema.js';
import type { StageContext } from '../context.js';
import { describeCommandFailure, runCommand } from '../exec.js';
import { describeStep, findPushedDigest, StepTracker } from './build-output.js';
import type { Builder, BuildOutcome } from './builder.js';

export interface CloudBuildBuilderOptions {
  /** Folder relative paths are resolved against (the config file's folder). */
  baseDir: string;
}

export class CloudBuildBuilder implements Builder {
  readonly kind = 'cloudbuild';

  constructor(
    private readonly cfg: CloudBuildConfig,
    private readonly opts: CloudBuildBuilderOptions,
  ) {}

  /** The full command, `gcloud` first. */
  submitArgv(context: string, tag: string): string[] {
    const argv = ['gcloud', 'builds', 'submit', '--tag', tag];
    if (this.cfg.project) argv.push('--project', this.cfg.project);
    if (this.cfg.region) argv.push('--region', this.cfg.region);
    argv.push(...this.cfg.flags, context);
    return argv;
  }

  async build(ctx: StageContext): Promise<BuildOutcome> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    const context = resolve(this.opts.baseDir, this.cfg.context);
    if (!(await stat(context).then((s) => s.isDirectory(), () => false))) {
      return { ok: false, message: `build context ${context} is not a folder (build.context in the config)`, durationMs: elapsed(), outputTail: [], exitCode: null };
    }
    const tag = `${this.cfg.image}:c${String(ctx.cycle).padStart(3, '0')}`;
    const steps = new StepTracker();
    // The digest line may scroll out of the kept tail (the results table follows it): watch the stream.
    let digest: string | undefined;
    ctx.log.info({ image: tag, context }, 'Cloud Build submitted');
    const res = await runCommand(this.submitArgv(context, tag), {
      signal: ctx.signal,
      timeoutMs: this.cfg.timeoutMs,
      log: ctx.log,
      tailLines: 60,
      onLine: (line) => {
        steps.push(line);
        digest = findPushedDigest([line]) ?? digest;
        ctx.log.debug({ stage: 'build' }, line);
      },
    });
    if (!res.ok) {
      const step = steps.current();
      const at = step ? ` at ${describeStep(step)}` : '';
      const hint = res.spawnError ? ' (is the Google Cloud SDK installed and on PATH?)' : '';
      return {
        ok: false,
        message: `gcloud builds submit of ${tag} failed${at}: ${describeCommandFailure(res)}${hint}`,
        durationMs: elapsed(),
        outputTail: res.outputTail,
        exitCode: res.exitCode,
      };
    }
    digest ??= findPushedDigest(res.outputTail);
    if (!digest) ctx.log.warn({ image: tag }, 'no digest in the Cloud Build output; the revision will be deployed by tag');
    const ref = digest ? `${this.cfg.image}@${digest}` : tag;
    ctx.log.info({ image: ref, durationMs: elapsed() }, 'Cloud Build finished');
    return { ok: true, image: { ref, ...(digest ? { digest } : {}), durationMs: elapsed(), outputTail: res.outputTail } };
  }
}
