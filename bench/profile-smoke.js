/**
 * Profiling aid for the HTTP check path (not a figure): N HTTP checks through runSuite and the same
 * requests through a raw undici.request loop, with the client's own CPU time per check for each, so
 * the ratio holds on a loaded machine where wall time does not. Run with `node --cpu-prof
 * --cpu-prof-dir DIR bench/profile-smoke.js [checks] [rounds]` for a profile of the suite path.
 */
import { Agent, request } from 'undici';
import { checkSchema } from '../dist/config/schema.js';
import { runSuite } from '../dist/smoke/runner.js';
import { startServer } from './lib.js';

const total = Number(process.argv[2] ?? 2000);
const rounds = Number(process.argv[3] ?? 5);
const only = process.argv[4] ?? 'both';
const checks = Array.from({ length: total }, (_, i) => checkSchema.parse({ name: `http-${i}`, kind: 'http', path: `/items/${i}`, expect: { json: { id: i, ok: true, stock: { warehouse: 'w1' } } } }));
const server = await startServer();
const agent = new Agent();
async function raw() {
  let next = 0;
  const worker = async () => {
    while (next < checks.length) {
      const c = checks[next++];
      const res = await request(`${server.url}${c.path}`, { dispatcher: agent });
      const j = JSON.parse(await res.body.text());
      if (!(res.statusCode === 200 && j.id === c.expect.json.id && j.ok === true)) throw new Error('bad');
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
}
const suite = () => runSuite(checks, server.url, { concurrency: 50, defaults: { timeoutMs: 10_000, retries: 0, retryDelayMs: 0 } });
const cpu = async (fn) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const c = process.cpuUsage(c0);
  return { cpuUs: (c.user + c.system) / total, wallMs: performance.now() - t0 };
};
await suite();
await raw();
const out = { suite: [], raw: [] };
for (let r = 0; r < rounds; r++) {
  if (only !== 'raw') out.suite.push(await cpu(suite));
  if (only !== 'suite') out.raw.push(await cpu(raw));
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const s = out.suite.length ? med(out.suite.map((x) => x.cpuUs)) : NaN;
const r = out.raw.length ? med(out.raw.map((x) => x.cpuUs)) : NaN;
console.log(`client CPU per check: suite ${s.toFixed(1)} µs, raw ${r.toFixed(1)} µs, ratio ${(s / r).toFixed(2)}; load ${(await import('node:os')).loadavg().map((x) => x.toFixed(2)).join(' ')}`);
await server.stop();
await agent.close();
