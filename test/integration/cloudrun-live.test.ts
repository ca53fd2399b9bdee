/**
 * The opt-in live tier: the same cycles as the emulated tests, against a real Google Cloud project.
 * Skipped (with the reason in the test name) unless DEPLOY_LOOP_LIVE_PROJECT and
 * DEPLOY_LOOP_LIVE_REGION are set; it never runs in this project's CI, which sets neither. For users
 * who want to check their own setup (credentials, IAM roles, organisation policies) before a real
 * run: see "Check your own setup against a real project" in the README.
 *
 * - Always: two cycles of Google's public sample image (us-docker.pkg.dev/cloudrun/container/hello)
 *   on a fresh private service, smoked through an ID token at 0% behind the tag, then promoted.
 * - With DEPLOY_LOOP_LIVE_IMAGE (an Artifact Registry image path the identity may push to) as well:
 *   a Cloud Build (`--async` + describe) of a Python service whose failing checks must get their own
 *   lines from Cloud Logging.
 * Every service it creates is named deploy-loop-live-* and deleted at the end, even on failure.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { v2 } from '@google-cloud/run';
import type { Builder } from '../../src/build/builder.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { runLoop } from '../../src/loop/run.js';
import type { CycleRecord } from '../../src/model/record.js';
import { removeDir, scratchDir, writeFiles } from '../helpers/cli.js';
import { configYaml, type ConfigInput } from '../helpers/config-fixture.js';

const project = process.env.DEPLOY_LOOP_LIVE_PROJECT;
const region = process.env.DEPLOY_LOOP_LIVE_REGION;
const image = process.env.DEPLOY_LOOP_LIVE_IMAGE;
const live = Boolean(project && region);
const SKIP = 'skipped: set DEPLOY_LOOP_LIVE_PROJECT and DEPLOY_LOOP_LIVE_REGION to run the live Cloud Run tier against a real project';
const HELLO = 'us-docker.pkg.dev/cloudrun/container/hello';
/** A real deploy takes a minute or two; Cloud Build several. */
const LIVE_TIMEOUT_MS = 15 * 60_000;

const created: string[] = [];
const dirs: string[] = [];

afterAll(async () => {
  await Promise.all(dirs.splice(0).map(removeDir));
  if (!live || created.length === 0) return;
  const services = new v2.ServicesClient();
  try {
    for (const name of created) {
      const [op] = await services.deleteService({ name }).catch(() => [undefined]);
      await op?.promise().catch(() => undefined);
    }
  } finally {
    await services.close();
  }
}, LIVE_TIMEOUT_MS);

function serviceId(): string {
  const id = `deploy-loop-live-${randomBytes(3).toString('hex')}`;
  created.push(`projects/${project}/locations/${region}/services/${id}`);
  return id;
}

function config(service: string, over: Partial<ConfigInput> = {}): ConfigInput {
  return {
    apiVersion: 'deploy-loop/v1',
    service,
    build: { kind: 'command', context: 'app' },
    target: { kind: 'cloudrun', project: project as string, region: region as string, access: 'private', auth: { idToken: true } },
    smoke: { concurrency: 1, defaults: { timeoutMs: 30_000 }, checks: [{ name: 'home', kind: 'http', priority: 'P0', path: '/', expect: { status: 200 } }] },
    loop: { maxCycles: 2 },
    ...over,
  };
}

async function projectDir(cfg: ConfigInput, files: Record<string, string> = {}): Promise<string> {
  const dir = await scratchDir('cloudrun-live');
  dirs.push(dir);
  await writeFiles(dir, { 'app/.keep': '', ...files, 'loop.config.yaml': configYaml(cfg) });
  return dir;
}

/** A builder that "builds" a prebuilt image: the cycle deploys exactly this reference. */
const prebuilt = (ref: string): Builder => ({ kind: 'prebuilt', build: async () => ({ ok: true, image: { ref, durationMs: 0, outputTail: [] } }) });

if (!live) {
  describe('live Cloud Run tier', () => {
    it.skip(SKIP, () => {});
  });
} else {
  describe(`live Cloud Run tier (project ${project}, region ${region})`, () => {
    it('deploys a private candidate at 0% behind its tag, smokes it with an ID token, promotes it, and does it again', async () => {
      const dir = await projectDir(config(serviceId()));
      const loaded = await loadConfig(join(dir, 'loop.config.yaml'));
      const out = await runLoop({ loaded, log: silentLogger(), signal: new AbortController().signal, maxCycles: 2, noFix: true, builder: prebuilt(HELLO) });
      const [first, second] = out.cycles as CycleRecord[];
      expect(first?.verdict, JSON.stringify(first?.smoke.results)).toBe('passed');
      expect(second?.verdict, JSON.stringify(second?.smoke.results)).toBe('passed');
      expect(second?.traffic.before).toEqual([{ revision: first?.deploy.revision, percent: 100 }]);
      expect(second?.traffic.after).toEqual([{ revision: second?.deploy.revision, percent: 100 }]);
      expect(second?.deploy.logUri).toMatch(/^https:\/\/console\.cloud\.google\.com\//);
    }, LIVE_TIMEOUT_MS);

    it.skipIf(!image)(
      image ? 'builds with Cloud Build (--async) and gives each failing check its own lines from Cloud Logging' : 'skipped: set DEPLOY_LOOP_LIVE_IMAGE (an Artifact Registry image path) for the Cloud Build and Cloud Logging test',
      async () => {
        const files = {
          'app/Dockerfile': 'FROM python:3.12-slim\nCOPY server.py /server.py\nCMD ["python3", "-u", "/server.py"]\n',
          'app/server.py': `import http.server, os
LINES = {"/bravo": "bravo: ledger unreachable while posting entry 42", "/charlie": "charlie: template 'invoice.html' missing"}
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        line = LINES.get(self.path)
        if line:
            print(line, flush=True)
        self.send_response(500 if line else 200)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
`,
        };
        const cfg = config(serviceId(), {
          build: { kind: 'cloudbuild', image: image as string, project: project as string, context: 'app' },
          smoke: {
            concurrency: 1,
            defaults: { timeoutMs: 30_000 },
            checks: [
              { name: 'home', kind: 'http', priority: 'P1', path: '/', expect: { status: 200 } },
              { name: 'bravo', kind: 'http', priority: 'P1', path: '/bravo', expect: { status: 200 } },
              { name: 'charlie', kind: 'http', priority: 'P2', path: '/charlie', expect: { status: 200 } },
            ],
          },
          loop: { maxCycles: 1 },
        });
        const dir = await projectDir(cfg, files);
        const loaded = await loadConfig(join(dir, 'loop.config.yaml'));
        const out = await runLoop({ loaded, log: silentLogger(), signal: new AbortController().signal, maxCycles: 1, noFix: true });
        const rec = out.cycles[0] as CycleRecord;
        expect(rec.build.status, rec.build.message).toBe('ok');
        expect(rec.build.digest).toMatch(/^sha256:/);
        expect(rec.verdict).toBe('gate-failed');
        const logs = (name: string) => rec.smoke.results.find((r) => r.name === name)?.failure?.evidence.logTail;
        expect(logs('bravo')).toEqual(['bravo: ledger unreachable while posting entry 42']);
        expect(logs('charlie')).toEqual(["charlie: template 'invoice.html' missing"]);
      },
      LIVE_TIMEOUT_MS,
    );
  });
}
