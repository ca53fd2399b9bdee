/**
 * Shared bench helpers: sizes from the environment, a child server, timing statistics, the figure
 * table and bench/results.json. Plain ESM so `node bench/run.js` needs no compile step beyond dist/.
 */
import { fork } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = fileURLToPath(new URL('.', import.meta.url));
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const RESULTS = new URL('./results.json', import.meta.url);

/** A whole number from the environment, or the default. */
export function envInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${raw}`);
  return Math.round(n);
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function round(n, digits = 2) {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/**
 * Starts bench/server.js (HTTP JSON + WebSocket) in its own process so the server never shares an
 * event loop with the client being measured. Returns its URL and a stop function.
 */
export async function startServer(env = {}, script = 'server.js', args = [], execArgv = []) {
  const child = fork(new URL(`./${script}`, import.meta.url), args, {
    env: { ...process.env, PORT: '', ...env },
    execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
    child.once('message', (m) => resolve(m.port));
  });
  child.removeAllListeners('exit');
  const stop = async () => {
    if (child.exitCode !== null) return undefined;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // The child answers 'stop' with its own figures (CPU time, requests) before exiting.
    const report = new Promise((resolve) => child.once('message', resolve));
    child.send('stop');
    const out = await Promise.race([report, new Promise((r) => setTimeout(r, 3000))]);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
    return out;
  };
  return { url: `http://127.0.0.1:${port}`, port, child, stop };
}

/** Runs a child bench script that sends one message with its result, then exits. */
export function runChild(script, args, env = {}, execArgv = []) {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(`./${script}`, import.meta.url), args, {
      env: { ...process.env, ...env },
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let result;
    child.on('message', (m) => (result = m));
    child.once('error', reject);
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`${script} exited with ${code} and no result`))));
  });
}

export function machine() {
  return {
    node: process.version,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memGiB: round(os.totalmem() / 2 ** 30, 1),
    platform: `${os.platform()} ${os.release()}`,
    loadavg: os.loadavg().map((l) => round(l, 2)),
  };
}

/**
 * One row of the figures table. `ratio` is measured/baseline, `target` a human sentence and `ok`
 * whether the figure meets it.
 */
export function row(figure, measured, baseline, ratio, target, ok, note = '') {
  return { figure, measured, baseline, ratio: ratio === null ? null : round(ratio, 2), target, ok, note };
}

export function printTable(title, rows) {
  const headers = ['figure', 'measured', 'baseline', 'ratio', 'target', 'met'];
  const cells = rows.map((r) => [r.figure, r.measured, r.baseline, r.ratio === null ? '' : `${r.ratio}×`, r.target, r.ok === null ? 'n/a' : r.ok ? 'yes' : 'NO']);
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((c) => String(c[i]).length)));
  const line = (c) => `| ${c.map((x, i) => String(x).padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n## ${title}\n`);
  console.log(`load average now: ${os.loadavg().map((l) => round(l, 2)).join(' ')} on ${os.cpus().length} CPUs\n`);
  console.log(line(headers));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const c of cells) console.log(line(c));
  for (const r of rows) if (r.note) console.log(`  - ${r.figure}: ${r.note}`);
}

/** The 1-minute load average, for a figure to say how busy the machine was while it ran. */
export function load1() {
  return round(os.loadavg()[0], 2);
}

/** Merges one figure's results into bench/results.json so figures can be run one at a time. */
export async function saveResults(name, data) {
  let all = {};
  try {
    all = JSON.parse(await readFile(RESULTS, 'utf8'));
  } catch {
    all = {};
  }
  all.machine = machine();
  all.figures ??= {};
  all.figures[name] = { at: new Date().toISOString(), machine: machine(), ...data };
  await writeFile(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
}

export function ms(n) {
  return `${round(n, n < 10 ? 2 : 0)} ms`;
}
