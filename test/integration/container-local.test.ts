/**
 * Real images, for real: the example chat-service built by the engine (podman here, docker where a
 * daemon answers), pushed to a local registry, deployed by digest on the local target's container
 * runtime and smoked over HTTP and WebSocket. Broken images fail the way Cloud Run reports them: a
 * build names its failing step; a container that exits at start or never listens is a deploy
 * failure with its exit code and log tail. Last, the real CLI runs examples/container.yaml: the demo
 * loop, fault, fix and all, with an image per cycle. One file, so one process starts and stops the
 * engine. Skips only when no engine can start (reason printed).
 */
import { cp, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltImage } from '../../src/build/builder.js';
import { ContainerBuilder } from '../../src/build/container.js';
import { buildSchema, checkSchema, type LocalTargetConfig } from '../../src/config/schema.js';
import type { EngineBuildConfig } from '../../src/config/container-schema.js';
import { LocalTarget } from '../../src/deploy/local/target.js';
import { cloudRunTargetSchema } from '../../src/config/cloudrun-schema.js';
import { CloudRunTarget } from '../../src/deploy/cloudrun/target.js';
import { startEmulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { reapSurvivors } from '../../src/runtime/reap.js';
import { runSuite } from '../../src/smoke/runner.js';
import { runCli, scratchDir } from '../helpers/cli.js';
import { engineOutput, REPO_ROOT, setUpEngine, tearDownEngine, type TestEngine } from './container-fixtures.js';

const setup = await setUpEngine();
if (!setup.ok) console.warn(`container tests skipped: ${setup.skipReason}`);
const engine: TestEngine | undefined = setup.ok ? setup.engine : undefined;

/** Image builds on a busy two-core machine: generous bounds, not performance assertions. */
const SLOW = 180_000;
const ctx = (cycle = 1) => ({ signal: new AbortController().signal, log: silentLogger(), cycle });
const savedEnv = { ...process.env };
const targets: LocalTarget[] = [];
let scratch: string;
let exampleRoot: string | undefined;

function builderFor(image: string, context: string, extra: Record<string, unknown> = {}): ContainerBuilder {
  const e = engine!;
  const cfg = buildSchema.parse({ kind: e.kind, registry: e.registry, image, context, ...extra }) as EngineBuildConfig;
  return new ContainerBuilder(cfg, { baseDir: REPO_ROOT, env: e.env });
}

function containerTarget(over: Partial<LocalTargetConfig> = {}): LocalTarget {
  const cfg: LocalTargetConfig = {
    kind: 'local',
    runtime: 'container',
    container: { engine: engine!.kind, publishHost: '127.0.0.1', port: 8080 },
    host: '127.0.0.1',
    port: 0,
    env: { ADMIN_TOKEN: 'admin-secret-token' },
    secretEnv: ['ADMIN_TOKEN'],
    readiness: { path: '/healthz', timeoutMs: 20_000, intervalMs: 100 },
    keepRevisions: 3,
    ...over,
  };
  const target = new LocalTarget(cfg, { service: 'chat-service', log: silentLogger(), baseDir: REPO_ROOT });
  targets.push(target);
  return target;
}

/** A one-off image folder: a Dockerfile on the local base image. */
async function imageDir(name: string, dockerfile: string): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'Dockerfile'), `FROM localhost/deploy-loop/node-base:latest\n${dockerfile}`);
  return dir;
}

async function mustBuild(builder: ContainerBuilder): Promise<BuiltImage> {
  const outcome = await builder.build(ctx());
  if (!outcome.ok) throw new Error(`${outcome.message}\n${outcome.outputTail.join('\n')}`);
  return outcome.image;
}

async function containersNamed(name: string): Promise<string[]> {
  const out = await engineOutput(engine!, ['ps', '-a', '--filter', `name=^dl-${name}$`, '--format', '{{.Names}}']);
  return (out ?? '').split('\n').filter(Boolean);
}

/**
 * The layout examples/container.yaml expects around it (what `npm start` prepares), in a scratch
 * tree: the example folder, the demo working copy with its fault, and node_modules for the `deps`
 * build context.
 */
async function exampleTree(): Promise<string> {
  const root = await scratchDir('container-example');
  await mkdir(join(root, 'examples'), { recursive: true });
  await cp(join(REPO_ROOT, 'examples', 'container.yaml'), join(root, 'examples', 'container.yaml'));
  await cp(join(REPO_ROOT, 'examples', 'chat-service'), join(root, 'examples', 'chat-service'), { recursive: true });
  await cp(join(REPO_ROOT, 'examples', 'chat-service'), join(root, '.deploy-loop', 'demo', 'chat-service'), { recursive: true });
  await symlink(join(REPO_ROOT, 'node_modules'), join(root, 'node_modules'));
  return root;
}

describe.skipIf(!setup.ok)('container images on the local target', () => {
  beforeAll(async () => {
    // The LocalTarget picks the engine from the environment, as the CLI does after `eval "$(…start)"`.
    Object.assign(process.env, engine!.env);
    scratch = await mkdtemp(join(tmpdir(), 'container-test-'));
  });

  afterAll(async () => {
    await Promise.allSettled(targets.map((t) => t.close()));
    process.env = savedEnv;
    if (scratch) await rm(scratch, { recursive: true, force: true });
    if (exampleRoot) await rm(exampleRoot, { recursive: true, force: true });
    await tearDownEngine(engine);
  }, SLOW);

  it('builds the example, pushes it, deploys it by digest in a container and passes HTTP and WebSocket smoke checks', async () => {
    const image = await mustBuild(builderFor('deploy-loop-test/chat-service', 'examples/chat-service', { buildContexts: { deps: 'node_modules' } }));
    expect(image.ref).toMatch(new RegExp(`^${engine!.registry.replace(/\./g, '\\.')}/deploy-loop-test/chat-service@sha256:[0-9a-f]{64}$`));

    // The registry holds the manifest under that digest: what runs is what was pushed.
    const manifest = await fetch(`http://${engine!.registry}/v2/deploy-loop-test/chat-service/manifests/${image.digest}`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' },
    });
    expect(manifest.status).toBe(200);

    const target = containerTarget();
    const deployed = await target.deployCandidate(ctx(), image, 'candidate');
    if (!deployed.ok) throw new Error(`${deployed.message}\n${deployed.logTail.join('\n')}`);
    expect(deployed.revision.image).toBe(image.ref);

    const checks = [
      { name: 'health', kind: 'http', path: '/healthz', expect: { json: { ok: true, revision: deployed.revision.name } } },
      { name: 'echo', kind: 'websocket', path: '/ws/echo', script: [{ send: { type: 'ping', n: 1 } }, { expect: { json: { type: 'pong', n: 1 } } }] },
      { name: 'admin', kind: 'websocket', path: '/ws/admin', headers: { authorization: 'Bearer admin-secret-token' }, script: [] },
    ].map((c) => checkSchema.parse(c));
    const results = await runSuite(checks, deployed.revision.url, { concurrency: 3, defaults: { timeoutMs: 5000, retries: 1, retryDelayMs: 200 } });
    expect(results.map((r) => [r.name, r.status])).toEqual([['health', 'pass'], ['echo', 'pass'], ['admin', 'pass']]);

    // Its output is collected (secrets redacted), and closing the target removes the container.
    expect((await target.logs(deployed.revision.name, 20)).join('\n')).toMatch(/listening on/);
    expect(await containersNamed(deployed.revision.name)).toHaveLength(1);
    await target.close();
    expect(await containersNamed(deployed.revision.name)).toEqual([]);
  }, SLOW);

  it('reports a container that exits at start as a deploy failure with its exit code and log tail, and removes it', async () => {
    const dir = await imageDir('crash', 'CMD ["node", "-e", "console.error(\'boom: DATABASE_URL is not set\'); process.exit(3)"]\n');
    const image = await mustBuild(builderFor('deploy-loop-test/crash', dir));
    const outcome = await containerTarget().deployCandidate(ctx(), image, 'candidate');
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.exitCode).toBe(3);
    expect(outcome.message).toMatch(/exited with code 3/);
    expect(outcome.logTail).toContain('boom: DATABASE_URL is not set');
    expect(await containersNamed(outcome.revisionName!)).toEqual([]);
  }, SLOW);

  it('removes the container of a loop killed with SIGKILL when the next run reaps its process journal', async () => {
    const dir = await imageDir('orphan', 'CMD ["node", "-e", "require(\'http\').createServer((q, s) => s.end(\'ok\')).listen(8080)"]\n');
    const image = await mustBuild(builderFor('deploy-loop-test/orphan', dir));
    const reports = join(scratch, 'orphan-reports');
    await mkdir(reports, { recursive: true });
    // A loop in its own process: it journals its groups, deploys the container, then is killed.
    const dist = (m: string) => JSON.stringify(pathToFileURL(join(REPO_ROOT, 'dist', m)).href);
    const script = `
      const { openProcessJournal } = await import(${dist('runtime/process-journal.js')});
      const { LocalTarget } = await import(${dist('deploy/local/target.js')});
      const { silentLogger } = await import(${dist('log.js')});
      openProcessJournal(${JSON.stringify(reports)});
      const cfg = { kind: 'local', runtime: 'container', container: { engine: ${JSON.stringify(engine!.kind)}, publishHost: '127.0.0.1', port: 8080 },
        host: '127.0.0.1', port: 0, env: {}, secretEnv: [], readiness: { path: '/', timeoutMs: 20000, intervalMs: 100 }, keepRevisions: 3 };
      const t = new LocalTarget(cfg, { service: 'orphan', log: silentLogger(), baseDir: ${JSON.stringify(REPO_ROOT)} });
      const out = await t.deployCandidate({ signal: new AbortController().signal, log: silentLogger(), cycle: 1 }, ${JSON.stringify(image)}, 'candidate');
      console.log(out.ok ? 'READY ' + out.revision.name : 'FAILED ' + out.message);
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
    const first = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`loop exited (${code}) before deploying: ${out}`)));
    });
    expect(first).toMatch(/^READY /);
    const revision = first.slice('READY '.length);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    // The client is gone with its loop or not; the container is not: this is what a crash leaves.
    expect(await containersNamed(revision)).toHaveLength(1);

    const stopped = await reapSurvivors(reports, silentLogger(), { graceMs: 1000 });
    expect(stopped).toEqual([expect.objectContaining({ label: revision, kind: 'process', afterStop: 'done' })]);
    expect(await containersNamed(revision)).toEqual([]);
    expect(await readdir(join(reports, '.processes'))).toEqual([]);
  }, SLOW);

  it('reports a container that never listens as a deploy failure after the readiness timeout', async () => {
    const dir = await imageDir('silent', 'CMD ["node", "-e", "console.log(\'warming up forever\'); setInterval(() => {}, 1000)"]\n');
    const image = await mustBuild(builderFor('deploy-loop-test/silent', dir));
    const target = containerTarget({ readiness: { path: '/healthz', timeoutMs: 2500, intervalMs: 100 } });
    const outcome = await target.deployCandidate(ctx(), image, 'candidate');
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.message).toMatch(/did not answer GET \/healthz .* within 2500 ms/);
    expect(outcome.logTail).toContain('warming up forever');
    expect(await containersNamed(outcome.revisionName!)).toEqual([]);
  }, SLOW);

  it('fails a build at the failing Dockerfile step, with its output', async () => {
    const dir = await imageDir('badbuild', 'RUN ["node", "-e", "console.error(\'SyntaxError: Unexpected token\'); process.exit(2)"]\nCMD ["node"]\n');
    const outcome = await builderFor('deploy-loop-test/badbuild', dir).build(ctx());
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.message).toMatch(/failed at step 2\/3 \(RUN \["node", "-e"/);
    expect(outcome.outputTail.join('\n')).toContain('SyntaxError: Unexpected token');
  }, SLOW);

  it('runs the demo loop of examples/container.yaml with real images: the fault fails cycle 1, the fix passes cycle 2', async () => {
    exampleRoot = await exampleTree();
    const run = await runCli(['run', '--config', 'examples/container.yaml', '--log-level', 'warn'], { cwd: exampleRoot, env: engine!.env });
    expect({ code: run.code, stdout: run.stdout }).toMatchObject({ code: 0, stdout: expect.stringMatching(/cycle 1: gate-failed[\s\S]*cycle 2: passed/) });
    const reports = await readdir(join(exampleRoot, 'reports'));
    expect(reports).toContain('cycle-002.md');
    // The loop closed its target: no deploy-loop container is left running.
    const left = await engineOutput(engine!, ['ps', '-a', '--filter', 'label=io.deploy-loop.revision', '--format', '{{.Names}}']);
    expect(left?.trim()).toBe('');
  }, SLOW);

  it('runs a pushed image by digest as a container on the Cloud Run emulator, and reports one that exits at start as not ready', async () => {
    const emu = await startEmulator({ config: { operationDelayMs: 20, readiness: { path: '/healthz', timeoutMs: 20_000 }, containers: { engine: engine!.kind }, adminPort: false } });
    const cfg = cloudRunTargetSchema.parse({
      kind: 'cloudrun',
      project: 'demo-project',
      region: 'europe-west4',
      access: 'public',
      endpoint: { host: '127.0.0.1', port: emu.port, insecure: true },
      operationTimeoutMs: 60_000,
    });
    const target = new CloudRunTarget(cfg, { service: 'chat-emulated', log: silentLogger() });
    try {
      const image = await mustBuild(builderFor('deploy-loop-test/chat-service', 'examples/chat-service', { buildContexts: { deps: 'node_modules' } }));
      const deployed = await target.deployCandidate(ctx(), image, 'candidate');
      if (!deployed.ok) throw new Error(`${deployed.message}\n${deployed.logTail.join('\n')}`);
      const health = await fetch(new URL('/healthz', deployed.revision.url));
      expect(health.status).toBe(200);
      expect(await health.json()).toMatchObject({ ok: true, revision: deployed.revision.name });
      expect(await containersNamed(deployed.revision.name)).toHaveLength(1);

      const dir = await imageDir('emu-crash', 'CMD ["node", "-e", "console.error(\'boom: no DATABASE_URL\'); process.exit(3)"]\n');
      const broken = await mustBuild(builderFor('deploy-loop-test/emu-crash', dir));
      const failed = await target.deployCandidate(ctx(2), broken, 'candidate');
      expect(failed.ok).toBe(false);
      if (failed.ok) return;
      expect(failed.reason).toBe('HealthCheckContainerError');
      // Cloud Run's condition carries a Logs URL; the container's output comes from Cloud Logging.
      expect(failed.logTail).toContain('boom: no DATABASE_URL');
    } finally {
      await target.close();
      await emu.close();
    }
    // The emulator removes the containers it started.
    const left = await engineOutput(engine!, ['ps', '-a', '--filter', 'name=^dl-chat-emulated', '--format', '{{.Names}}']);
    expect(left?.trim()).toBe('');
  }, SLOW);
});
