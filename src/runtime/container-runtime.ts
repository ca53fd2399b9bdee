/**
 * A local revision run as a container: the built image (by digest) run by podman or docker with PORT
 * set and its port published on 127.0.0.1, ready once it answers on the readiness path, as for a
 * process revision. The engine client runs attached, so the revision's output streams in and its
 * exit code is the container's; removal goes through the engine (`rm -f`), so a container that
 * ignores SIGTERM is still gone. A container that exits or never listens is reported like Cloud Run
 * reports a revision that fails to start: exit code and log tail.
 */
import { resolveEngine, tlsFlags, type Engine } from '../build/container-engine.js';
import { localContainerSchema, type LocalContainerConfig } from '../config/container-schema.js';
import { runCommand, startProcess, type LongRunningProcess } from '../exec.js';
import type { Logger } from '../log.js';
import {
  freePort,
  waitReady,
  type ReadinessProbe,
  type RunningRevision,
  type StartRevisionOutcome,
} from './revision-process.js';

/** Containers carry this label; `scripts/container-engine.sh stop` removes what a crash left behind. */
export const REVISION_LABEL = 'io.deploy-loop.revision';

export interface StartContainerOptions {
  /** Revision name; the container is `dl-<name>`. */
  name: string;
  /** Image reference, by digest (`REGISTRY/IMAGE@sha256:…`). */
  image: string;
  engine: Engine;
  /** Environment of the service. Passed by name (`-e NAME`) so values never show in a process list. */
  env: Record<string, string>;
  /** Port the service listens on inside the container (set as PORT). */
  containerPort: number;
  /** Host address the port is published on. */
  publishHost: string;
  /** Overrides the image's CMD when given (Cloud Run's `args`). */
  command?: string[];
  /** podman's TLS checks when pulling; undefined: off for local registries. */
  tlsVerify?: boolean;
  readiness: ReadinessProbe;
  signal?: AbortSignal;
  log?: Logger;
  redact?: (line: string) => string;
  tailLines?: number;
}

const PORT_ATTEMPTS = 3;
/** Seconds the engine waits after SIGTERM before it kills the container. */
const STOP_GRACE_S = 2;
const LOG_TAIL = 50;

/** The engine and port settings of target.local.container, as startContainerRevision takes them. */
export function containerRunSettings(
  given: LocalContainerConfig | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Pick<StartContainerOptions, 'engine' | 'containerPort' | 'publishHost' | 'tlsVerify'> {
  const cfg = given ?? localContainerSchema.parse({});
  return {
    engine: resolveEngine(cfg.engine, env),
    containerPort: cfg.port,
    publishHost: cfg.publishHost,
    ...(cfg.tlsVerify !== undefined ? { tlsVerify: cfg.tlsVerify } : {}),
  };
}

/** Removes a container at once (no grace: its loop is gone), whichever engine started it. */
function removeArgv(engine: Engine, cname: string): string[] {
  return engine.kind === 'podman' ? [...engine.argv, 'rm', '-f', '-t', '0', cname] : [...engine.argv, 'rm', '-f', cname];
}

export function containerName(revision: string): string {
  return `dl-${revision}`;
}

export async function startContainerRevision(opts: StartContainerOptions): Promise<StartRevisionOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const log = opts.log?.child({ revision: opts.name });
  const cname = containerName(opts.name);
  const engineCmd = (args: string[]) => runCommand([...opts.engine.argv, ...args], { env: opts.engine.env, tailLines: LOG_TAIL });
  /** A serving revision gets STOP_GRACE_S to finish after SIGTERM; one that failed to start gets none. */
  const remove = async (graceS: number) => {
    if (opts.engine.kind === 'podman') {
      await engineCmd(['rm', '-f', '-t', String(graceS), cname]);
      return;
    }
    // docker's rm has no grace period: stop first.
    if (graceS > 0) await engineCmd(['stop', '-t', String(graceS), cname]);
    await engineCmd(['rm', '-f', cname]);
  };
  const envNames = Object.keys(opts.env).filter((k) => k !== 'PORT');
  for (let attempt = 1; ; attempt++) {
    const port = await freePort(opts.publishHost);
    const argv = [
      ...opts.engine.argv, 'run', '--quiet',
      '--name', cname,
      '--label', `${REVISION_LABEL}=${opts.name}`,
      ...tlsFlags(opts.engine, opts.image, opts.tlsVerify),
      '-p', `${opts.publishHost}:${port}:${opts.containerPort}`,
      '-e', 'PORT',
      ...envNames.flatMap((n) => ['-e', n]),
      opts.image,
      ...(opts.command ?? []),
    ];
    let proc: LongRunningProcess;
    try {
      proc = startProcess(argv, {
        env: { ...opts.engine.env, ...opts.env, PORT: String(opts.containerPort) },
        tailLines: opts.tailLines ?? 200,
        onLine: log ? (line) => log.debug({ line: opts.redact ? opts.redact(line) : line }, 'container output') : undefined,
        label: opts.name,
        // If the loop is killed, the client dies but the container runs on: the next run removes it.
        afterStop: removeArgv(opts.engine, cname),
      });
    } catch (err) {
      return { ok: false, message: `could not start ${opts.engine.kind}: ${String(err)}`, exitCode: null, logTail: [], durationMs: elapsed() };
    }
    log?.debug({ port, image: opts.image, attempt }, 'container starting');
    const ready = await waitReady(proc, opts.publishHost, port, opts.readiness, started, opts.signal);
    if (ready === 'ready') {
      const startMs = elapsed();
      log?.info({ port, startMs, container: cname }, 'container revision ready');
      const revision: RunningRevision = {
        name: opts.name,
        port,
        url: `http://${opts.publishHost}:${port}`,
        startMs,
        process: proc,
        stop: async () => {
          await remove(STOP_GRACE_S);
          await proc.stop(1000);
        },
      };
      return { ok: true, revision };
    }
    // Not ready: find out whether the container ran at all, and what it said (its own logs, without the engine's pull output).
    const state = await inspectExit(opts.engine, cname);
    const logs = state.ran ? await engineCmd(['logs', '--tail', String(LOG_TAIL), cname]) : undefined;
    const logTail = logs?.ok ? logs.outputTail : proc.outputTail();
    await remove(0);
    await proc.stop(1000);
    const clientOutput = proc.outputTail().join('\n');
    if (!state.ran && attempt < PORT_ATTEMPTS && /address already in use/i.test(clientOutput)) {
      log?.debug({ port }, 'published port taken before the container could bind it; retrying on another');
      continue;
    }
    if (ready === 'exited') {
      if (!state.ran) {
        const { exitCode } = await proc.exited;
        const why = lastLine(proc.outputTail()) ?? 'no output';
        return { ok: false, message: `${opts.engine.kind} could not run ${opts.image}: ${why}`, exitCode, logTail, durationMs: elapsed() };
      }
      return { ok: false, message: `container exited with code ${state.exitCode} before becoming ready`, exitCode: state.exitCode, logTail, durationMs: elapsed() };
    }
    const message =
      ready === 'aborted'
        ? 'aborted before the container became ready'
        : `container did not answer GET ${opts.readiness.path} on port ${opts.containerPort} within ${opts.readiness.timeoutMs} ms`;
    return { ok: false, message, exitCode: null, logTail, durationMs: elapsed() };
  }
}

/** Whether the container got as far as running, and its exit code. A container the engine created but could not start counts as not run. */
async function inspectExit(engine: Engine, cname: string): Promise<{ ran: boolean; exitCode: number | null }> {
  const res = await runCommand([...engine.argv, 'inspect', '--format', '{{.State.Status}} {{.State.ExitCode}}', cname], { env: engine.env });
  const m = res.ok ? /^(\w+) (-?\d+)$/.exec(lastLine(res.outputTail) ?? '') : null;
  if (!m || m[1] === 'created' || m[1] === 'configured') return { ran: false, exitCode: null };
  return { ran: true, exitCode: Number(m[2]) };
}

function lastLine(lines: readonly string[]): string | undefined {
  return lines.filter((l) => l.trim() !== '').at(-1);
}
