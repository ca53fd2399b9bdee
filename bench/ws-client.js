/**
 * Child process for figure 2: opens N WebSocket connections at once and holds them until the server
 * says all N are connected, either through the smoke runner (`smoke`) or a bare ws loop (`raw`).
 * Sends its figures (slowest single connect, the whole run: open all, hold, close all; peak RSS) to
 * the parent.
 */
import v8 from 'node:v8';
import WebSocket from 'ws';
import { checkSchema } from '../dist/config/schema.js';
import { runSuite } from '../dist/smoke/runner.js';

const [mode, url, nArg] = process.argv.slice(2);
const n = Number(nArg);
const holdTimeoutMs = 180_000;
// Both modes import the same modules (above): what differs is the connections' cost, not the code loaded.
const baseRssMiB = process.memoryUsage().rss / 2 ** 20;
// Peak JS heap over the run, sampled: says whether a difference in peak RSS is JS objects or native memory.
let peakHeapMiB = 0;
const sampler = setInterval(() => {
  peakHeapMiB = Math.max(peakHeapMiB, process.memoryUsage().heapUsed / 2 ** 20);
}, 50).unref();

// bench/ws-heap.js: a heap snapshot at the hold, once all N connections have opened on this side.
// Frames that arrive before that (the server's "ready" goes out as soon as it sees N) are held back and
// emitted after the snapshot, so every connection is caught in the same state: open, nothing read.
// Both modes' sockets are ws clients (the check's connections subclass it), so one hook sees either.
const snapshotFile = process.env.BENCH_WS_HEAP_SNAPSHOT;
if (snapshotFile) {
  const emit = WebSocket.prototype.emit;
  const held = [];
  let opened = 0;
  let taken = false;
  WebSocket.prototype.emit = function (event, ...args) {
    if (taken) return emit.call(this, event, ...args);
    if (event === 'message') {
      held.push([this, args]);
      return true;
    }
    const listened = emit.call(this, event, ...args);
    if (event === 'open' && ++opened === n) {
      taken = true;
      v8.writeHeapSnapshot(snapshotFile);
      for (const [ws, a] of held.splice(0)) emit.call(ws, 'message', ...a);
    }
    return listened;
  };
}

async function raw() {
  const t0 = performance.now();
  let openAllMs = 0;
  let connectMaxMs = 0;
  let opened = 0;
  let ready = 0;
  let closed = 0;
  const sockets = [];
  await new Promise((resolve, reject) => {
    // Every socket ends in 'close' (after an error too), so counting closes cannot hang.
    const guard = setTimeout(() => reject(new Error(`raw: ${closed} of ${n} closed after ${holdTimeoutMs} ms`)), holdTimeoutMs);
    for (let i = 0; i < n; i++) {
      const started = performance.now();
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { followRedirects: false });
      sockets.push(ws);
      ws.on('open', () => {
        connectMaxMs = Math.max(connectMaxMs, performance.now() - started);
        if (++opened === n) openAllMs = performance.now() - t0;
      });
      ws.on('message', () => {
        ready++;
        ws.close(1000);
      });
      ws.on('error', () => undefined);
      ws.on('close', () => {
        if (++closed === n) {
          clearTimeout(guard);
          resolve();
        }
      });
    }
  });
  return { openAllMs, connectMaxMs, totalMs: performance.now() - t0, passed: ready === n };
}

async function smoke() {
  const check = checkSchema.parse({
    name: 'hold', kind: 'websocket', path: '/ws', connections: n, timeoutMs: holdTimeoutMs,
    script: [{ expect: { json: { type: 'ready' } } }],
  });
  const t0 = performance.now();
  const [result] = await runSuite([check], url, { concurrency: 1, defaults: { timeoutMs: holdTimeoutMs, retries: 0, retryDelayMs: 0 } });
  // The check times each connect from its own start, as the raw loop's connectMaxMs does; the whole
  // check (open all, hold until ready, close all) compares with the raw loop's whole run.
  return { connectMaxMs: result.figures.connectMaxMs ?? NaN, totalMs: performance.now() - t0, passed: result.status === 'pass', failure: result.failure?.message };
}

const out = mode === 'raw' ? await raw() : await smoke();
out.maxRssMiB = process.resourceUsage().maxRSS / 1024;
clearInterval(sampler);
out.peakHeapMiB = peakHeapMiB;
process.send({ mode, n, baseRssMiB, ...out });
process.disconnect();
