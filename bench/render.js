/**
 * Figure 6, report rendering: markdown + JSON + JUnit of one cycle with N checks and a history of
 * C cycles, at N/4, N/2 and N checks to show the cost grows linearly. Rendered the way a published
 * cycle is (renderCycleReports: one summary for the three formats); the three renderers called one
 * by one, each summarizing and redacting again, are measured beside it at N checks.
 */
import { renderCycleJson, renderCycleMarkdown, renderJunit } from '../dist/report/index.js';
import { renderCycleReports } from '../dist/report/cycle-reports.js';
import { envInt, ms, printTable, round, row, saveResults } from './lib.js';

export function results(n, cycle) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const kind = i % 5 === 4 ? 'websocket' : 'http';
    const priority = ['P0', 'P1', 'P2', 'P3'][i % 4];
    // 2 % fail, always the same checks, so issues carry streaks across the history.
    const failing = i % 50 === 7;
    const r = { name: `${kind}-check-${i}`, kind, priority, status: failing ? 'fail' : 'pass', durationMs: 3 + (i % 40), attempts: 1, figures: { latencyMs: 2 + (i % 30) } };
    if (failing) {
      r.failure = {
        class: kind === 'http' ? 'assertion' : 'ws-1011-internal-error',
        message: `GET http://127.0.0.1:8080/items/${i}: body JSON does not match: $.stock.count expected ${cycle} got 0`,
        evidence: { status: 200, excerpt: `{"id":${i},"ok":true,"stock":{"count":0}}`, expected: '{"stock":{"count":1}}', actual: '$.stock.count: 0', logTail: ['Error: pipeline failed', '    at handler (server.mjs:12:5)'] },
      };
    }
    out[i] = r;
  }
  return out;
}

export function record(n, cycle, shared) {
  const res = shared ?? results(n, cycle);
  const total = Math.round(res.reduce((s, r) => s + r.durationMs, 0) / 50);
  return {
    schemaVersion: 1, service: 'bench', cycle, runId: 'bench', target: 'local',
    startedAt: new Date(Date.UTC(2026, 0, 1, 0, cycle)).toISOString(), finishedAt: new Date(Date.UTC(2026, 0, 1, 0, cycle, 30)).toISOString(),
    serviceUrl: 'http://127.0.0.1:8080',
    build: { status: 'ok', kind: 'command', durationMs: 400, image: `/builds/c${cycle}`, outputTail: [] },
    deploy: { status: 'ok', revision: `bench-${String(cycle).padStart(5, '0')}`, image: `/builds/c${cycle}`, tagUrl: 'http://127.0.0.1:8081', durationMs: 200, startMs: 200 },
    traffic: { before: [{ revision: 'bench-00001', percent: 100 }], after: [{ revision: 'bench-00001', percent: 100 }], action: 'kept' },
    smoke: { durationMs: total, results: res },
    gate: { passed: false, tallies: [], reasons: ['P0 passed 49 of 50 (98%), needs 100%'] },
    verdict: 'gate-failed',
    checkLocations: {},
    durations: { buildMs: 400, deployMs: 200, smokeMs: total, totalMs: total + 700 },
  };
}

function renderAll(current, history) {
  const r = renderCycleReports(current, history);
  return r.markdown.length + r.json.length + r.junit.length;
}

function renderSeparately(current, history) {
  const md = renderCycleMarkdown(current, history);
  const json = JSON.stringify(renderCycleJson(current, history), null, 2);
  const xml = renderJunit(current);
  return md.length + json.length + xml.length;
}

/** Best of `repeats` after a warm-up: the run least disturbed by other load on a shared machine. */
function bestOf(repeats, f) {
  f();
  const times = [];
  let bytes = 0;
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    bytes = f();
    times.push(performance.now() - t0);
  }
  return { ms: Math.min(...times), bytes, times };
}

export async function benchRender() {
  const n = envInt('BENCH_RENDER_CHECKS', 10_000);
  const cycles = envInt('BENCH_RENDER_CYCLES', 50);
  const repeats = envInt('BENCH_RENDER_REPEATS', 3);
  const sizes = [Math.round(n / 4), Math.round(n / 2), n];
  const measured = [];
  let separate;
  for (const size of sizes) {
    // Earlier cycles share one results array (same checks, same failures): the renderers read every one.
    const shared = results(size, 1);
    const history = Array.from({ length: cycles - 1 }, (_, i) => record(size, i + 1, shared));
    const current = record(size, cycles);
    measured.push({ size, ...bestOf(repeats, () => renderAll(current, history)) });
    if (size === n) separate = bestOf(repeats, () => renderSeparately(current, history));
  }
  const [small, , big] = measured;
  const perCheck = (m) => m.ms / m.size;
  const linearity = perCheck(big) / perCheck(small);
  const rows = [
    row(`render md+JSON+JUnit, ${n} checks × ${cycles} cycles`, ms(big.ms), '500 ms budget', big.ms / 500, '< 500 ms', big.ms < 500, `${round(big.bytes / 2 ** 20, 1)} MiB of reports; the three renderers one by one: ${ms(separate.ms)}`),
    row('render linearity (per-check cost, largest / smallest)', measured.map((m) => `${m.size}: ${ms(m.ms)}`).join(', '), `${small.size} checks: ${round(perCheck(small) * 1000, 1)} µs/check`, linearity, '≈ 1× (linear)', linearity <= 1.5),
  ];
  printTable('6. Report rendering', rows);
  await saveResults('render', { checks: n, cycles, measured, separate, rows });
  return rows;
}
