/**
 * A real container engine and local registry for the container tests, through
 * scripts/container-engine.sh: an engine that is already up (CI runs scripts/ci-containers.sh first)
 * is used as it is; otherwise the tests start one and stop what they started. When none can start,
 * `skipReason` says why and the tests skip.
 */
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
const SCRIPT = join(REPO_ROOT, 'scripts', 'container-engine.sh');
const run = promisify(execFile);

export interface TestEngine {
  /** DEPLOY_LOOP_ENGINE, DEPLOY_LOOP_ENGINE_DIR, CONTAINERS_CONF (podman), DEPLOY_LOOP_REGISTRY. */
  env: Record<string, string>;
  kind: 'podman' | 'docker';
  registry: string;
  /** argv prefix for engine commands the tests run themselves (inspect, ps). */
  argv: string[];
  /** True when this process started the registry, so it stops it too. */
  startedHere: boolean;
}

export type EngineSetup = { ok: true; engine: TestEngine } | { ok: false; skipReason: string };

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}

async function script(cmd: string, env: NodeJS.ProcessEnv): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const r = await run('bash', [SCRIPT, cmd], { env, timeout: 240_000, maxBuffer: 4 << 20 });
    return { ok: true, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, stdout: e.stdout ?? '', stderr: e.stderr ?? e.message };
  }
}

export async function setUpEngine(): Promise<EngineSetup> {
  const running = await script('status', process.env);
  const res = running.ok ? running : await script('start', process.env);
  if (!res.ok) {
    const why = res.stderr.trim().split('\n').slice(-3).join(' / ');
    return { ok: false, skipReason: `no container engine could start (${why}); run scripts/container-engine.sh install` };
  }
  const env = parseEnv(res.stdout);
  const kind = env.DEPLOY_LOOP_ENGINE === 'docker' ? 'docker' : 'podman';
  const registry = env.DEPLOY_LOOP_REGISTRY;
  if (!registry) return { ok: false, skipReason: `scripts/container-engine.sh printed no DEPLOY_LOOP_REGISTRY:\n${res.stdout}` };
  const dir = env.DEPLOY_LOOP_ENGINE_DIR ?? '';
  const argv = kind === 'podman' ? ['podman', '--root', join(dir, 'storage'), '--runroot', join(dir, 'runroot')] : ['docker'];
  return { ok: true, engine: { env, kind, registry, argv, startedHere: !running.ok } };
}

export async function tearDownEngine(engine: TestEngine | undefined): Promise<void> {
  if (engine?.startedHere) await script('stop', { ...process.env, ...engine.env });
}

/** Runs an engine command; resolves with its stdout, or undefined when it fails. */
export async function engineOutput(engine: TestEngine, args: string[]): Promise<string | undefined> {
  const [file, ...rest] = [...engine.argv, ...args];
  try {
    const r = await run(file!, rest, { env: { ...process.env, ...engine.env }, timeout: 60_000 });
    return r.stdout;
  } catch {
    return undefined;
  }
}
