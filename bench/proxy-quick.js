/**
 * A quick look at one proxy mode's CPU per request (`node bench/proxy-quick.js traffic|pipe|minimal-undici [seconds]`):
 * the figure least moved by other load, for trying a change to the proxy without the whole figure 3.
 */
import autocannon from 'autocannon';
import { startServer } from './lib.js';

const [mode = 'traffic', secondsArg = '4'] = process.argv.slice(2);
const server = await startServer();
const proxy = await startServer({}, 'proxy-child.js', [mode, server.url]);
const cpu = () => new Promise((resolve) => {
  proxy.child.once('message', (m) => resolve(m.cpuMs));
  proxy.child.send('cpu');
});
try {
  await autocannon({ url: `${proxy.url}/items/7`, connections: 10, duration: 1 });
  proxy.child.send('mark');
  const r = await autocannon({ url: `${proxy.url}/items/7`, connections: 10, duration: Number(secondsArg) });
  const ms = await cpu();
  console.log(`${mode}: ${Math.round(r.requests.average)} req/s, ${((ms * 1000) / r.requests.total).toFixed(1)} µs CPU per request, errors ${r.errors + r.non2xx}`);
} finally {
  await proxy.stop();
  await server.stop();
}
