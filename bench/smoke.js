/**
 * Figure 1, smoke throughput: 1,000 checks (80 % HTTP with a JSON assertion, 20 % WebSocket with a
 * 3-step script) through runSuite, against (a) a raw undici + ws client doing the same requests at
 * the same concurrency and (b) the same suite at concurrency 1.
 */
import { fetch as undiciFetch, request } from 'undici';
import WebSocket from 'ws';
import { checkSchema } from '../dist/config/schema.js';
import { runSuite } from '../dist/smoke/runner.js';
import { envInt, median, ms, printTable, round, row, saveResults, startServer } from './lib.js';

function suite(total, wsShare) {
  const checks = [];
  const wsEvery = Math.round(1 / wsShare);
  for (let i = 0; i < total; i++) {
    if (i % wsEvery === wsEvery - 1) {
      checks.push(checkSchema.parse({
        name: `ws-${i}`, kind: 'websocket', path: '/ws',
        script: [
          { expect: { json: { type: 'welcome' } } },
          { send: { type: 'user', text: `hi ${i}` } },
          { expect: { json: { type: 'user', text: `hi ${i}` } } },
        ],
      }));
    } else {
      checks.push(checkSchema.parse({ name: `http-${i}`, kind: 'http', path: `/items/${i}`, expect: { json: { id: i, ok: true, stock: { warehouse: 'w1' } } } }));
    }
  }
  return checks;
}

/** The floor: the same requests and assertions, hand-written, no framework. */
async function rawCheck(check, base, http, waitClose = false) {
  if (check.kind === 'http') {
    const url = `${base}${check.path}`;
    let status;
    let text;
    if (http === 'fetch') {
      const res = await undiciFetch(url);
      status = res.status;
      text = await res.text();
    } else {
      const res = await request(url);
      status = res.statusCode;
      text = await res.body.text();
    }
    const j = JSON.parse(text);
    const want = check.expect.json;
    return status === 200 && j.id === want.id && j.ok === true && j.stock?.warehouse === 'w1';
  }
  return new Promise((resolve) => {
    const ws = new WebSocket(`${base.replace('http', 'ws')}${check.path}`);
    const sent = check.script[1].send;
    let step = 0;
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      if (step === 0 && m.type === 'welcome') {
        step = 1;
        ws.send(JSON.stringify(sent));
      } else if (step === 1 && m.type === 'user' && m.text === sent.text) {
        ws.close(1000);
        // The check waits for the server's close frame (its code is a figure); this floor can too.
        if (waitClose) ws.once('close', () => resolve(true));
        else resolve(true);
      }
    });
    ws.on('error', () => resolve(false));
  });
}

async function pool(items, concurrency, fn) {
  let next = 0;
  let ok = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      if (await fn(item)) ok++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return ok;
}

async function timed(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const passed = await fn();
  const c = process.cpuUsage(c0);
  // The client's own CPU: moved less than wall time by other load on a shared machine.
  return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, passed };
}

export async function benchSmoke() {
  const total = envInt('BENCH_SMOKE_CHECKS', 1000);
  const concurrency = envInt('BENCH_SMOKE_CONCURRENCY', 50);
  const repeats = envInt('BENCH_SMOKE_REPEATS', 5);
  const delayMs = envInt('BENCH_SMOKE_DELAY_MS', 25);
  // Sequential runs a same-mix prefix and is compared per check: 1,000 sequential checks take minutes.
  const seqTotal = Math.min(total, envInt('BENCH_SMOKE_SEQUENTIAL_CHECKS', 200));
  const server = await startServer();
  const checks = suite(total, 0.2);
  const opts = (c) => ({ concurrency: c, defaults: { timeoutMs: 10_000, retries: 0, retryDelayMs: 0 } });
  const passedOf = (results) => results.filter((r) => r.status === 'pass').length;
  // The floor uses undici's global dispatcher (keep-alive), as fetch in runSuite does.
  const runs = { suite: [], floorRequest: [], floorFetch: [], floorClose: [] };
  try {
    // Warm-up: JIT, connection pools, the server's own warm-up.
    const warm = checks.slice(0, 200);
    await runSuite(warm, server.url, opts(concurrency));
    await pool(warm, concurrency, (c) => rawCheck(c, server.url, 'request'));
    await pool(warm, concurrency, (c) => rawCheck(c, server.url, 'fetch'));
    for (let r = 0; r < repeats; r++) {
      runs.suite.push(await timed(async () => passedOf(await runSuite(checks, server.url, opts(concurrency)))));
      runs.floorRequest.push(await timed(() => pool(checks, concurrency, (c) => rawCheck(c, server.url, 'request'))));
      runs.floorFetch.push(await timed(() => pool(checks, concurrency, (c) => rawCheck(c, server.url, 'fetch'))));
      runs.floorClose.push(await timed(() => pool(checks, concurrency, (c) => rawCheck(c, server.url, 'request', true))));
    }
  } finally {
    await server.stop();
  }
  // Against a CPU-bound local server nothing waits, so concurrency cannot help on 2 cores; the
  // speed-up over sequential is measured against a server that takes BENCH_SMOKE_DELAY_MS per answer.
  const slow = await startServer({ BENCH_DELAY_MS: String(delayMs) });
  try {
    runs.suiteDelayed = [];
    runs.floorDelayed = [];
    for (let r = 0; r < repeats; r++) {
      runs.suiteDelayed.push(await timed(async () => passedOf(await runSuite(checks, slow.url, opts(concurrency)))));
      runs.floorDelayed.push(await timed(() => pool(checks, concurrency, (c) => rawCheck(c, slow.url, 'request'))));
    }
    runs.sequential = [await timed(async () => passedOf(await runSuite(checks.slice(0, seqTotal), slow.url, opts(1))))];
  } finally {
    await slow.stop();
  }
  const t = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map((x) => x.ms))]));
  t.sequentialPer1000 = (t.sequential / seqTotal) * total;
  const cpu = (k) => median(runs[k].map((x) => x.cpuMs));
  const failed = Object.entries(runs).flatMap(([k, v]) => v.filter((x) => x.passed !== (k === 'sequential' ? seqTotal : total)).map((x) => `${k}: ${x.passed}/${total} passed`));
  const perSec = (m) => `${Math.round(total / (m / 1000))} checks/s`;
  const rows = [
    row(`smoke ${total} checks, concurrency ${concurrency}`, `${ms(t.suite)} (${perSec(t.suite)})`, `raw undici.request + ws: ${ms(t.floorRequest)}`, t.suite / t.floorRequest, '≤ 1.25× floor', t.suite / t.floorRequest <= 1.25),
    row('  same, floor with fetch', `${ms(t.suite)}`, `raw undici fetch + ws: ${ms(t.floorFetch)}`, t.suite / t.floorFetch, 'info: the fetch client', null),
    row('  same, floor also waits for the close', `${ms(t.suite)}`, `raw undici.request + ws, close awaited: ${ms(t.floorClose)}`, t.suite / t.floorClose, 'info: as the check does', null, 'the websocket check waits for the server\'s close frame (its code is in the figures); the floor above does not'),
    row('  client CPU, same runs', `${ms(cpu('suite'))}`, `raw undici.request + ws: ${ms(cpu('floorRequest'))}; close awaited: ${ms(cpu('floorClose'))}`, cpu('suite') / cpu('floorRequest'), 'info: least moved by other load', null),
    row(`  vs sequential, server ${delayMs} ms/answer`, `${ms(t.suiteDelayed)}`, `concurrency 1: ${ms(t.sequentialPer1000)} per ${total}`, t.sequentialPer1000 / t.suiteDelayed, '≥ 20× faster', t.sequentialPer1000 / t.suiteDelayed >= 20, `ratio is the speed-up (sequential / concurrent); sequential ran the first ${seqTotal} checks and is scaled per check; the raw floor against the same server took ${ms(t.floorDelayed)} (${round(t.sequentialPer1000 / t.floorDelayed, 1)}× sequential), the ideal is ${ms((total / concurrency) * delayMs)}`),
  ];
  if (failed.length) rows[0].note = `not every check passed: ${failed.join('; ')}`;
  printTable('1. Smoke throughput', rows);
  await saveResults('smoke', { total, concurrency, repeats, delayMs, seqTotal, medianMs: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, round(v, 1)])), runsMs: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((x) => round(x.ms, 1))])), runsCpuMs: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((x) => round(x.cpuMs, 1))])), rows });
  return rows;
}
