/**
 * Evidence on Cloud Run, per check: whole cycles on the Cloud Run target against the emulator, whose
 * revisions are real processes and whose Cloud Logging API serves their real output. The service is
 * a Python http.server (not the demo's Node stack) that prints one distinct line per request path.
 * Each failing check's evidence holds the lines of its own window only; logs that cannot be read
 * are recorded as such and never end the cycle; a failed deploy keeps its traceback.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { silentLogger } from '../../src/log.js';
import { runLoop } from '../../src/loop/run.js';
import type { CycleRecord } from '../../src/model/record.js';
import { removeDir, scratchDir, writeFiles } from '../helpers/cli.js';
import { configYaml, type ConfigInput } from '../helpers/config-fixture.js';

/** One line per path, printed while the request is handled; `mode.txt` = crash makes it die at start. */
const SERVER_PY = `import http.server, os, sys
mode = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mode.txt")).read().strip()
print("service starting on port %s" % os.environ["PORT"], flush=True)
if mode == "crash":
    raise RuntimeError("DATABASE_URL is not set")
LINES = {
    "/alpha": (200, "alpha: front page served"),
    "/bravo": (500, "bravo: ledger unreachable while posting entry 42"),
    "/charlie": (500, "charlie: template 'invoice.html' missing"),
}
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        status, line = LINES.get(self.path, (200, None))
        if line:
            print(line, flush=True)
        body = b'{"ok": true}' if status == 200 else b'{"ok": false}'
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, fmt, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;

let emu: Emulator;
const dirs: string[] = [];

beforeAll(async () => {
  emu = await startEmulator({
    config: {
      operationDelayMs: 20,
      readiness: { path: '/healthz', timeoutMs: 10_000, intervalMs: 50 },
      images: { 'dir:': { command: ['/usr/bin/python3', 'server.py'] } },
      adminPort: false,
    },
  });
});

afterEach(() => emu?.faults.clear());

afterAll(async () => {
  await emu?.close();
  await Promise.all(dirs.splice(0).map(removeDir));
});

function config(service: string): ConfigInput {
  return {
    apiVersion: 'deploy-loop/v1',
    service,
    build: { kind: 'command', context: 'app' },
    target: {
      kind: 'cloudrun',
      project: 'demo-project',
      region: 'europe-west4',
      auth: { idToken: true },
      endpoint: { host: '127.0.0.1', port: emu.port, insecure: true },
      operationTimeoutMs: 20_000,
    },
    smoke: {
      // One check at a time, so a line logged during a check's attempt is that check's alone.
      concurrency: 1,
      defaults: { timeoutMs: 3000 },
      checks: [
        { name: 'alpha', kind: 'http', priority: 'P1', path: '/alpha', expect: { status: 200 } },
        { name: 'bravo', kind: 'http', priority: 'P1', path: '/bravo', expect: { status: 200 } },
        { name: 'charlie', kind: 'http', priority: 'P2', path: '/charlie', expect: { status: 200 } },
      ],
    },
    loop: { maxCycles: 1 },
  };
}

async function project(service: string, mode: 'ok' | 'crash'): Promise<string> {
  const dir = await scratchDir('cloudrun-evidence');
  dirs.push(dir);
  await writeFiles(dir, { 'app/server.py': SERVER_PY, 'app/mode.txt': mode, 'loop.config.yaml': configYaml(config(service)) });
  return dir;
}

async function cycle(dir: string): Promise<{ rec: CycleRecord; markdown: string }> {
  const loaded = await loadConfig(join(dir, 'loop.config.yaml'));
  const out = await runLoop({ loaded, log: silentLogger(), signal: new AbortController().signal, maxCycles: 1, noFix: true });
  const rec = out.cycles[0] as CycleRecord;
  return { rec, markdown: await readFile((out.published[0] as { markdown: string }).markdown, 'utf8') };
}

const evidenceOf = (rec: CycleRecord, name: string) => rec.smoke.results.find((r) => r.name === name)?.failure?.evidence;

describe('failing checks on the Cloud Run target', () => {
  it("each get exactly their own window's lines from Cloud Logging, not the revision's tail", async () => {
    const dir = await project('ledger', 'ok');
    const { rec, markdown } = await cycle(dir);
    expect(rec.verdict).toBe('gate-failed');
    expect(rec.smoke.results.find((r) => r.name === 'alpha')?.status).toBe('pass');
    // Neither the start-up line nor the other checks' lines: the check's own attempt only.
    expect(evidenceOf(rec, 'bravo')).toMatchObject({ logTail: ['bravo: ledger unreachable while posting entry 42'], logScope: 'check' });
    expect(evidenceOf(rec, 'charlie')).toMatchObject({ logTail: ["charlie: template 'invoice.html' missing"], logScope: 'check' });
    expect(rec.deploy.logUri).toMatch(/^https:\/\/console\.cloud\.google\.com\/logs\/viewer\?project=demo-project&resource=cloud_run_revision\/service_name\/ledger\/revision_name\//);
    expect(markdown).toContain('ledger unreachable while posting entry 42');
  });

  it('record a Cloud Logging refusal on their evidence, with the Logs URL, and the cycle still ends with its verdict', async () => {
    const dir = await project('nologs', 'ok');
    emu.faults.failNextCalls(10, { code: 7, methods: ['ListLogEntries'], message: 'Permission denied for all log views' });
    const { rec, markdown } = await cycle(dir);
    expect(rec.verdict).toBe('gate-failed');
    for (const name of ['bravo', 'charlie']) {
      const ev = evidenceOf(rec, name);
      expect(ev?.logTail?.[0]).toBe(
        "Cloud Logging: PERMISSION_DENIED: Permission denied for all log views (reading a revision's logs needs roles/logging.viewer on project demo-project)",
      );
      expect(ev?.logTail?.[1]).toBe(`Logs URL: ${rec.deploy.logUri}`);
      expect(ev?.logScope).toBe('revision');
    }
    expect(markdown).toContain('Cloud Logging: PERMISSION_DENIED');
    // The fault was consumed by the evidence read, not by something else.
    expect(emu.faults.state().calls[0]?.remaining).toBe(9);
  });
});

describe('a Cloud Run revision that cannot start', () => {
  it("keeps its traceback from Cloud Logging and Cloud Run's own lines, with its Logs URL on the record", async () => {
    const dir = await project('crashy', 'crash');
    const { rec } = await cycle(dir);
    expect(rec.verdict).toBe('deploy-failed');
    expect(rec.deploy.logTail).toEqual(expect.arrayContaining(['Traceback (most recent call last):', 'RuntimeError: DATABASE_URL is not set', '[WARNING] Container called exit(1).']));
    expect(rec.deploy.logUri).toMatch(/resource=cloud_run_revision\/service_name\/crashy\/revision_name\/crashy-c1-/);
    expect(rec.deploy.message).toContain(`Logs URL: ${rec.deploy.logUri}`);
  });

  it('says so when Cloud Logging refuses, instead of an empty tail', async () => {
    const dir = await project('crashy2', 'crash');
    emu.faults.failNextCalls(10, { code: 7, methods: ['ListLogEntries'], message: 'Permission denied for all log views' });
    const { rec } = await cycle(dir);
    expect(rec.verdict).toBe('deploy-failed');
    expect(rec.deploy.logTail).toEqual([expect.stringMatching(/^Cloud Logging: PERMISSION_DENIED: Permission denied for all log views \(.*roles\/logging\.viewer/)]);
    await writeFile(join(dir, 'app', 'mode.txt'), 'ok');
  });
});
