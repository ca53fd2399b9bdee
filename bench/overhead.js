/**
 * Figure 4, orchestrator overhead: full local cycles (runCycle, then the record and reports written
 * as `run` does) of a small HTTP + WebSocket service, minus the build, the revision start and the
 * smoke suite. What is left is deploy-loop's own time: config in hand to reports on disk. As `run`
 * does, the HTML page is written once, after the last cycle; its time is given apart, per run.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { createBuilder } from '../dist/build/index.js';
import { parseConfigText } from '../dist/config/load.js';
import { LocalTarget } from '../dist/deploy/local/target.js';
import { silentLogger } from '../dist/log.js';
import { runCycle } from '../dist/loop/cycle.js';
import { publishCycle, publishHtmlReport } from '../dist/loop/publish.js';
import { BENCH_DIR, envInt, median, ms, printTable, round, row, saveResults } from './lib.js';

function config(httpChecks) {
  const checks = [
    `    - name: health
      kind: http
      priority: P0
      path: /healthz
      expect: { json: { ok: true } }
    - name: chat
      kind: websocket
      priority: P0
      path: /ws
      script:
        - expect: { json: { type: welcome } }
        - send: { type: user, text: hi }
        - expect: { json: { type: user } }`,
    ...Array.from({ length: httpChecks }, (_, i) => `    - name: item-${i}
      kind: http
      priority: P1
      path: /items/${i}
      expect: { json: { id: ${i}, ok: true } }`),
  ];
  return `apiVersion: deploy-loop/v1
service: bench
build:
  kind: command
  context: app
target:
  kind: local
  command: [${JSON.stringify(process.execPath)}, server.mjs]
  readiness: { path: /healthz, timeoutMs: 10000, intervalMs: 20 }
smoke:
  defaults: { timeoutMs: 5000 }
  checks:
${checks.join('\n')}
`;
}

export async function benchOverhead() {
  const cycles = envInt('BENCH_CYCLES', 5);
  const httpChecks = envInt('BENCH_OVERHEAD_CHECKS', 20);
  const dir = await mkdtemp(join(os.tmpdir(), 'deploy-loop-bench-'));
  const text = config(httpChecks);
  await mkdir(join(dir, 'app'), { recursive: true });
  // The revision imports the bench server by absolute path, so it resolves `ws` from this checkout.
  await writeFile(join(dir, 'app', 'server.mjs'), `import ${JSON.stringify(join(BENCH_DIR, 'server.js'))};\n`);
  await writeFile(join(dir, 'loop.config.yaml'), text);
  const loaded = parseConfigText(text, join(dir, 'loop.config.yaml'));
  const { config: cfg } = loaded;
  const log = silentLogger();
  const target = new LocalTarget(cfg.target, { service: cfg.service, log, baseDir: dir });
  const builder = createBuilder(cfg.build, { service: cfg.service, baseDir: dir });
  const reportsDir = join(dir, 'reports');
  const history = [];
  const per = [];
  let pageMs = NaN;
  try {
    for (let cycle = 1; cycle <= cycles; cycle++) {
      // A new build each cycle, as after an edit: the content hash (and the revision folder) changes.
      await writeFile(join(dir, 'app', 'edit.txt'), String(cycle));
      const t0 = performance.now();
      // When each step ended, to say where the overhead sits.
      const steps = {};
      const onStep = (name) => (steps[name] = round(performance.now() - t0, 1));
      const rec = await runCycle({ config: cfg, builder, target, log, signal: new AbortController().signal, cycle, runId: 'bench', checkLocations: loaded.checkLocations, onStep });
      steps.cycleReturned = round(performance.now() - t0, 1);
      await publishCycle(reportsDir, rec, [...history], { html: false });
      const wallMs = performance.now() - t0;
      history.push(rec);
      if (rec.verdict !== 'passed') throw new Error(`cycle ${cycle} ${rec.verdict}: ${rec.gate.reasons.join('; ')}`);
      const parts = { buildMs: rec.build.durationMs, startMs: rec.deploy.startMs ?? rec.deploy.durationMs, smokeMs: rec.smoke.durationMs };
      const overheadMs = wallMs - parts.buildMs - parts.startMs - parts.smokeMs;
      // Where the overhead sits, step by step (each is the step's wall time minus the service's own part in it).
      const smokeStepMs = steps.smoke - steps.deploy;
      const split = {
        readTrafficMs: round(steps['read-traffic'], 1),
        buildBeyondMs: round(steps.build - steps['read-traffic'] - parts.buildMs, 1),
        deployBeyondStartMs: round(steps.deploy - steps.build - parts.startMs, 1),
        // The first request to the new revision, timed on its own (record.smoke.coldStartMs), plus the step's own work.
        coldStartMs: rec.smoke.coldStartMs ?? 0,
        smokeBeyondMs: round(smokeStepMs - parts.smokeMs - (rec.smoke.coldStartMs ?? 0), 1),
        promoteMs: round(steps.promote - steps.smoke, 1),
        publishMs: round(wallMs - steps.cycleReturned, 1),
      };
      per.push({ cycle, wallMs: round(wallMs, 1), ...parts, overheadMs: round(overheadMs, 1), share: overheadMs / wallMs, steps, ...split });
    }
    // `run` writes the whole-history page once, when it ends.
    const tPage = performance.now();
    await publishHtmlReport(reportsDir, history);
    pageMs = performance.now() - tPage;
  } finally {
    await target.close();
    await rm(dir, { recursive: true, force: true });
  }
  // Cycle 1 also loads and compiles the modules; later cycles are what a loop repeats.
  const steady = per.length > 1 ? per.slice(1) : per;
  const share = median(steady.map((p) => p.share));
  const m = (k) => median(steady.map((p) => p[k]));
  // The cold-start request is the revision's first answer (a fresh Node server answers its first
  // request in 7-11 ms here and its second in 3-5, without deploy-loop in between): the service's time.
  const shareBeyondCold = median(steady.map((p) => (p.overheadMs - p.coldStartMs) / p.wallMs));
  const rows = [
    row(`orchestrator overhead, local cycle (${httpChecks + 2} checks)`, `${round(share * 100, 1)} % (${ms(m('overheadMs'))})`, `cycle ${ms(m('wallMs'))}: build ${ms(m('buildMs'))}, start ${ms(m('startMs'))}, smoke ${ms(m('smokeMs'))}`, share / 0.05, '≤ 5 % of the cycle', share <= 0.05,
      `of the overhead (medians): writing record + reports ${ms(m('publishMs'))}, deploy work beyond the revision start ${ms(m('deployBeyondStartMs'))}, ` +
        `the cold-start request ${ms(m('coldStartMs'))} and the smoke step's own work ${ms(m('smokeBeyondMs'))}, promote ${ms(m('promoteMs'))}, ` +
        `read traffic ${ms(m('readTrafficMs'))}, build step beyond the build ${ms(m('buildBeyondMs'))}; ` +
        `the HTML page, written once after cycle ${cycles}: ${ms(pageMs)}; median of cycles 2-${cycles}; cycle 1 (cold): ${round(per[0].share * 100, 1)} % (${ms(per[0].overheadMs)} of ${ms(per[0].wallMs)}); ratio is share / 5 %`),
    row('same, the cold-start request counted as the service\'s time', `${round(shareBeyondCold * 100, 1)} % (${ms(m('overheadMs') - m('coldStartMs'))})`, `cold-start request ${ms(m('coldStartMs'))} (record.smoke.coldStartMs)`, shareBeyondCold / 0.05, '(the revision\'s first answer)', null),
  ];
  printTable('4. Orchestrator overhead', rows);
  await saveResults('overhead', { cycles: per, pageMs: round(pageMs, 1), rows });
  return rows;
}
