import { afterEach, describe, expect, it } from 'vitest';
import { runCycle } from '../../src/loop/cycle.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { removeDir, scratchDir, writeFiles } from '../helpers/cli.js';
import { localCycleBase } from './local-fixtures.js';

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
    const base = localCycleBase(dir, CONFIG, (t) => cleanups.push(() => t.close()));
    const { target } = base;

    const rec = await runCycle({ ...base, cycle: 1 });
    expect(rec.verdict).toBe('passed');
    // One request went to the first http check's path before the check's own, and took the cold start.
    // Asked through the service URL (promoted to this revision): a fresh connection, not one the suite pooled.
    const hits = await (await fetch(new URL('/hits', target.serviceUrl() as string))).text();
    expect(hits).toBe('2');
    expect(rec.smoke.coldStartMs).toBeGreaterThanOrEqual(300);
    expect(renderCycleMarkdown(rec, [rec])).toContain(`First request after deploy: ${rec.smoke.coldStartMs} ms`);
  });
});
