/**
 * Figure 3, local proxy cost: autocannon against the revision directly, through the local target's
 * TrafficProxy, and through a minimal Node proxy (the cost of any extra Node hop on this machine).
 * Server, proxy and load generator are three processes; on 2 cores they compete for CPU, which is
 * part of what is measured. BENCH_PROXY_PROFILE=1 writes a CPU profile of the proxy to bench/profiles.
 */
import autocannon from 'autocannon';
import { BENCH_DIR, envInt, ms, printTable, round, row, saveResults, startServer } from './lib.js';

function load(url, connections, seconds) {
  return autocannon({ url: `${url}/items/7`, connections, duration: seconds });
}

function summary(r, cpuMs) {
  const requests = r.requests.total;
  return {
    p50: r.latency.p50, p99: r.latency.p99, rps: r.requests.average, requests,
    errors: r.errors + r.timeouts + r.non2xx,
    ...(cpuMs !== undefined ? { proxyCpuUsPerRequest: round((cpuMs * 1000) / Math.max(1, requests), 1) } : {}),
  };
}

async function throughProxy(mode, backend, connections, seconds, profile) {
  const execArgv = profile ? ['--cpu-prof', '--cpu-prof-dir', `${BENCH_DIR}profiles`] : [];
  const proxy = await startServer({}, 'proxy-child.js', [mode, backend], execArgv);
  try {
    await load(proxy.url, connections, 1); // warm-up
    proxy.child.send('mark');
    const r = await load(proxy.url, connections, seconds);
    const cpu = await proxy.stop();
    return summary(r, cpu?.cpuMs);
  } finally {
    await proxy.stop();
  }
}

export async function benchProxy() {
  const connections = envInt('BENCH_PROXY_CONNECTIONS', 10);
  const seconds = envInt('BENCH_PROXY_SECONDS', 5);
  const profile = process.env.BENCH_PROXY_PROFILE === '1';
  const server = await startServer();
  let direct;
  let traffic;
  let minimal;
  try {
    await load(server.url, connections, 1); // warm-up
    direct = summary(await load(server.url, connections, seconds));
    traffic = await throughProxy('traffic', server.url, connections, seconds, profile);
    minimal = await throughProxy('minimal', server.url, connections, seconds, false);
  } finally {
    await server.stop();
  }
  const lat = (s) => `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`;
  const rows = [
    row(`proxy p50 latency, ${connections} connections`, lat(traffic), `direct: ${lat(direct)}`, traffic.p50 / direct.p50, '≤ 1.3× direct', traffic.p50 / direct.p50 <= 1.3,
      `a minimal Node proxy in the same setup: ${lat(minimal)} (${round(minimal.p50 / direct.p50, 2)}× direct)`),
    row('proxy throughput', `${Math.round(traffic.rps)} req/s`, `direct: ${Math.round(direct.rps)} req/s`, traffic.rps / direct.rps, '≥ 0.7× direct', traffic.rps / direct.rps >= 0.7,
      `minimal Node proxy: ${Math.round(minimal.rps)} req/s (${round(minimal.rps / direct.rps, 2)}× direct); proxy CPU per request: TrafficProxy ${traffic.proxyCpuUsPerRequest} µs, minimal ${minimal.proxyCpuUsPerRequest} µs`),
  ];
  const errors = [direct, traffic, minimal].map((s) => s.errors);
  if (errors.some((e) => e > 0)) rows[0].note += `; errors/non-2xx: direct ${errors[0]}, traffic ${errors[1]}, minimal ${errors[2]}`;
  printTable('3. Local proxy cost', rows);
  await saveResults('proxy', { connections, seconds, direct, traffic, minimal, rows });
  return rows;
}
