// Scratch: smoke vs floor wall time, HTTP-only and WS-only, interleaved, medians.
import { request } from 'undici';
import WebSocket from 'ws';
import os from 'node:os';

const { checkSchema } = await import(`../dist/config/schema.js`);
const { runSuite } = await import(`../dist/smoke/runner.js`);
const { startServer, median } = await import(`./lib.js`);
const kind = process.argv[2] ?? 'http'; const N = Number(process.argv[3] ?? 1000); const R = Number(process.argv[4] ?? 5);
const waitClose = process.argv[5] === 'waitclose';
const only = process.argv[6] ?? 'both';
const checks = Array.from({ length: N }, (_, i) => kind === 'http'
  ? checkSchema.parse({ name: `h${i}`, kind: 'http', path: `/items/${i}`, expect: { json: { id: i, ok: true, stock: { warehouse: 'w1' } } } })
  : checkSchema.parse({ name: `w${i}`, kind: 'websocket', path: '/ws', script: [{ expect: { json: { type: 'welcome' } } }, { send: { type: 'user', text: `hi ${i}` } }, { expect: { json: { type: 'user', text: `hi ${i}` } } }] }));
const server = await startServer();
async function raw(c) {
  if (c.kind === 'http') { const res = await request(`${server.url}${c.path}`); const j = JSON.parse(await res.body.text()); return res.statusCode === 200 && j.id === c.expect.json.id; }
  return new Promise((resolve) => { const ws = new WebSocket(`${server.url.replace('http', 'ws')}${c.path}`); const sent = c.script[1].send; let step = 0;
    ws.on('message', (d) => { const m = JSON.parse(d.toString()); if (step === 0 && m.type === 'welcome') { step = 1; ws.send(JSON.stringify(sent)); } else if (step === 1 && m.text === sent.text) { ws.close(1000); if (waitClose) ws.once('close', () => resolve(true)); else resolve(true); } });
    ws.on('error', () => resolve(false)); });
}
async function pool(items, conc, fn) { let next = 0; const w = async () => { while (next < items.length) await fn(items[next++]); }; await Promise.all(Array.from({ length: conc }, w)); }
const opts = { concurrency: 50, defaults: { timeoutMs: 10000, retries: 0, retryDelayMs: 0 } };
const t = async (fn) => { const c0 = process.cpuUsage(); const t0 = performance.now(); await fn(); const c = process.cpuUsage(c0); return [performance.now() - t0, (c.user + c.system) / 1000]; };
await runSuite(checks.slice(0, 200), server.url, opts); await pool(checks.slice(0, 200), 50, raw);
const s = [], r = [];
for (let i = 0; i < R; i++) {
  if (only !== 'raw') s.push(await t(() => runSuite(checks, server.url, opts)));
  if (only !== 'suite') r.push(await t(() => pool(checks, 50, raw)));
}
const m = (xs, k) => median(xs.map((x) => x[k]));
console.log(`${kind}${waitClose ? ' (floor waits for close)' : ''} N=${N}: suite ${m(s, 0).toFixed(0)} ms (cpu ${m(s, 1).toFixed(0)}), floor ${m(r, 0).toFixed(0)} ms (cpu ${m(r, 1).toFixed(0)}), wall ${(m(s, 0) / m(r, 0)).toFixed(2)}x cpu ${(m(s, 1) / m(r, 1)).toFixed(2)}x; load ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
await server.stop();
process.exit(0);
