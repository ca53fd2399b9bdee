/**
 * The compact history index: a loop cycle reads one record in full and the rest from the index,
 * and the reports rendered from that history are the ones rendered from every record read in full.
 * A record changed or broken by hand, a lost or garbled index: each is read from the records again.
 */
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/model/check-result.js';
import type { CycleRecord } from '../../src/model/record.js';
import { historyDir, historyIndexFile, readHistory, readHistoryIndexed, recordFileName, writeRecord } from '../../src/loop/history.js';
import { renderCycleJson, renderCycleMarkdown, renderTrend } from '../../src/report/index.js';
import { gateOf, record, result } from './report-fixtures.js';

/** Cycle n: a check failing since cycle 2, one that passes on retry in odd cycles, one skipped in cycle 3, one added in cycle 4. */
function cycle(n: number, service = 'chat-service'): CycleRecord {
  const results: CheckResult[] = [
    result({ name: 'health', priority: 'P0', figures: { latencyMs: 3 + n } }),
    result({
      name: 'orders',
      priority: 'P0',
      status: n >= 2 ? 'fail' : 'pass',
      ...(n >= 2 ? { failure: { class: 'http-5xx', message: `GET /orders: expected status 200, got 503 (cycle ${n})`, evidence: { status: 503, excerpt: 'db down' } } } : {}),
    }),
    result({ name: 'search', priority: 'P1', attempts: n % 2 ? 2 : 1, ...(n % 2 ? { attemptLog: [{ attempt: 1, status: 'fail', durationMs: 4 }, { attempt: 2, status: 'pass', durationMs: 5 }] } : {}) }),
    result({ name: 'chat', kind: 'websocket', priority: 'P1', status: n === 3 ? 'skipped' : 'pass' }),
    ...(n >= 4 ? [result({ name: 'admin', priority: 'P2', status: 'degraded' })] : []),
  ];
  return record({ cycle: n, service, startedAt: `2026-01-0${Math.min(n, 9)}T10:00:00.000Z`, smoke: { durationMs: 100 + n, results }, gate: gateOf(results) });
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(os.tmpdir(), 'history-index-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function renders(current: CycleRecord, history: CycleRecord[]): string[] {
  return [renderCycleMarkdown(current, history), JSON.stringify(renderCycleJson(current, history)), renderTrend([...history, current])];
}

describe('readHistoryIndexed', () => {
  it('reads only the latest record in full, and renders what the full history renders', async () => {
    for (let n = 1; n <= 6; n++) await writeRecord(dir, cycle(n));
    const full = await readHistory(dir, 'chat-service');
    const indexed = await readHistoryIndexed(dir, 'chat-service');
    expect(indexed.readRecords).toBe(1);
    expect(indexed.problems).toEqual([]);
    expect(indexed.records.map((r) => r.cycle)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(indexed.previous).toEqual(full.records.at(-1));
    expect(indexed.records.at(-1)).toBe(indexed.previous);
    const current = cycle(7);
    expect(renders(current, indexed.records)).toEqual(renders(current, full.records));
  });

  it('reads a record again when its file changed after it was indexed, and reports a broken one as readHistory does', async () => {
    for (let n = 1; n <= 4; n++) await writeRecord(dir, cycle(n));
    await readHistoryIndexed(dir, 'chat-service');
    const file = join(historyDir(dir), recordFileName(2));
    const edited = JSON.parse(await readFile(file, 'utf8')) as CycleRecord;
    edited.smoke.results[0]!.status = 'fail';
    await writeFile(file, JSON.stringify(edited));
    const after = await readHistoryIndexed(dir, 'chat-service');
    expect(after.readRecords).toBe(2);
    expect(after.records[1]?.smoke.results[0]?.status).toBe('fail');
    await writeFile(join(historyDir(dir), recordFileName(3)), '{"schemaVersion":1,"cycle":"three"}');
    const broken = await readHistoryIndexed(dir, 'chat-service');
    const full = await readHistory(dir, 'chat-service');
    expect(broken.problems).toEqual(full.problems);
    expect(broken.problems).toHaveLength(1);
    expect(broken.records.map((r) => r.cycle)).toEqual([1, 2, 4]);
  });

  it('rebuilds a lost or garbled index from the records, then reads one record again', async () => {
    for (let n = 1; n <= 5; n++) await writeRecord(dir, cycle(n));
    const index = historyIndexFile(dir);
    await unlink(index);
    expect((await readHistoryIndexed(dir, 'chat-service')).readRecords).toBe(5);
    expect((await readHistoryIndexed(dir, 'chat-service')).readRecords).toBe(1);
    const garbled = JSON.parse(await readFile(index, 'utf8')) as { entries: { codes: string }[] };
    garbled.entries[0]!.codes = 'zz';
    await writeFile(index, JSON.stringify(garbled));
    const again = await readHistoryIndexed(dir, 'chat-service');
    expect(again.readRecords).toBe(2);
    const full = await readHistory(dir, 'chat-service');
    expect(renders(cycle(6), again.records)).toEqual(renders(cycle(6), full.records));
  });

  it('reads the service’s own latest record in full when another service wrote the newest file', async () => {
    for (let n = 1; n <= 3; n++) await writeRecord(dir, cycle(n));
    await writeRecord(dir, cycle(4, 'other-service'));
    const indexed = await readHistoryIndexed(dir, 'chat-service');
    const full = await readHistory(dir, 'chat-service');
    expect(indexed.records.map((r) => r.cycle)).toEqual([1, 2, 3]);
    expect(indexed.previous).toEqual(full.records.at(-1));
    expect(renders(cycle(5), indexed.records)).toEqual(renders(cycle(5), full.records));
  });

  it('adds each written record to the index it last wrote, and reads the file again once another writer replaced it', async () => {
    for (let n = 1; n <= 3; n++) await writeRecord(dir, cycle(n));
    const index = historyIndexFile(dir);
    const files = async () => (JSON.parse(await readFile(index, 'utf8')) as { entries: { file: string }[] }).entries.map((e) => e.file);
    expect(await files()).toEqual([1, 2, 3].map(recordFileName));
    // Another writer (a `report` run, a restore) leaves an index that names cycle 1 only.
    const other = JSON.parse(await readFile(index, 'utf8')) as { entries: { file: string }[] };
    other.entries = other.entries.slice(0, 1);
    await writeFile(index, JSON.stringify(other));
    await writeRecord(dir, cycle(4));
    expect(await files()).toEqual([1, 4].map(recordFileName));
    // A record changed in memory after it was written does not change its index entry.
    const five = cycle(5);
    await writeRecord(dir, five);
    five.traffic.note = 'changed after it was written';
    await writeRecord(dir, cycle(6));
    const read = await readHistoryIndexed(dir, 'chat-service');
    expect(read.records.find((r) => r.cycle === 5)?.traffic).toEqual(cycle(5).traffic);
  });
});
