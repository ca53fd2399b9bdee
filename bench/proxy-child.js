/**
 * Child process for figure 3: a proxy in front of the bench server, either the local target's
 * TrafficProxy (`traffic`) or the smallest keep-alive Node proxy that could do the job (`minimal`),
 * the floor for "one more Node hop". Reports its port, and its CPU time when stopped.
 */
import http from 'node:http';
import { TrafficProxy } from '../dist/runtime/proxy.js';

const [mode, backendUrl] = process.argv.slice(2);
let close;
let port;
if (mode === 'traffic') {
  const proxy = await TrafficProxy.start();
  await proxy.setRoutes({ split: [{ backend: { name: 'bench-00001', url: backendUrl }, percent: 100 }], tags: {} });
  port = Number(new URL(proxy.url).port);
  close = () => proxy.close();
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
// 'mark' starts the CPU count after the warm-up; 'stop' reports CPU since the mark.
let mark;
process.on('message', async (m) => {
  if (m === 'mark') {
    mark = process.cpuUsage();
    return;
  }
  if (m !== 'stop') return;
  const cpu = process.cpuUsage(mark);
  process.send({ cpuMs: (cpu.user + cpu.system) / 1000 });
  await close();
  process.exit(0);
});
process.on('disconnect', () => process.exit(0));
