/**
 * Figure 2, WebSocket scale: one smoke process opens N connections (default 10,000) and holds them
 * until the server confirms all N are open at once; time to open all and the process's peak RSS,
 * against a bare ws loop doing the same in its own process. Client and server are separate
 * processes, each under the 20,000 open-files limit.
 */
import { envInt, ms, printTable, round, row, runChild, saveResults, startServer } from './lib.js';

async function once(mode, n) {
  const server = await startServer({ BENCH_BARRIER: String(n) });
  try {
    return await runChild('ws-client.js', [mode, server.url, String(n)]);
  } finally {
    const s = await server.stop();
    if (s && s.peakOpen < n) console.error(`  ${mode}: the server saw at most ${s.peakOpen} of ${n} connections open at once`);
  }
}

export async function benchWs() {
  const n = envInt('BENCH_WS_CONNECTIONS', 10_000);
  // Raw first, then smoke, then raw again: the order effect (TIME_WAIT sockets, a warmer machine) shows up.
  const raw1 = await once('raw', n);
  const smoke = await once('smoke', n);
  const raw2 = await once('raw', n);
  // Like for like: the whole smoke check against the whole raw run (open all, hold, close all), and
  // the slowest single connect, each timed from that connection's own start.
  const rawTotal = Math.min(raw1.totalMs, raw2.totalMs);
  const rawConnect = Math.min(raw1.connectMaxMs, raw2.connectMaxMs);
  const gib = smoke.maxRssMiB / 1024;
  const rawRss = Math.max(raw1.maxRssMiB, raw2.maxRssMiB);
  const rows = [
    row(`ws: open, hold and close ${n} connections`, ms(smoke.totalMs), `raw ws loop: ${ms(rawTotal)}`, smoke.totalMs / rawTotal, '≤ 1.2× raw', smoke.totalMs / rawTotal <= 1.2,
      smoke.passed ? `held all ${n} until the server confirmed them` : `check failed: ${smoke.failure}`),
    row(`ws: slowest single connect of ${n}`, ms(smoke.connectMaxMs), `raw ws loop: ${ms(rawConnect)}`, smoke.connectMaxMs / rawConnect, '(explains the above)', null),
    row(`ws: peak RSS, ${n} connections`, `${round(smoke.maxRssMiB, 0)} MiB`, `raw ws loop: ${round(rawRss, 0)} MiB`, smoke.maxRssMiB / rawRss, '≤ 1.1× raw (and < 1 GiB)', smoke.maxRssMiB / rawRss <= 1.1 && gib < 1,
      `both processes load the same modules (${round(smoke.baseRssMiB, 0)} and ${round(raw1.baseRssMiB, 0)} MiB before the first connection); peak JS heap ${round(smoke.peakHeapMiB, 0)} against ${round(Math.max(raw1.peakHeapMiB, raw2.peakHeapMiB), 0)} MiB (sampled every 50 ms)`),
  ];
  printTable('2. WebSocket scale', rows);
  await saveResults('ws', { connections: n, raw: [raw1, raw2], smoke, rows });
  return rows;
}
