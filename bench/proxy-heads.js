/**
 * CPU time of the local proxy's head rewriting alone (`node bench/proxy-heads.js`): the request head
 * autocannon sends and the response head node:http answers with, rewritten 500,000 times each.
 * Process CPU time, not wall time, so other load on the machine moves it little.
 */
import { leanRequest, leanResponse } from '../dist/runtime/http1-relay.js';

const request = Buffer.from('GET /items/7 HTTP/1.1\r\nhost: 127.0.0.1:4000\r\nuser-agent: autocannon\r\naccept: */*\r\n\r\n');
const response = 'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 92\r\nDate: Tue, 01 Dec 2026 14:55:00 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5';
const n = 500_000;
const cpuUs = () => process.cpuUsage().user;
for (let round = 1; round <= 3; round++) {
  let t = cpuUs();
  for (let i = 0; i < n; i++) leanRequest(request.toString('latin1', 0, request.length - 4), '127.0.0.1');
  const req = (cpuUs() - t) / n;
  t = cpuUs();
  for (let i = 0; i < n; i++) leanResponse(response, 'bench-00001', false, false);
  const res = (cpuUs() - t) / n;
  console.log(`round ${round}: request head ${req.toFixed(2)} µs, response head ${res.toFixed(2)} µs of CPU`);
}
