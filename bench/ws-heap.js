/**
 * Where figure 2's memory goes: a heap snapshot of the raw ws loop and of the smoke check, each at the
 * hold (all N connections open, see BENCH_WS_HEAP_SNAPSHOT in ws-client.js), summed by object type
 * and constructor, and the smoke check's extra per connection, largest first. Not part of `bench/run.js`
 * (a snapshot of 10,000 connections takes a while); run after `npm run build`:
 *   node bench/ws-heap.js [connections, default 2000] [rows, default 25]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runChild, startServer } from './lib.js';

const n = Number(process.argv[2] ?? 2000);
const rowsShown = Number(process.argv[3] ?? 25);

async function snapshot(mode, file) {
  const server = await startServer({ BENCH_BARRIER: String(n) });
  try {
    const r = await runChild('ws-client.js', [mode, server.url, String(n)], { BENCH_WS_HEAP_SNAPSHOT: file });
    if (!r.passed) throw new Error(`${mode}: the run failed (${r.failure ?? 'no ready frame'})`);
  } finally {
    await server.stop();
  }
}

/** Self size and count per "type:constructor" (strings and code lumped by type). */
async function summarize(file) {
  const snap = JSON.parse(await readFile(file, 'utf8'));
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const out = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + iType]];
    const name = type.includes('string') || type === 'code' || type === 'number' ? '' : snap.strings[snap.nodes[i + iName]].slice(0, 60);
    const key = `${type}:${name}`;
    const e = out.get(key) ?? { count: 0, bytes: 0 };
    e.count++;
    e.bytes += snap.nodes[i + iSize];
    out.set(key, e);
  }
  return out;
}

const dir = await mkdtemp(path.join(os.tmpdir(), 'ws-heap-'));
try {
  const files = { raw: path.join(dir, 'raw.heapsnapshot'), smoke: path.join(dir, 'smoke.heapsnapshot') };
  await snapshot('raw', files.raw);
  await snapshot('smoke', files.smoke);
  const raw = await summarize(files.raw);
  const smoke = await summarize(files.smoke);
  const total = (m) => [...m.values()].reduce((s, e) => s + e.bytes, 0);
  const rows = [...new Set([...raw.keys(), ...smoke.keys()])]
    .map((k) => {
      const a = raw.get(k) ?? { count: 0, bytes: 0 };
      const b = smoke.get(k) ?? { count: 0, bytes: 0 };
      return { k, bytes: (b.bytes - a.bytes) / n, count: (b.count - a.count) / n };
    })
    .sort((x, y) => Math.abs(y.bytes) - Math.abs(x.bytes));
  console.log(`heap at the hold, ${n} connections: raw ${(total(raw) / 2 ** 20).toFixed(1)} MiB, smoke check ${(total(smoke) / 2 ** 20).toFixed(1)} MiB; smoke − raw per connection: ${((total(smoke) - total(raw)) / n).toFixed(0)} bytes`);
  console.log('bytes/conn  objects/conn  type:constructor');
  for (const r of rows.slice(0, rowsShown)) console.log(`${r.bytes.toFixed(0).padStart(10)}  ${r.count.toFixed(2).padStart(12)}  ${r.k}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
