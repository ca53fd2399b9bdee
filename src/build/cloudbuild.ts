/**
 * The `cloudbuild` builder: `gcloud builds submit --async --tag IMAGE:c<cycle> CONTEXT`, then
 * `gcloud builds describe ID` until the build ends, reading its status and the pushed image's
 * digest from the Build resource (results.images). Without --async, gcloud streams the build log
 * and exits 1 when the caller may not read the logs bucket ("This tool can only stream logs if you
 * are Viewer/Owner of the project") although the build goes on and succeeds; describing the build
 * needs only cloudbuild.builds.get. A failed build's log is fetched once with `gcloud builds log`,
 * best effort.
 */
import { resolve } from 'node:path';
import { stat } from 'node:fs/promises';
import type { CloudBuildConfig } from '../config/container-schema.js';
import type { StageContext } from '../context.js';
import { describeCommandFailure, runCommand } from '../exec.js';
import { isDigest } from './build-output.js';
import { buildClock, type Builder, type BuildOutcome } from './builder.js';

export interface CloudBuildBuilderOptions {
  /** Folder relative paths are resolved against (the config file's folder). */
  baseDir: string;
  /** Pauses between describes: the first, growing by half up to the last (tests shorten them). */
  pollMs?: { first: number; max: number };
}

/** Cloud Build's Build.Status values that end a build, and the one that means it worked. */
const DONE = new Set(['SUCCESS', 'FAILURE', 'INTERNAL_ERROR', 'TIMEOUT', 'CANCELLED', 'EXPIRED']);
const DEFAULT_POLL = { first: 2000, max: 10_000 };
/** One describe (or log, or cancel) call at most: gcloud itself retries its HTTP calls. */
const CALL_TIMEOUT_MS = 60_000;
/** Describes that fail in a row before the build is given up on (a network blip is not a failed build). */
const MAX_DESCRIBE_FAILURES = 5;

/** What `gcloud builds describe --format=json` says, the fields used here. */
interface BuildResource {
  id?: string;
  status?: string;
  statusDetail?: string;
  logUrl?: string;
  failureInfo?: { type?: string; detail?: string };
  results?: { images?: Array<{ name?: string; digest?: string }> };
  steps?: Array<{ name?: string; id?: string; status?: string }>;
}

export class CloudBuildBuilder implements Builder {
  readonly kind = 'cloudbuild';

  constructor(
    private readonly cfg: CloudBuildConfig,
    private readonly opts: CloudBuildBuilderOptions,
  ) {}

  /** The submit command, `gcloud` first: asynchronous, so no log streaming and no logs-bucket rights needed. */
  submitArgv(context: string, tag: string): string[] {
    const argv = ['gcloud', 'builds', 'submit', '--async', '--format=value(id)', '--tag', tag];
    argv.push(...this.where(), ...this.cfg.flags, context);
    return argv;
  }

  /** `gcloud builds describe ID --format=json`, in the build's project and region. */
  describeArgv(id: string): string[] {
    return ['gcloud', 'builds', 'describe', id, '--format=json', ...this.where()];
  }

  async build(ctx: StageContext): Promise<BuildOutcome> {
    const { elapsed, fail } = buildClock();
    const context = resolve(this.opts.baseDir, this.cfg.context);
    if (!(await stat(context).then((s) => s.isDirectory(), () => false))) {
      return fail(`build context ${context} is not a folder (build.context in the config)`);
    }
    const tag = `${this.cfg.image}:c${String(ctx.cycle).padStart(3, '0')}`;
    const deadline = performance.now() + this.cfg.timeoutMs;
    const left = () => Math.max(1, Math.round(deadline - performance.now()));
    ctx.log.info({ image: tag, context }, 'submitting to Cloud Build');
    const sub = await runCommand(this.submitArgv(context, tag), { signal: ctx.signal, timeoutMs: left(), log: ctx.log, tailLines: 60 });
    const id = sub.ok ? buildId(sub.outputTail) : undefined;
    if (!sub.ok || !id) {
      const hint = sub.spawnError ? ' (is the Google Cloud SDK installed and on PATH?)' : '';
      const why = sub.ok ? 'gcloud printed no build id' : describeCommandFailure(sub);
      return fail(`gcloud builds submit of ${tag} failed: ${why}${hint}`, sub.outputTail, sub.exitCode);
    }
    ctx.log.info({ build: id, image: tag }, 'Cloud Build submitted; waiting for it');

    const poll = this.opts.pollMs ?? DEFAULT_POLL;
    let pause = poll.first;
    let failures = 0;
    let status = 'QUEUED';
    for (;;) {
      if (ctx.signal.aborted || performance.now() >= deadline) {
        const aborted = ctx.signal.aborted;
        await this.cancel(id, ctx);
        const why = aborted ? 'interrupted' : `still ${status} after ${(this.cfg.timeoutMs / 1000).toFixed(this.cfg.timeoutMs % 1000 ? 1 : 0)} s (build.timeoutMs)`;
        return fail(`Cloud Build ${id} of ${tag}: ${why}; the build was cancelled`);
      }
      const res = await runCommand(this.describeArgv(id), { signal: ctx.signal, timeoutMs: Math.min(CALL_TIMEOUT_MS, left()), log: ctx.log, tailLines: 5000 });
      const build = res.ok ? parseBuild(res.outputTail) : undefined;
      if (!build?.status) {
        if (ctx.signal.aborted) continue;
        if (++failures >= MAX_DESCRIBE_FAILURES) {
          const why = res.ok ? 'its output is not a Build resource' : describeCommandFailure(res);
          return fail(
            `gcloud builds describe ${id} failed ${failures} times in a row: ${why} (the build may still be running; describing it needs cloudbuild.builds.get)`,
            res.outputTail.slice(-60),
            res.exitCode,
          );
        }
      } else {
        failures = 0;
        if (build.status !== status) ctx.log.info({ build: id, status: build.status }, 'Cloud Build status');
        status = build.status;
        if (DONE.has(status)) return this.finished(ctx, id, tag, build, elapsed);
      }
      await sleep(Math.min(pause, left()), ctx.signal);
      pause = Math.min(Math.round(pause * 1.5), poll.max);
    }
  }

  private where(): string[] {
    return [...(this.cfg.project ? ['--project', this.cfg.project] : []), ...(this.cfg.region ? ['--region', this.cfg.region] : [])];
  }

  private async finished(ctx: StageContext, id: string, tag: string, build: BuildResource, elapsed: () => number): Promise<BuildOutcome> {
    if (build.status === 'SUCCESS') {
      const pushed = build.results?.images ?? [];
      const digest = [pushed.find((i) => i.name === tag), pushed.find((i) => i.name?.startsWith(`${this.cfg.image}:`) || i.name === this.cfg.image)]
        .map((i) => i?.digest)
        .find((d): d is string => typeof d === 'string' && isDigest(d));
      if (!digest) ctx.log.warn({ build: id, image: tag }, 'Cloud Build names no digest for the image; the revision will be deployed by tag');
      const ref = digest ? `${this.cfg.image}@${digest}` : tag;
      ctx.log.info({ build: id, image: ref, durationMs: elapsed() }, 'Cloud Build finished');
      const outputTail = [`Cloud Build ${id}: SUCCESS`, ...(build.logUrl ? [`Logs: ${build.logUrl}`] : [])];
      return { ok: true, image: { ref, ...(digest ? { digest } : {}), durationMs: elapsed(), outputTail } };
    }
    const failedStep = (build.steps ?? []).findIndex((s) => s.status === 'FAILURE' || s.status === 'TIMEOUT');
    const step = failedStep >= 0 ? ` at step ${failedStep} (${build.steps?.[failedStep]?.id || build.steps?.[failedStep]?.name || '?'})` : '';
    const detail = [build.statusDetail, build.failureInfo?.detail].filter((d): d is string => Boolean(d)).join('; ');
    const outputTail = await this.buildLog(ctx, id);
    if (build.logUrl) outputTail.push(`Logs: ${build.logUrl}`);
    return {
      ok: false,
      message: `Cloud Build ${id} of ${tag} ended ${build.status}${step}${detail ? `: ${detail}` : ''}`,
      durationMs: elapsed(),
      outputTail,
      exitCode: null,
    };
  }

  /** The last lines of a failed build's log; a line saying why when it cannot be read (no log rights). */
  private async buildLog(ctx: StageContext, id: string): Promise<string[]> {
    const res = await runCommand(['gcloud', 'builds', 'log', id, ...this.where()], { signal: AbortSignal.timeout(CALL_TIMEOUT_MS), log: ctx.log, tailLines: 60 });
    if (res.ok) return res.outputTail;
    return [`the build log could not be read (${describeCommandFailure(res)}); reading it needs roles/logging.viewer or a logs bucket you may read`];
  }

  /** Best effort: a build nobody waits for should not go on pushing. */
  private async cancel(id: string, ctx: StageContext): Promise<void> {
    const res = await runCommand(['gcloud', 'builds', 'cancel', id, ...this.where()], { signal: AbortSignal.timeout(CALL_TIMEOUT_MS), log: ctx.log, tailLines: 5 });
    if (!res.ok) ctx.log.warn({ build: id, error: describeCommandFailure(res) }, 'could not cancel the Cloud Build build');
  }
}

/** The build id from submit's output: `--format=value(id)` prints it alone; gcloud also logs `Created [.../builds/ID].` */
export function buildId(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const m = /^Created \[https:\/\/cloudbuild\.googleapis\.com\/v1\/projects\/[^/]+\/(?:locations\/[^/]+\/)?builds\/([\w-]+)\]/.exec(line.trim());
    if (m) return m[1];
  }
  return [...lines].reverse().map((l) => l.trim()).find((l) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(l));
}

/** The Build resource in describe's output (gcloud may print warnings before the JSON). */
export function parseBuild(lines: readonly string[]): BuildResource | undefined {
  const start = lines.findIndex((l) => l.trimStart().startsWith('{'));
  if (start < 0) return undefined;
  let end = lines.length;
  while (end > start && !lines[end - 1]?.trimEnd().endsWith('}')) end--;
  try {
    const value = JSON.parse(lines.slice(start, end).join('\n')) as unknown;
    return value && typeof value === 'object' ? (value as BuildResource) : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((done) => {
    const finish = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      done();
    };
    const timer = setTimeout(finish, ms);
    signal.addEventListener('abort', finish, { once: true });
  });
}
