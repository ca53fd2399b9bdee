/**
 * chat-service: a small HTTP + WebSocket service for deploy-loop's demo.
 *
 *   GET /healthz      {ok, revision}
 *   GET /api/info     {service, version, revision}
 *   WS  /ws/echo      {type:'ping', n} → {type:'pong', n}; anything else is echoed back
 *   WS  /ws/agent     {type:'user', text} → the agent pipeline's frames (see pipeline.mjs)
 *   WS  /ws/admin     needs `Authorization: Bearer $ADMIN_TOKEN`, else closes with 1008
 *
 * PORT (default 8080) and HOST (default 0.0.0.0, so it also works in a container) pick the
 * address; K_REVISION names the revision, as Cloud Run sets it.
 */
import { createServer } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { WebSocketServer } from 'ws';
import { agentTurn } from './pipeline.mjs';

const SERVICE = 'chat-service';
const VERSION = '1.4.0';
const revision = process.env.K_REVISION ?? 'local';
const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';
const startedAt = Date.now();

/** RFC 6455 allows 123 bytes of close reason (a 125-byte control frame minus the 2-byte code). */
const MAX_CLOSE_REASON_BYTES = 123;

const log = (msg) => process.stderr.write(`[${SERVICE} ${revision}] ${msg}\n`);

function sendJson(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const routes = {
  '/healthz': () => ({ ok: true, revision }),
  '/api/info': () => ({ service: SERVICE, version: VERSION, revision }),
};

const server = createServer((req, res) => {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  const route = routes[pathname];
  if (!route) return sendJson(res, 404, { error: 'not found', path: pathname });
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return sendJson(res, 405, { error: 'method not allowed', method: req.method });
  }
  sendJson(res, 200, route());
});

const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
const sockets = { '/ws/echo': handleEcho, '/ws/agent': handleAgent, '/ws/admin': handleAdmin };

server.on('upgrade', (req, socket, head) => {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  const handler = sockets[pathname];
  if (!handler) {
    const body = JSON.stringify({ error: 'not found', path: pathname });
    socket.end(
      `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => handler(ws, req));
});

function parse(data) {
  try {
    return JSON.parse(data.toString());
  } catch {
    return undefined;
  }
}

function handleEcho(ws) {
  ws.on('message', (data, isBinary) => {
    const msg = isBinary ? undefined : parse(data);
    if (msg?.type === 'ping') ws.send(JSON.stringify({ type: 'pong', n: msg.n }));
    else ws.send(data, { binary: isBinary });
  });
}

function handleAgent(ws) {
  const abort = new AbortController();
  ws.on('close', () => abort.abort());
  // Turns on one connection run one after another, as a conversation does.
  let queue = Promise.resolve();
  ws.on('message', (data) => {
    const msg = parse(data);
    if (msg?.type !== 'user' || typeof msg.text !== 'string') {
      ws.send(JSON.stringify({ type: 'error', message: 'expected {"type":"user","text":"..."}' }));
      return;
    }
    queue = queue.then(() => runTurn(ws, msg.text, abort.signal));
  });
}

async function runTurn(ws, text, signal) {
  if (signal.aborted) return;
  try {
    for await (const frame of agentTurn(text, { signal })) {
      if (ws.readyState !== ws.OPEN) return;
      ws.send(frame);
    }
  } catch (err) {
    if (signal.aborted) return;
    log(`pipeline error on /ws/agent: ${err instanceof Error ? err.stack : String(err)}`);
    const message = err instanceof Error ? err.message : String(err);
    ws.close(1011, truncateUtf8(`pipeline error: ${message}`, MAX_CLOSE_REASON_BYTES));
  }
}

function handleAdmin(ws, req) {
  const token = process.env.ADMIN_TOKEN;
  const given = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!given) return ws.close(1008, 'policy violation: missing admin token');
  if (!token || !sameSecret(given, token)) return ws.close(1008, 'policy violation: invalid admin token');
  const stats = () =>
    JSON.stringify({ type: 'stats', revision, version: VERSION, connections: wss.clients.size, uptimeMs: Date.now() - startedAt });
  ws.send(stats());
  ws.on('message', (data) => {
    if (parse(data)?.type === 'stats') ws.send(stats());
  });
}

function sameSecret(a, b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Cuts text to at most `max` UTF-8 bytes without splitting a character. */
function truncateUtf8(text, max) {
  if (Buffer.byteLength(text) <= max) return text;
  let out = '';
  let bytes = 0;
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > max - 3) break;
    out += ch;
    bytes += n;
  }
  return `${out}...`;
}

let stopping = false;
function shutDown(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: closing`);
  server.close(() => process.exit(0));
  for (const ws of wss.clients) ws.close(1001, 'server shutting down');
  server.closeIdleConnections();
  // Clients that ignore the close frame must not hold the revision up.
  setTimeout(() => {
    for (const ws of wss.clients) ws.terminate();
    server.closeAllConnections();
  }, 2000).unref();
  setTimeout(() => process.exit(0), 5000).unref();
}
process.on('SIGTERM', () => shutDown('SIGTERM'));
process.on('SIGINT', () => shutDown('SIGINT'));

server.listen(port, host, () => {
  const addr = server.address();
  log(`listening on http://${host}:${typeof addr === 'object' && addr ? addr.port : port} (version ${VERSION})`);
});
