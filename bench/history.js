/**
 * Figure 8, history reading at the start of a loop cycle: 50 records of 10,000 checks each on disk.
 * The baseline is readHistory (every record read and validated); the figure readHistoryIndexed (the
 * latest record read and validated, the others from history-index.json), both in this run, best of
 * the repeats. The records are written once with writeRecord, which also keeps the index.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { readHistory, readHistoryIndexed, writeRecord } from '../dist/loop/history.js';
import { envInt, load1, ms, printTable, round, row, saveResults } from './lib.js';
import { record, results } from './render.js';

export async function benchHistory() {
  const n = envInt('BENCH_HISTORY_CHECKS', 10_000);
  const cycles = envInt('BENCH_HISTORY_CYCLES', 50);
  const repeats = envInt('BENCH_HISTORY_REPEATS', 3);
  const dir = await mkdtemp(join(os.tmpdir(), 'deploy-loop-bench-history-'));
  const loadAtStart = load1();
  const times = { full: [], indexed: [] };
  let readRecords = 0;
  try {
    const shared = results(n, 1);
    for (let c = 1; c <= cycles; c++) await writeRecord(dir, record(n, c, shared));
    await readHistoryIndexed(dir, 'bench'); // warm-up (and the file cache)
    for (let r = 0; r < repeats; r++) {
      let t0 = performance.now();
      const full = await readHistory(dir, 'bench');
      times.full.push(performance.now() - t0);
      t0 = performance.now();
      const indexed = await readHistoryIndexed(dir, 'bench');
      times.indexed.push(performance.now() - t0);
      readRecords = indexed.readRecords;
      if (indexed.records.length !== full.records.length) throw new Error(`indexed read ${indexed.records.length} records, full ${full.records.length}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const best = (xs) => Math.min(...xs);
  const f = best(times.full);
  const i = best(times.indexed);
  const rows = [
    row(`history read, ${cycles} records × ${n} checks`, ms(i), `every record read and validated: ${ms(f)}`, i / f, '≤ 150 ms', i <= 150,
      `${readRecords} record read in full, the others from the index; best of ${repeats}; 1-min load ${loadAtStart} at start, ${load1()} at end`),
  ];
  printTable('8. History read', rows);
  await saveResults('history', { checks: n, cycles, repeats, times: { full: times.full.map((x) => round(x, 1)), indexed: times.indexed.map((x) => round(x, 1)) }, rows });
  return rows;
}
