/**
 * Child process for figure 2: opens N WebSocket connections at once and holds them until the server
 * says all N are connected, either through the smoke runner (`smoke`) or a bare ws loop (`raw`).
 * Sends its figures (time to open all, total, peak RSS) to the parent.
 */
import WebSocket from 'ws';
import { checkSchema } from '../dist/config/schema.js';
import { runSuite } from '../dist/smoke/runner.js';

const [mode, url, nArg] = process.argv.slice(2);
const n = Number(nArg);
const holdTimeoutMs = 180_000;

async function raw() {
  const t0 = performance.now();
  let openAllMs = 0;
  let opened = 0;
  let ready = 0;
  let failed = 0;
  const sockets = [];
  await new Promise((resolve) => {
    const settle = () => ready + failed === n && resolve();
    for (let i = 0; i < n; i++) {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { followRedirects: false });
      sockets.push(ws);
      ws.on('open', () => {
        if (++opened === n) openAllMs = performance.now() - t0;
      });
      ws.on('message', () => {
        ready++;
        ws.close(1000);
        settle();
      });
      ws.on('error', () => {
        failed++;
        settle();
      });
    }
  });
  return { openAllMs, totalMs: performance.now() - t0, passed: failed === 0 && ready === n };
}

async function smoke() {
  const check = checkSchema.parse({
    name: 'hold', kind: 'websocket', path: '/ws', connections: n, timeoutMs: holdTimeoutMs,
    script: [{ expect: { json: { type: 'ready' } } }],
  });
  const t0 = performance.now();
  const [result] = await runSuite([check], url, { concurrency: 1, defaults: { timeoutMs: holdTimeoutMs, retries: 0, retryDelayMs: 0 } });
  // Every connection started in the same tick, so the slowest connect is the time to open all.
  return { openAllMs: result.figures.connectMaxMs ?? NaN, totalMs: performance.now() - t0, passed: result.status === 'pass', failure: result.failure?.message };
}

const out = mode === 'raw' ? await raw() : await smoke();
out.maxRssMiB = process.resourceUsage().maxRSS / 1024;
process.send({ mode, n, ...out });
process.disconnect();
