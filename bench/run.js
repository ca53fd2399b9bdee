/**
 * `npm run bench` runs every figure; `node bench/run.js smoke|ws|proxy|overhead|cli|render|abort|history` runs one.
 * Each prints a table with its target and a ratio against a baseline measured in the same run, and
 * merges its figures into bench/results.json.
 */
import { machine, printTable } from './lib.js';

const FIGURES = {
  smoke: async () => (await import('./smoke.js')).benchSmoke(),
  ws: async () => (await import('./ws.js')).benchWs(),
  proxy: async () => (await import('./proxy.js')).benchProxy(),
  overhead: async () => (await import('./overhead.js')).benchOverhead(),
  cli: async () => (await import('./cli.js')).benchCli(),
  render: async () => (await import('./render.js')).benchRender(),
  abort: async () => (await import('./abort.js')).benchAbort(),
  history: async () => (await import('./history.js')).benchHistory(),
};

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !(a in FIGURES));
if (unknown.length) {
  console.error(`unknown figure ${unknown.join(', ')}; choose from ${Object.keys(FIGURES).join(', ')}`);
  process.exit(2);
}
const names = asked.length ? asked : Object.keys(FIGURES);
const m = machine();
console.log(`deploy-loop bench on ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, node ${m.node}, load ${m.loadavg.join(' ')}`);
const all = [];
for (const name of names) {
  const t0 = performance.now();
  try {
    all.push(...(await FIGURES[name]()));
  } catch (err) {
    console.error(`bench ${name} failed: ${err?.stack ?? err}`);
    process.exitCode = 1;
  }
  console.log(`  (${name}: ${Math.round((performance.now() - t0) / 1000)} s)`);
}
if (names.length > 1) printTable('Summary', all);
console.log('\nresults written to bench/results.json');
