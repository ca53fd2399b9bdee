/**
 * Child process for figure 3: a proxy in front of the bench server, either the local target's
 * TrafficProxy (`traffic`) or the smallest keep-alive Node proxy that could do the job, with a
 * node:http Agent (`minimal`) or an undici Pool (`minimal-undici`) upstream: the floor for "one more
 * Node hop" and which upstream client is cheaper. Reports its port, and its CPU time on request.
 */
import http from 'node:http';
import net from 'node:net';
import { Pool } from 'undici';
import { TrafficProxy } from '../dist/runtime/proxy.js';

const [mode, backendUrl] = process.argv.slice(2);
let close;
let port;
if (mode === 'traffic') {
  const proxy = await TrafficProxy.start();
  await proxy.setRoutes({ split: [{ backend: { name: 'bench-00001', url: backendUrl }, percent: 100 }], tags: {} });
  port = Number(new URL(proxy.url).port);
  close = () => proxy.close();
} else if (mode === 'pipe') {
  // A bare TCP relay, one upstream connection per client connection, no HTTP parsing at all: the
  // floor for any proxy written in Node (what the event loop and two socket hops cost per request).
  const target = new URL(backendUrl);
  const server = net.createServer({ noDelay: true }, (client) => {
    const up = net.connect({ host: target.hostname, port: Number(target.port), noDelay: true });
    client.pipe(up).pipe(client);
    const both = () => { client.destroy(); up.destroy(); };
    client.on('error', both);
    up.on('error', both);
    client.on('close', both);
    up.on('close', both);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
  close = () => new Promise((resolve) => server.close(() => resolve()));
} else if (mode === 'minimal-undici') {
  // The same smallest proxy with an undici Pool upstream and a dispatch handler writing straight to
  // the response: decides whether undici beats node:http as the upstream client here.
  const pool = new Pool(backendUrl, { connections: 64 });
  const server = http.createServer((req, res) => {
    pool.dispatch({ method: req.method, path: req.url, headers: req.headers.host ? { ...req.headers, connection: undefined } : req.headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req }, {
      onRequestStart() {},
      onResponseStart(controller, status, headers) {
        res.writeHead(status, headers);
        res.on('drain', () => controller.resume());
      },
      onResponseData(controller, chunk) {
        if (!res.write(chunk)) controller.pause();
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError() {
        res.destroy();
      },
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
  close = () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); pool.destroy(); });
} else {
  const target = new URL(backendUrl);
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const up = http.request({ hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
  close = () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections(); agent.destroy(); });
}
process.send({ port });
// 'mark' starts the CPU count after the warm-up; 'cpu' and 'stop' report CPU since the mark.
let mark;
process.on('message', async (m) => {
  if (m === 'mark') {
    mark = process.cpuUsage();
    return;
  }
  if (m === 'cpu') {
    const cpu = process.cpuUsage(mark);
    process.send({ cpuMs: (cpu.user + cpu.system) / 1000 });
    return;
  }
  if (m !== 'stop') return;
  const cpu = process.cpuUsage(mark);
  process.send({ cpuMs: (cpu.user + cpu.system) / 1000 });
  await close();
  process.exit(0);
});
process.on('disconnect', () => process.exit(0));
