/**
 * Figure 3, local proxy cost: the local target's TrafficProxy against nginx in front of the same
 * bench service, in the same run (nginx started with its own temporary config when installed; the
 * figure says "not measured" otherwise). Also measured, for context: the service directly, and the
 * smallest Node proxy with a node:http Agent or an undici Pool upstream.
 *
 * On 2 cores the load generator, the proxy and the service are three processes competing for CPU,
 * so "direct" is not a reachable anchor: the peer is the reverse proxy users run. Every target is
 * measured in each of BENCH_PROXY_ROUNDS rounds, in a rotating order, and the medians compared, so a
 * burst of load elsewhere on the machine hits all of them alike. Each proxy's CPU time per request
 * (its own process, /proc for nginx) is the figure least moved by such load.
 * BENCH_PROXY_PROFILE=1 writes a CPU profile of the TrafficProxy process to bench/profiles.
 */
import autocannon from 'autocannon';
import { Client } from 'undici';
import { BENCH_DIR, envInt, load1, median, ms, printTable, round, row, saveResults, startServer } from './lib.js';
import { startNginx } from './nginx.js';

function load(url, connections, seconds) {
  return autocannon({ url: `${url}/items/7`, connections, duration: seconds });
}

/**
 * Latency the hop adds, without queueing: one keep-alive connection, one request at a time, timed
 * per request in microseconds (autocannon reports whole milliseconds, too coarse for a local hop).
 */
async function latency(url, n) {
  const client = new Client(url);
  const times = [];
  try {
    for (let i = 0; i < n + 200; i++) {
      const t0 = performance.now();
      const res = await client.request({ path: '/items/7', method: 'GET' });
      await res.body.text();
      if (i >= 200) times.push(performance.now() - t0); // the first 200 warm up
    }
  } finally {
    await client.close();
  }
  times.sort((a, b) => a - b);
  return { p50: times[Math.floor(n * 0.5)], p99: times[Math.floor(n * 0.99)] };
}

/** CPU ms of a forked child since its last 'mark'. */
function childCpu(child) {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m.cpuMs));
    child.send('cpu');
  });
}

/** A target the load is sent to, with a CPU counter for the process that does the proxying. */
async function forkedProxy(mode, backend, profile) {
  const execArgv = profile ? ['--cpu-prof', '--cpu-prof-dir', `${BENCH_DIR}profiles`] : [];
  const p = await startServer({}, 'proxy-child.js', [mode, backend], execArgv);
  return {
    name: mode,
    url: p.url,
    mark: () => p.child.send('mark'),
    cpuMs: () => childCpu(p.child),
    stop: () => p.stop(),
  };
}

async function measure(target, connections, seconds, latencyN) {
  const lat = await latency(target.url, latencyN);
  let before = 0;
  if (target.name === 'nginx') before = await target.cpuMs();
  else target.mark();
  const r = await load(target.url, connections, seconds);
  const cpu = target.name === 'nginx' ? (await target.cpuMs()) - before : await target.cpuMs();
  const requests = r.requests.total;
  return {
    ...lat,
    rps: r.requests.average,
    loadedP50: r.latency.p50,
    loadedP99: r.latency.p99,
    requests,
    errors: r.errors + r.timeouts + r.non2xx,
    cpuUsPerRequest: round((cpu * 1000) / Math.max(1, requests), 1),
    load1: load1(),
  };
}

export async function benchProxy() {
  const connections = envInt('BENCH_PROXY_CONNECTIONS', 10);
  const seconds = envInt('BENCH_PROXY_SECONDS', 5);
  const rounds = Math.max(1, envInt('BENCH_PROXY_ROUNDS', 3));
  const profile = process.env.BENCH_PROXY_PROFILE === '1';
  const latencyN = envInt('BENCH_PROXY_LATENCY_REQUESTS', 3000);
  const loadAtStart = load1();
  const server = await startServer();
  const targets = [];
  let nginxNote = 'nginx is not installed (apt-get install nginx-light): not measured';
  let nginxVersion = null;
  const samples = {};
  try {
    targets.push({ name: 'direct', url: server.url, mark: () => server.child.send('mark'), cpuMs: () => childCpu(server.child), stop: async () => undefined });
    targets.push(await forkedProxy('traffic', server.url, profile));
    try {
      const nginx = await startNginx(server.url);
      if (nginx) {
        nginxVersion = nginx.version;
        nginxNote = `${nginx.version}, ${nginx.workers} worker, keep-alive upstream`;
        targets.push({ name: 'nginx', url: nginx.url, cpuMs: nginx.cpuMs, stop: nginx.stop });
      }
    } catch (err) {
      nginxNote = `nginx did not start: ${err.message.split('\n')[0]}; not measured`;
    }
    targets.push(await forkedProxy('minimal', server.url, false));
    targets.push(await forkedProxy('minimal-undici', server.url, false));
    targets.push(await forkedProxy('pipe', server.url, false));
    for (const t of targets) await load(t.url, connections, 1); // warm-up: JIT, pools
    for (let r = 0; r < rounds; r++) {
      // Rotate the order so no target always runs first (coolest machine) or last.
      const order = targets.map((_, i) => targets[(i + r) % targets.length]);
      for (const t of order) (samples[t.name] ??= []).push(await measure(t, connections, seconds, latencyN));
    }
  } finally {
    for (const t of targets) await t.stop().catch(() => undefined);
    await server.stop();
  }
  const med = (name) => {
    const xs = samples[name];
    if (!xs) return null;
    const m = {};
    for (const k of Object.keys(xs[0])) m[k] = median(xs.map((x) => x[k]));
    return m;
  };
  const direct = med('direct');
  const traffic = med('traffic');
  const nginx = med('nginx');
  const minimal = med('minimal');
  const minimalUndici = med('minimal-undici');
  const pipe = med('pipe');
  const rps = (s) => `${Math.round(s.rps)} req/s`;
  const p50 = (s) => ms(s.p50);
  const x = (a, b) => `${round(a / b, 2)}×`;
  const rows = [
    row(`proxy throughput, ${connections} connections`, rps(traffic), nginx ? `nginx: ${rps(nginx)}` : 'nginx: not measured', nginx ? traffic.rps / nginx.rps : null, '≥ 0.9× nginx', nginx ? traffic.rps / nginx.rps >= 0.9 : null,
      `direct ${rps(direct)} (TrafficProxy ${x(traffic.rps, direct.rps)}${nginx ? `, nginx ${x(nginx.rps, direct.rps)}` : ''} direct); minimal Node proxy, node:http upstream ${rps(minimal)}, undici upstream ${rps(minimalUndici)}; bare TCP relay in Node ${rps(pipe)}${nginx ? ` (${x(pipe.rps, nginx.rps)} nginx)` : ''}; nginx: ${nginxNote}`),
    row('proxy p50 latency, 1 connection', `p50 ${p50(traffic)}, p99 ${ms(traffic.p99)}`, nginx ? `nginx: p50 ${p50(nginx)}, p99 ${ms(nginx.p99)}` : 'nginx: not measured', nginx ? traffic.p50 / nginx.p50 : null, '≤ nginx p50 (≤ 1×)', nginx ? traffic.p50 <= nginx.p50 : null,
      `direct p50 ${p50(direct)} (TrafficProxy ${x(traffic.p50, direct.p50)} direct); minimal Node proxy p50 ${p50(minimal)}, undici upstream ${p50(minimalUndici)}; bare TCP relay p50 ${p50(pipe)}`),
    row('proxy CPU per request', `${traffic.cpuUsPerRequest} µs`, nginx ? `nginx: ${nginx.cpuUsPerRequest} µs` : 'nginx: not measured', nginx ? traffic.cpuUsPerRequest / nginx.cpuUsPerRequest : null, 'info (least moved by other load)', null,
      `minimal Node proxy: node:http upstream ${minimal.cpuUsPerRequest} µs, undici upstream ${minimalUndici.cpuUsPerRequest} µs; bare TCP relay ${pipe.cpuUsPerRequest} µs; the service itself ${direct.cpuUsPerRequest} µs`),
    row(`proxy latency under load, ${connections} connections`, `p50 ${traffic.loadedP50} ms, p99 ${traffic.loadedP99} ms`, nginx ? `nginx: p50 ${nginx.loadedP50} ms, p99 ${nginx.loadedP99} ms` : 'nginx: not measured', null, 'info (autocannon, whole ms)', null),
  ];
  const errors = Object.entries(samples).flatMap(([name, xs]) => xs.filter((s) => s.errors > 0).map((s) => `${name} ${s.errors}`));
  if (errors.length) rows[0].note += `; errors/non-2xx: ${errors.join(', ')}`;
  const loadAtEnd = load1();
  rows[0].note += `; median of ${rounds} rounds, ${seconds} s each; 1-min load ${loadAtStart} at start, ${loadAtEnd} at end`;
  printTable('3. Local proxy cost', rows);
  await saveResults('proxy', { connections, seconds, rounds, nginx: nginxVersion, loadAtStart, loadAtEnd, median: { direct, traffic, nginx, minimal, minimalUndici }, samples, rows });
  return rows;
}
