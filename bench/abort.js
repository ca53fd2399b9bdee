/**
 * Figure 7, abortOnFail cost: the same 10,000 HTTP checks through runWatchedSuite with two abortOnFail
 * thresholds that never fail (so every check is watched and none stops the run) and with the same
 * thresholds without abortOnFail, interleaved, median of the repeats. The client's CPU time is
 * compared too: it is what the watching costs, and other load on the machine moves it least.
 * BENCH_ABORT_OLD=1 also times the former evaluation (every threshold over all results after every
 * check) on the same suite, for the record.
 */
import { checkSchema } from '../dist/config/schema.js';
import { runWatchedSuite } from '../dist/loop/watched-suite.js';
import { runSuite } from '../dist/smoke/runner.js';
import { firstAbortingThreshold } from '../dist/model/thresholds.js';
import { envInt, load1, median, ms, printTable, round, row, saveResults, startServer } from './lib.js';

export async function benchAbort() {
  const total = envInt('BENCH_ABORT_CHECKS', 10_000);
  const repeats = envInt('BENCH_ABORT_REPEATS', 3);
  const concurrency = 50;
  const checks = Array.from({ length: total }, (_, i) => checkSchema.parse({ name: `http-${i}`, kind: 'http', priority: i % 2 ? 'P0' : 'P1', path: `/items/${i % 100}`, expect: { json: { ok: true } } }));
  const exprs = ['p95(latency) < 60s', 'rate(fail) < 50%'];
  const watched = exprs.map((expr) => ({ expr, abortOnFail: true }));
  const plain = exprs.map((expr) => ({ expr }));
  const opts = { concurrency, defaults: { timeoutMs: 30_000, retries: 0, retryDelayMs: 0 } };
  const loadAtStart = load1();
  const server = await startServer();
  const runs = { watched: [], plain: [], old: [] };
  const timed = async (fn) => {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const out = await fn();
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000, passed: out.results.filter((r) => r.status === 'pass').length, stopped: Boolean(out.stopped) };
  };
  try {
    await runWatchedSuite(checks.slice(0, 1000), server.url, opts, watched); // warm-up
    for (let r = 0; r < repeats; r++) {
      // Alternate which goes first so neither always meets the warmer (or busier) machine.
      const pair = r % 2 ? ['plain', 'watched'] : ['watched', 'plain'];
      for (const k of pair) runs[k].push(await timed(() => runWatchedSuite(checks, server.url, opts, k === 'watched' ? watched : plain)));
    }
    if (process.env.BENCH_ABORT_OLD === '1') {
      runs.old.push(await timed(async () => ({ results: await runSuite(checks, server.url, { ...opts, stopWhen: (soFar) => firstAbortingThreshold(soFar, watched) !== undefined }) })));
    }
  } finally {
    await server.stop();
  }
  const m = (k, f) => median(runs[k].map((x) => x[f]));
  const wall = m('watched', 'ms') / m('plain', 'ms');
  const cpu = m('watched', 'cpuMs') / m('plain', 'cpuMs');
  const bad = Object.entries(runs).flatMap(([k, v]) => v.filter((x) => x.passed !== total || x.stopped).map((x) => `${k}: ${x.passed}/${total} passed${x.stopped ? ', stopped' : ''}`));
  const rows = [
    row(`abortOnFail watching, ${total} checks`, `${ms(m('watched', 'ms'))} (CPU ${ms(m('watched', 'cpuMs'))})`, `same thresholds without abortOnFail: ${ms(m('plain', 'ms'))} (CPU ${ms(m('plain', 'cpuMs'))})`, wall, '≤ 1.05×', wall <= 1.05,
      `client CPU ratio ${round(cpu, 2)}×; median of ${repeats} each, interleaved; 1-min load ${loadAtStart} at start, ${load1()} at end${runs.old.length ? `; the former every-threshold-over-all-results evaluation: ${ms(runs.old[0].ms)} (CPU ${ms(runs.old[0].cpuMs)})` : ''}${bad.length ? `; NOT ALL PASSED: ${bad.join('; ')}` : ''}`),
  ];
  printTable('7. abortOnFail cost', rows);
  await saveResults('abort', { total, repeats, concurrency, runs, rows });
  return rows;
}
