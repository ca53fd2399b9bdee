import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createBuilder } from '../../src/build/index.js';
import { parseConfigText } from '../../src/config/load.js';
import { LocalTarget } from '../../src/deploy/local/target.js';
import { silentLogger } from '../../src/log.js';
import { runCycle } from '../../src/loop/cycle.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { removeDir, scratchDir, writeFiles } from '../helpers/cli.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// The first request to /first is slow (a cold start); the service counts the requests it got there.
const SERVER = `
import http from 'node:http';
let hits = 0;
const server = http.createServer((req, res) => {
  if (req.url === '/healthz') return res.end('ok');
  if (req.url === '/hits') return res.end(String(hits));
  if (req.url === '/first') { hits++; return setTimeout(() => res.end('ok'), hits === 1 ? 300 : 0); }
  res.statusCode = 404; res.end('not found');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

const CONFIG = `apiVersion: deploy-loop/v1
service: cold
build:
  kind: command
  context: app
target:
  kind: local
  command: [${JSON.stringify(process.execPath)}, server.mjs]
  readiness: { path: /healthz, timeoutMs: 5000 }
smoke:
  defaults: { timeoutMs: 3000 }
  checks:
    - name: first
      kind: http
      priority: P0
      path: /first
loop:
  maxCycles: 1
`;

describe('cold start', () => {
  it('times the first request after a deploy on its own, before the suite, and reports it', async () => {
    const dir = await scratchDir('cold');
    cleanups.push(() => removeDir(dir));
    await writeFiles(dir, { 'app/server.mjs': SERVER, 'loop.config.yaml': CONFIG });
    const loaded = parseConfigText(CONFIG, join(dir, 'loop.config.yaml'));
    const { config } = loaded;
    const log = silentLogger();
    if (config.target.kind !== 'local') throw new Error('expected a local target');
    const target = new LocalTarget(config.target, { service: config.service, log, baseDir: dir });
    cleanups.push(() => target.close());
    const builder = createBuilder(config.build, { service: config.service, baseDir: dir });
    const signal = new AbortController().signal;

    const rec = await runCycle({ config, builder, target, log, signal, runId: 't', checkLocations: loaded.checkLocations, cycle: 1 });
    expect(rec.verdict).toBe('passed');
    // One request went to the first http check's path before the check's own, and took the cold start.
    // Asked through the service URL (promoted to this revision): a fresh connection, not one the suite pooled.
    const hits = await (await fetch(new URL('/hits', target.serviceUrl() as string))).text();
    expect(hits).toBe('2');
    expect(rec.smoke.coldStartMs).toBeGreaterThanOrEqual(300);
    expect(renderCycleMarkdown(rec, [rec])).toContain(`First request after deploy: ${rec.smoke.coldStartMs} ms`);
  });
});
