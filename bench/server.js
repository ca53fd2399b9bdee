/**
 * The service under test for the benches: JSON over HTTP and a WebSocket that greets, echoes and,
 * with BENCH_BARRIER=N, tells every client `{type: "ready"}` once N are connected at the same time
 * (so a smoke check provably holds N connections open). Listens on PORT, or on a free port that it
 * reports to its parent over IPC. Also runs as a revision of the local target (PORT set).
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';

const barrier = Number(process.env.BENCH_BARRIER || 0);
/** Simulated service time per request or message (a database call, a real network): 0 means CPU-bound. */
const delayMs = Number(process.env.BENCH_DELAY_MS || 0);
const later = (fn) => (delayMs > 0 ? setTimeout(fn, delayMs) : fn());
let requests = 0;

const server = http.createServer((req, res) => {
  requests++;
  if (req.url === '/healthz') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
    return;
  }
  const m = /^\/items\/(\d+)$/.exec(req.url ?? '');
  if (m) {
    const id = Number(m[1]);
    const body = JSON.stringify({ id, ok: true, name: `item ${id}`, tags: ['a', 'b'], stock: { count: id % 7, warehouse: 'w1' } });
    later(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":"not found"}');
});

const wss = new WebSocketServer({ server, path: '/ws', clientTracking: false });
const open = new Set();
let peakOpen = 0;
wss.on('connection', (ws) => {
  open.add(ws);
  peakOpen = Math.max(peakOpen, open.size);
  ws.on('close', () => open.delete(ws));
  ws.on('error', () => open.delete(ws));
  ws.on('message', (data) => later(() => ws.send(data.toString())));
  if (barrier === 0) ws.send('{"type":"welcome"}');
  else if (open.size === barrier) for (const c of open) c.send('{"type":"ready"}');
});

server.listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
  process.send?.({ port: server.address().port });
});

let mark;
const stop = () => {
  const cpu = process.cpuUsage(mark);
  process.send?.({ requests, peakOpen, cpuMs: (cpu.user + cpu.system) / 1000, maxRssMiB: process.resourceUsage().maxRSS / 1024 });
  for (const c of open) c.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
// 'mark' restarts the CPU count (after a warm-up); 'cpu' and 'stop' report CPU since the mark.
process.on('message', (m) => {
  if (m === 'mark') mark = process.cpuUsage();
  if (m === 'cpu') {
    const cpu = process.cpuUsage(mark);
    process.send?.({ cpuMs: (cpu.user + cpu.system) / 1000 });
  }
  if (m === 'stop') stop();
});
process.on('SIGTERM', stop);
process.on('disconnect', () => process.exit(0));
