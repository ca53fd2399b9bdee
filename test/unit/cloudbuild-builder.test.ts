/**
 * The cloudbuild builder. No Google Cloud SDK here, so its execution path runs against a fake
 * `gcloud` on PATH that records its arguments and prints what Cloud Build prints.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudBuildBuilder } from '../../src/build/cloudbuild.js';
import { cloudBuildSchema } from '../../src/config/container-schema.js';
import { silentLogger } from '../../src/log.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;
const IMAGE = 'europe-docker.pkg.dev/proj/repo/chat-service';

const SUCCESS = `Creating temporary archive of 4 file(s) totalling 12.1 KiB before compression.
Created [https://cloudbuild.googleapis.com/v1/projects/proj/locations/global/builds/b1].
------------------------------------------------- REMOTE BUILD OUTPUT --------------------------------------------------
starting build "b1"
BUILD
Step 1/4 : FROM node:22-slim
Step 4/4 : CMD ["node", "server.mjs"]
Successfully tagged ${IMAGE}:c007
PUSH
c007: digest: ${DIGEST} size: 1993
DONE
ID  CREATE_TIME                DURATION  SOURCE  IMAGES  STATUS
b1  2026-11-24T10:00:00+00:00  41S       gs://x  ${IMAGE}:c007  SUCCESS
`;

const FAILURE = `starting build "b2"
BUILD
Step 1/4 : FROM node:22-slim
Step 3/4 : RUN ["node", "scripts/check.mjs"]
SyntaxError: Unexpected token '}'
The command '/bin/sh -c node scripts/check.mjs' returned a non-zero code: 1
ERROR: build step 0 "gcr.io/cloud-builders/docker" failed: step exited with non-zero status: 1
ERROR: (gcloud.builds.submit) build b2 completed with status "FAILURE"
`;

let dir: string;
let savedPath: string | undefined;
const ctx = (cycle: number) => ({ signal: new AbortController().signal, log: silentLogger(), cycle });

/** A fake gcloud: records argv (one per line), prints OUTPUT, exits with CODE. */
async function fakeGcloud(output: string, code: number): Promise<void> {
  await writeFile(join(dir, 'output.txt'), output);
  const script = `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/argv.txt"\ncat "${dir}/output.txt"\nexit ${code}\n`;
  await writeFile(join(dir, 'bin', 'gcloud'), script);
  await chmod(join(dir, 'bin', 'gcloud'), 0o755);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudbuild-test-'));
  await writeFile(join(dir, 'Dockerfile'), 'FROM node:22-slim\n');
  await mkdir(join(dir, 'bin'));
  savedPath = process.env.PATH;
  process.env.PATH = `${join(dir, 'bin')}:${savedPath ?? ''}`;
});

afterAll(async () => {
  process.env.PATH = savedPath;
  await rm(dir, { recursive: true, force: true });
});

describe('CloudBuildBuilder', () => {
  it('builds `gcloud builds submit` with the cycle tag, project, region and extra flags, context last', () => {
    const cfg = cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE, project: 'proj', region: 'europe-west1', flags: ['--timeout=20m'] });
    const builder = new CloudBuildBuilder(cfg, { baseDir: '/repo' });
    expect(builder.submitArgv('/repo/svc', `${IMAGE}:c003`)).toEqual([
      'gcloud', 'builds', 'submit', '--tag', `${IMAGE}:c003`, '--project', 'proj', '--region', 'europe-west1', '--timeout=20m', '/repo/svc',
    ]);
    const bare = new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE }), { baseDir: '/repo' });
    expect(bare.submitArgv('/c', 't')).toEqual(['gcloud', 'builds', 'submit', '--tag', 't', '/c']);
  });

  it('returns the image by the digest Cloud Build pushed', async () => {
    await fakeGcloud(SUCCESS, 0);
    const builder = new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE, context: '.' }), { baseDir: dir });
    const outcome = await builder.build(ctx(7));
    expect(outcome).toMatchObject({ ok: true, image: { ref: `${IMAGE}@${DIGEST}`, digest: DIGEST } });
    const argv = (await readFile(join(dir, 'argv.txt'), 'utf8')).trim().split('\n');
    expect(argv).toEqual(['builds', 'submit', '--tag', `${IMAGE}:c007`, dir]);
  });

  it('falls back to the tag when the output names no digest', async () => {
    await fakeGcloud('starting build "b3"\nDONE\n', 0);
    const builder = new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE }), { baseDir: dir });
    const outcome = await builder.build(ctx(2));
    expect(outcome).toMatchObject({ ok: true, image: { ref: `${IMAGE}:c002` } });
    expect(outcome.ok && outcome.image.digest).toBeFalsy();
  });

  it('reports a failed build with the failing Dockerfile step, the exit code and the output tail', async () => {
    await fakeGcloud(FAILURE, 1);
    const builder = new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE }), { baseDir: dir });
    const outcome = await builder.build(ctx(1));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.message).toContain('step 3/4 (RUN ["node", "scripts/check.mjs"])');
    expect(outcome.exitCode).toBe(1);
    expect(outcome.outputTail).toContain("SyntaxError: Unexpected token '}'");
  });

  it('says the SDK may be missing when gcloud cannot be started', async () => {
    const builder = new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE }), { baseDir: dir });
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'nowhere');
    try {
      const outcome = await builder.build(ctx(1));
      expect(outcome).toMatchObject({ ok: false, exitCode: null });
      expect(!outcome.ok && outcome.message).toMatch(/Google Cloud SDK/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('fails before running anything when the context is not a folder', async () => {
    const builder = new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE, context: 'missing' }), { baseDir: dir });
    const outcome = await builder.build(ctx(1));
    expect(outcome).toMatchObject({ ok: false });
    expect(!outcome.ok && outcome.message).toMatch(/not a folder/);
  });
});
