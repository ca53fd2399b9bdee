/**
 * Figure 3, local proxy cost: autocannon against the revision directly, through the local target's
 * TrafficProxy, and through a minimal Node proxy (the cost of any extra Node hop on this machine).
 * Server, proxy and load generator are three processes; on 2 cores they compete for CPU, which is
 * part of what is measured. BENCH_PROXY_PROFILE=1 writes a CPU profile of the proxy to bench/profiles.
 */
import autocannon from 'autocannon';
import { Client } from 'undici';
import { BENCH_DIR, envInt, ms, printTable, round, row, saveResults, startServer } from './lib.js';

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

function summary(r, cpuMs) {
  const requests = r.requests.total;
  return {
    loadedP50: r.latency.p50, loadedP99: r.latency.p99, rps: r.requests.average, requests,
    errors: r.errors + r.timeouts + r.non2xx,
    ...(cpuMs !== undefined ? { proxyCpuUsPerRequest: round((cpuMs * 1000) / Math.max(1, requests), 1) } : {}),
  };
}

async function throughProxy(mode, backend, connections, seconds, profile, latencyN) {
  const execArgv = profile ? ['--cpu-prof', '--cpu-prof-dir', `${BENCH_DIR}profiles`] : [];
  const proxy = await startServer({}, 'proxy-child.js', [mode, backend], execArgv);
  try {
    await load(proxy.url, connections, 1); // warm-up
    const lat = await latency(proxy.url, latencyN);
    proxy.child.send('mark');
    const r = await load(proxy.url, connections, seconds);
    const cpu = await proxy.stop();
    return { ...lat, ...summary(r, cpu?.cpuMs) };
  } finally {
    await proxy.stop();
  }
}

export async function benchProxy() {
  const connections = envInt('BENCH_PROXY_CONNECTIONS', 10);
  const seconds = envInt('BENCH_PROXY_SECONDS', 5);
  const profile = process.env.BENCH_PROXY_PROFILE === '1';
  const latencyN = envInt('BENCH_PROXY_LATENCY_REQUESTS', 3000);
  const server = await startServer();
  let direct;
  let traffic;
  let minimal;
  try {
    await load(server.url, connections, 1); // warm-up
    const directLat = await latency(server.url, latencyN);
    server.child.send('mark');
    direct = { ...directLat, ...summary(await load(server.url, connections, seconds)) };
    const serverCpu = await new Promise((resolve) => {
      server.child.once('message', resolve);
      server.child.send('cpu');
    });
    if (serverCpu) direct.serverCpuUsPerRequest = round((serverCpu.cpuMs * 1000) / Math.max(1, direct.requests), 1);
    traffic = await throughProxy('traffic', server.url, connections, seconds, profile, latencyN);
    minimal = await throughProxy('minimal', server.url, connections, seconds, false, latencyN);
  } finally {
    await server.stop();
  }
  const lat = (s) => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`;
  const loaded = (s) => `p50 ${s.loadedP50} ms, p99 ${s.loadedP99} ms`;
  const rows = [
    row('proxy latency, 1 connection', lat(traffic), `direct: ${lat(direct)}`, traffic.p50 / direct.p50, '≤ 1.3× direct (p50)', traffic.p50 / direct.p50 <= 1.3,
      `a minimal Node proxy in the same setup: ${lat(minimal)} (${round(minimal.p50 / direct.p50, 2)}× direct)`),
    row(`proxy latency under load, ${connections} connections`, loaded(traffic), `direct: ${loaded(direct)}`, null, 'info (autocannon, whole ms)', null,
      `minimal Node proxy: ${loaded(minimal)}`),
    row('proxy throughput', `${Math.round(traffic.rps)} req/s`, `direct: ${Math.round(direct.rps)} req/s`, traffic.rps / direct.rps, '≥ 0.7× direct', traffic.rps / direct.rps >= 0.7,
      `minimal Node proxy: ${Math.round(minimal.rps)} req/s (${round(minimal.rps / direct.rps, 2)}× direct); CPU per request: TrafficProxy ${traffic.proxyCpuUsPerRequest} µs, minimal proxy ${minimal.proxyCpuUsPerRequest} µs, the service itself ${direct.serverCpuUsPerRequest} µs`),
  ];
  const errors = [direct, traffic, minimal].map((s) => s.errors);
  if (errors.some((e) => e > 0)) rows[0].note += `; errors/non-2xx: direct ${errors[0]}, traffic ${errors[1]}, minimal ${errors[2]}`;
  printTable('3. Local proxy cost', rows);
  await saveResults('proxy', { connections, seconds, direct, traffic, minimal, rows });
  return rows;
}
