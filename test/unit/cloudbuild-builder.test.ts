/**
 * The cloudbuild builder: `gcloud builds submit --async`, then `gcloud builds describe` until the
 * build ends. No Google Cloud SDK here, so it runs against a fake `gcloud` on PATH (a real process)
 * that records every call's arguments and answers as gcloud does: a synchronous submit by someone
 * without logs-bucket rights fails after the build started, as the real one does.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CloudBuildBuilder, buildId, parseBuild } from '../../src/build/cloudbuild.js';
import { cloudBuildSchema } from '../../src/config/container-schema.js';
import { silentLogger } from '../../src/log.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;
const IMAGE = 'europe-docker.pkg.dev/proj/repo/chat-service';
const ID = '5f0e3c1a-8b2d-4e6f-9a7b-1c2d3e4f5a6b';
const POLL = { first: 20, max: 50 };

const SUBMITTED = `Creating temporary archive of 4 file(s) totalling 12.1 KiB before compression.
Uploading tarball of [.] to [gs://proj_cloudbuild/source/1.tgz]
Created [https://cloudbuild.googleapis.com/v1/projects/proj/locations/europe-west1/builds/${ID}].
Logs are available at [ https://console.cloud.google.com/cloud-build/builds;region=europe-west1/${ID}?project=1 ].
${ID}
`;

/** What gcloud prints when it may not stream the build log (google-github-actions/setup-gcloud#281). */
const STREAM_REFUSED = `ERROR: (gcloud.builds.submit)
The build is running, and logs are being written to the default logs bucket.
This tool can only stream logs if you are Viewer/Owner of the project and, if applicable, allowed by your VPC-SC security policy.
`;

const build = (status: string, extra: object = {}) => JSON.stringify({ id: ID, status, logUrl: `https://console.cloud.google.com/cloud-build/builds/${ID}`, ...extra }, null, 2);
const SUCCESS = build('SUCCESS', { results: { images: [{ name: `${IMAGE}:c007`, digest: DIGEST }] } });

let dir: string;
let savedPath: string | undefined;
const ctx = (cycle: number, signal = new AbortController().signal) => ({ signal, log: silentLogger(), cycle });

interface Fake {
  submit?: { out: string; code: number };
  /** Describe answers in order; the last repeats. */
  describe: string[];
  log?: { out: string; code: number };
}

/** The fake gcloud: appends `$*` to calls.txt, answers by subcommand from files written here. */
async function fakeGcloud(fake: Fake): Promise<void> {
  await rm(join(dir, 'state'), { recursive: true, force: true });
  await mkdir(join(dir, 'state'));
  const s = join(dir, 'state');
  await writeFile(join(s, 'submit.txt'), fake.submit?.out ?? SUBMITTED);
  await writeFile(join(s, 'submit.code'), String(fake.submit?.code ?? 0));
  await Promise.all(fake.describe.map((d, i) => writeFile(join(s, `describe-${i + 1}.json`), `${d}\n`)));
  await writeFile(join(s, 'describe-last.json'), `${fake.describe.at(-1) ?? ''}\n`);
  await writeFile(join(s, 'log.txt'), fake.log?.out ?? '');
  await writeFile(join(s, 'log.code'), String(fake.log?.code ?? 0));
  const script = `#!/bin/sh
s="${s}"
printf '%s\\n' "$*" >> "$s/calls.txt"
case "$2" in
  submit)
    case " $* " in
      *" --async "*) cat "$s/submit.txt"; exit $(cat "$s/submit.code") ;;
      *) echo "starting build"; cat >&2 <<'EOF'
${STREAM_REFUSED}EOF
         exit 1 ;;
    esac ;;
  describe)
    n=$(cat "$s/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$s/n"
    f="$s/describe-$n.json"; [ -f "$f" ] || f="$s/describe-last.json"
    echo "WARNING: a gcloud warning on stderr" >&2
    cat "$f" ;;
  log) cat "$s/log.txt"; exit $(cat "$s/log.code") ;;
  cancel) echo "Cancelled [$3]." ;;
esac
`;
  await writeFile(join(dir, 'bin', 'gcloud'), script);
  await chmod(join(dir, 'bin', 'gcloud'), 0o755);
}

const calls = async () => (await readFile(join(dir, 'state', 'calls.txt'), 'utf8')).trim().split('\n');
const builder = (over: object = {}) =>
  new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE, project: 'proj', region: 'europe-west1', ...over }), { baseDir: dir, pollMs: POLL });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cloudbuild-test-'));
  await writeFile(join(dir, 'Dockerfile'), 'FROM node:22-slim\n');
  await mkdir(join(dir, 'bin'));
  savedPath = process.env.PATH;
  process.env.PATH = `${join(dir, 'bin')}:${savedPath ?? ''}`;
});

beforeEach(() => fakeGcloud({ describe: [SUCCESS] }));

afterAll(async () => {
  process.env.PATH = savedPath;
  await rm(dir, { recursive: true, force: true });
});

describe('CloudBuildBuilder', () => {
  it('submits with --async and the id printed alone, the cycle tag, project, region and extra flags, context last; describes in the same project and region', () => {
    const b = new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE, project: 'proj', region: 'europe-west1', flags: ['--timeout=20m'] }), { baseDir: '/repo' });
    expect(b.submitArgv('/repo/svc', `${IMAGE}:c003`)).toEqual([
      'gcloud', 'builds', 'submit', '--async', '--format=value(id)', '--tag', `${IMAGE}:c003`, '--project', 'proj', '--region', 'europe-west1', '--timeout=20m', '/repo/svc',
    ]);
    expect(b.describeArgv(ID)).toEqual(['gcloud', 'builds', 'describe', ID, '--format=json', '--project', 'proj', '--region', 'europe-west1']);
    const bare = new CloudBuildBuilder(cloudBuildSchema.parse({ kind: 'cloudbuild', image: IMAGE }), { baseDir: '/repo' });
    expect(bare.submitArgv('/c', 't')).toEqual(['gcloud', 'builds', 'submit', '--async', '--format=value(id)', '--tag', 't', '/c']);
  });

  it('polls describe until SUCCESS and returns the image by the digest in results.images, where a streaming submit would have failed', async () => {
    await fakeGcloud({ describe: [build('QUEUED'), build('WORKING'), SUCCESS] });
    const outcome = await builder({ context: '.' }).build(ctx(7));
    expect(outcome).toMatchObject({ ok: true, image: { ref: `${IMAGE}@${DIGEST}`, digest: DIGEST } });
    expect(await calls()).toEqual([
      `builds submit --async --format=value(id) --tag ${IMAGE}:c007 --project proj --region europe-west1 ${dir}`,
      ...Array.from({ length: 3 }, () => `builds describe ${ID} --format=json --project proj --region europe-west1`),
    ]);
  });

  it('falls back to the tag when the build names no digest for the image', async () => {
    await fakeGcloud({ describe: [build('SUCCESS', { results: { images: [] } })] });
    const outcome = await builder().build(ctx(2));
    expect(outcome).toMatchObject({ ok: true, image: { ref: `${IMAGE}:c002` } });
    expect(outcome.ok && outcome.image.digest).toBeFalsy();
  });

  it('reports a failed build with its status, the failing step, the detail and the build log', async () => {
    await fakeGcloud({
      describe: [
        build('WORKING'),
        build('FAILURE', {
          statusDetail: 'Build step failure: build step 1 "gcr.io/cloud-builders/docker" failed: step exited with non-zero status: 1',
          steps: [{ name: 'gcr.io/cloud-builders/git', status: 'SUCCESS' }, { name: 'gcr.io/cloud-builders/docker', status: 'FAILURE' }],
        }),
      ],
      log: { out: "Step 3/4 : RUN node scripts/check.mjs\nSyntaxError: Unexpected token '}'\n", code: 0 },
    });
    const outcome = await builder().build(ctx(1));
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.message).toBe(
      `Cloud Build ${ID} of ${IMAGE}:c001 ended FAILURE at step 1 (gcr.io/cloud-builders/docker): Build step failure: build step 1 "gcr.io/cloud-builders/docker" failed: step exited with non-zero status: 1`,
    );
    expect(outcome.outputTail).toEqual(["Step 3/4 : RUN node scripts/check.mjs", "SyntaxError: Unexpected token '}'", `Logs: https://console.cloud.google.com/cloud-build/builds/${ID}`]);
    expect((await calls()).at(-1)).toBe(`builds log ${ID} --project proj --region europe-west1`);
  });

  it('says so when the failed build\'s log cannot be read, instead of an empty tail', async () => {
    await fakeGcloud({ describe: [build('TIMEOUT')], log: { out: 'ERROR: (gcloud.builds.log) PERMISSION_DENIED: The caller does not have permission\n', code: 1 } });
    const outcome = await builder().build(ctx(1));
    expect(!outcome.ok && outcome.message).toBe(`Cloud Build ${ID} of ${IMAGE}:c001 ended TIMEOUT`);
    expect(!outcome.ok && outcome.outputTail[0]).toMatch(/^the build log could not be read \(.*\); reading it needs roles\/logging\.viewer/);
  });

  it('stops polling when aborted, cancels the build and says it was interrupted', async () => {
    await fakeGcloud({ describe: [build('WORKING')] });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const outcome = await builder().build(ctx(1, ac.signal));
    expect(outcome).toMatchObject({ ok: false, exitCode: null });
    expect(!outcome.ok && outcome.message).toBe(`Cloud Build ${ID} of ${IMAGE}:c001: interrupted; the build was cancelled`);
    expect((await calls()).at(-1)).toBe(`builds cancel ${ID} --project proj --region europe-west1`);
  });

  it('gives up at build.timeoutMs with the last status, and cancels the build', async () => {
    await fakeGcloud({ describe: [build('WORKING')] });
    const outcome = await builder({ timeoutMs: 400 }).build(ctx(1));
    expect(!outcome.ok && outcome.message).toBe(`Cloud Build ${ID} of ${IMAGE}:c001: still WORKING after 0.4 s (build.timeoutMs); the build was cancelled`);
    expect((await calls()).filter((c) => c.startsWith('builds describe')).length).toBeGreaterThan(1);
  });

  it('reports a submit that fails, with gcloud\'s output', async () => {
    await fakeGcloud({ submit: { out: 'ERROR: (gcloud.builds.submit) PERMISSION_DENIED: cloudbuild.builds.create denied\n', code: 1 }, describe: [SUCCESS] });
    const outcome = await builder().build(ctx(1));
    expect(outcome).toMatchObject({ ok: false, exitCode: 1 });
    expect(!outcome.ok && outcome.outputTail).toContain('ERROR: (gcloud.builds.submit) PERMISSION_DENIED: cloudbuild.builds.create denied');
    expect(await calls()).toHaveLength(1);
  });

  it('says the SDK may be missing when gcloud cannot be started', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(dir, 'nowhere');
    try {
      const outcome = await builder().build(ctx(1));
      expect(outcome).toMatchObject({ ok: false, exitCode: null });
      expect(!outcome.ok && outcome.message).toMatch(/Google Cloud SDK/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('fails before running anything when the context is not a folder', async () => {
    const outcome = await builder({ context: 'missing' }).build(ctx(1));
    expect(outcome).toMatchObject({ ok: false });
    expect(!outcome.ok && outcome.message).toMatch(/not a folder/);
  });
});

describe('parsing gcloud output', () => {
  it('finds the build id in the Created line, or alone on a line', () => {
    expect(buildId(SUBMITTED.split('\n'))).toBe(ID);
    expect(buildId([`${ID}`])).toBe(ID);
    expect(buildId(['Created [https://cloudbuild.googleapis.com/v1/projects/p/builds/abc-1].'])).toBe('abc-1');
    expect(buildId(['nothing here'])).toBeUndefined();
  });

  it('reads the Build JSON after warnings on stderr', () => {
    expect(parseBuild(['WARNING: x', ...SUCCESS.split('\n')])?.results?.images?.[0]?.digest).toBe(DIGEST);
    expect(parseBuild(['not json'])).toBeUndefined();
  });
});
