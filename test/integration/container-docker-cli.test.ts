/**
 * The docker builder's command sequence and digest reading, against a fake `docker` CLI on PATH
 * (a shell script that records its arguments and prints what Docker prints). The real engine path is
 * covered with podman in container-image.test.ts; no Docker daemon runs on these machines.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ContainerBuilder } from '../../src/build/container.js';
import { dockerBuildSchema } from '../../src/config/container-schema.js';
import { silentLogger } from '../../src/log.js';

const PUSHED = `sha256:${'d'.repeat(64)}`;
const INSPECTED = `sha256:${'e'.repeat(64)}`;
const BUILDX = `sha256:${'f'.repeat(64)}`;

// MODE=push-digest | inspect-only | fail-build; every call appends its argv as one line to calls.txt.
const FAKE_DOCKER = `#!/bin/sh
echo "$*" >> "$FAKE_DIR/calls.txt"
case "$1" in
  build)
    echo "Step 1/3 : FROM localhost/deploy-loop/node-base:latest"
    echo "Step 2/3 : RUN [\\"node\\", \\"scripts/check.mjs\\"]"
    if [ "$MODE" = fail-build ]; then echo "SyntaxError: Unexpected end of input" >&2; echo "The command returned a non-zero code: 1"; exit 1; fi
    echo "Step 3/3 : CMD [\\"node\\", \\"server.mjs\\"]"
    echo "Successfully tagged x"
    ;;
  push)
    echo "The push refers to repository [x]"
    if [ "$MODE" = push-digest ]; then echo "c004: digest: ${PUSHED} size: 1573"; fi
    ;;
  image)
    echo "WARNING: a notice on stderr" >&2
    echo '["other.io/chat@${PUSHED}","127.0.0.1:5000/team/chat@${INSPECTED}"]'
    ;;
  buildx)
    while [ $# -gt 0 ]; do [ "$1" = --metadata-file ] && printf '{"containerimage.digest": "${BUILDX}"}' > "$2"; shift; done
    ;;
esac
`;

let dir: string;
let savedPath: string | undefined;
const ctx = { signal: new AbortController().signal, log: silentLogger(), cycle: 4 };

function builder(extra: Record<string, unknown> = {}, mode = 'push-digest'): ContainerBuilder {
  const cfg = dockerBuildSchema.parse({ kind: 'docker', registry: '127.0.0.1:5000', image: 'team/chat', context: 'svc', env: { MODE: mode, FAKE_DIR: dir }, ...extra });
  return new ContainerBuilder(cfg, { baseDir: dir, env: {} });
}

async function calls(): Promise<string[]> {
  return (await readFile(join(dir, 'calls.txt'), 'utf8')).trim().split('\n');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'docker-cli-test-'));
  await mkdir(join(dir, 'bin'));
  await mkdir(join(dir, 'svc'));
  await mkdir(join(dir, 'deps'));
  await writeFile(join(dir, 'bin', 'docker'), FAKE_DOCKER);
  await chmod(join(dir, 'bin', 'docker'), 0o755);
  savedPath = process.env.PATH;
  process.env.PATH = `${join(dir, 'bin')}:${savedPath ?? ''}`;
});

beforeEach(async () => {
  await rm(join(dir, 'calls.txt'), { force: true });
});

afterAll(async () => {
  process.env.PATH = savedPath;
  await rm(dir, { recursive: true, force: true });
});

describe('docker builder (fake CLI)', () => {
  it('builds with the cycle tag, build args, named contexts and flags, pushes, and deploys by the pushed digest', async () => {
    const b = builder({ buildArgs: { NODE_ENV: 'production' }, buildContexts: { deps: 'deps' }, flags: ['--pull=false'] });
    const outcome = await b.build(ctx);
    expect(outcome).toMatchObject({ ok: true, image: { ref: `127.0.0.1:5000/team/chat@${PUSHED}`, digest: PUSHED } });
    const tag = '127.0.0.1:5000/team/chat:c004';
    expect(await calls()).toEqual([
      `build -t ${tag} -f ${join(dir, 'svc', 'Dockerfile')} --build-arg NODE_ENV=production --build-context deps=${join(dir, 'deps')} --pull=false ${join(dir, 'svc')}`,
      `push ${tag}`,
    ]);
  });

  it('reads the digest from RepoDigests of the pushed repository when the push output has none', async () => {
    const outcome = await builder({}, 'inspect-only').build(ctx);
    expect(outcome).toMatchObject({ ok: true, image: { ref: `127.0.0.1:5000/team/chat@${INSPECTED}` } });
    expect((await calls())[2]).toBe('image inspect --format {{json .RepoDigests}} 127.0.0.1:5000/team/chat:c004');
  });

  it('builds and pushes in one buildx step and reads the digest from its metadata file', async () => {
    const outcome = await builder({ buildx: true }).build(ctx);
    expect(outcome).toMatchObject({ ok: true, image: { ref: `127.0.0.1:5000/team/chat@${BUILDX}` } });
    const all = await calls();
    expect(all).toHaveLength(1);
    expect(all[0]).toMatch(/^buildx build --push --metadata-file \S+metadata\.json -t 127\.0\.0\.1:5000\/team\/chat:c004 /);
  });

  it('reports a failed build with the step it failed in and does not push', async () => {
    const outcome = await builder({}, 'fail-build').build(ctx);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.message).toContain('failed at step 2/3 (RUN ["node", "scripts/check.mjs"])');
    expect(outcome.exitCode).toBe(1);
    expect(outcome.outputTail).toContain('SyntaxError: Unexpected end of input');
    expect(await calls()).toHaveLength(1);
  });
});
