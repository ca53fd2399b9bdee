/** Figure 5, CLI start: `node bin/deploy-loop.js --help` against `node -e 0`, median of N runs each, interleaved. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT, envInt, median, ms, printTable, row, saveResults } from './lib.js';

function time(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const took = performance.now() - t0;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return took;
}

export async function benchCli() {
  const runs = envInt('BENCH_CLI_RUNS', 10);
  const cli = [join(ROOT, 'bin', 'deploy-loop.js'), '--help'];
  const bare = ['-e', '0'];
  time(cli); // warm the file system cache
  const help = [];
  const floor = [];
  for (let i = 0; i < runs; i++) {
    floor.push(time(bare));
    help.push(time(cli));
  }
  const h = median(help);
  const f = median(floor);
  const rows = [row('CLI start: deploy-loop --help', ms(h), `node -e 0: ${ms(f)}`, h / f, '≤ 2×', h / f <= 2, `median of ${runs} runs each`)];
  printTable('5. CLI start', rows);
  await saveResults('cli', { runs, helpMs: help, nodeMs: floor, rows });
  return rows;
}
