/**
 * The local service URL: an HTTP proxy on a stable port that splits requests and WebSocket upgrades
 * across revisions by percent, plus one listener per tag that reaches only that tag's revision
 * (the local stand-in for Cloud Run's `TAG---SERVICE` URLs). Bodies are streamed, backend
 * connections kept alive, and upgrades piped as raw TCP, so the proxy adds little latency.
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from '../log.js';
import { REVISION_HEADER, relayUpgrade } from './proxy-upgrade.js';

export interface Backend {
  name: string;
  url: string;
}

export interface ProxyRoutes {
  split: Array<{ backend: Backend; percent: number }>;
  tags: Record<string, Backend>;
}

export interface TrafficProxyOptions {
  host?: string;
  port?: number;
  log?: Logger;
  /** Source of randomness in [0, 1) for the weighted choice; tests inject a deterministic one. */
  random?: () => number;
  /** Asked first for every request and upgrade: an answer refuses it (the emulator's invoker check). */
  admit?: (req: http.IncomingMessage) => { status: number; body: string } | undefined;
}

export { REVISION_HEADER };

/** A backend with its address parsed once, not per request. */
export interface ResolvedBackend {
  name: string;
  url: string;
  hostname: string;
  port: number;
}

interface SplitTable {
  backends: ResolvedBackend[];
  /** Cumulative weights, same order as backends. */
  cumulative: number[];
  total: number;
}

interface TagListener {
  server: http.Server;
  url: string;
  /** Mutable so a tag that moves to another revision keeps its URL. */
  route: { backend: ResolvedBackend };
}

// Headers that describe one hop and must not be forwarded (RFC 9110 §7.6.1).
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const EMPTY_SPLIT: SplitTable = { backends: [], cumulative: [], total: 0 };

export class TrafficProxy {
  private server!: http.Server;
  private serviceUrl = '';
  private split: SplitTable = EMPTY_SPLIT;
  private readonly tagListeners = new Map<string, TagListener>();
  private readonly sockets = new Set<Duplex>();
  private readonly agent = new http.Agent({ keepAlive: true, scheduling: 'lifo' });
  /** setRoutes calls run one after another so tag listeners are never opened twice. */
  private routesQueue: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly host: string,
    private readonly log: Logger | undefined,
    private readonly random: () => number,
    private readonly admit?: TrafficProxyOptions['admit'],
  ) {}

  static async start(opts: TrafficProxyOptions = {}): Promise<TrafficProxy> {
    const proxy = new TrafficProxy(opts.host ?? '127.0.0.1', opts.log, opts.random ?? Math.random, opts.admit);
    proxy.server = await proxy.listen(opts.port ?? 0, () => proxy.pick());
    proxy.serviceUrl = urlOf(proxy.server, proxy.host);
    opts.log?.debug({ url: proxy.serviceUrl }, 'traffic proxy listening');
    return proxy;
  }

  /** The service URL, http://127.0.0.1:PORT. */
  get url(): string {
    return this.serviceUrl;
  }

  /** Swaps the split in one assignment; opens listeners for new tags and closes those of removed tags. */
  setRoutes(routes: ProxyRoutes): Promise<void> {
    const next = this.routesQueue.then(() => this.applyRoutes(routes));
    this.routesQueue = next.catch(() => undefined);
    return next;
  }

  tagUrl(tag: string): string | undefined {
    return this.tagListeners.get(tag)?.url;
  }

  /** Closes every listener and every open socket, including upgraded WebSockets. Safe to repeat. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.routesQueue;
      const servers = [this.server, ...[...this.tagListeners.values()].map((t) => t.server)];
      this.tagListeners.clear();
      this.split = EMPTY_SPLIT;
      const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
      this.agent.destroy();
      await Promise.all(closed);
    })();
    return this.closing;
  }

  private async applyRoutes(routes: ProxyRoutes): Promise<void> {
    if (this.closing) throw new Error('the traffic proxy is closed');
    const table = buildSplit(routes.split);
    const wanted = new Map(Object.entries(routes.tags).map(([tag, b]) => [tag, resolveBackend(b)]));
    for (const [tag, backend] of wanted) {
      const existing = this.tagListeners.get(tag);
      if (existing) {
        existing.route.backend = backend; // the tag URL stays stable when the tag moves to another revision
        continue;
      }
      const route = { backend };
      const server = await this.listen(0, () => route.backend);
      const listener: TagListener = { server, url: urlOf(server, this.host), route };
      this.tagListeners.set(tag, listener);
      this.log?.debug({ tag, url: listener.url, revision: backend.name }, 'tag listener opened');
    }
    this.split = table;
    for (const [tag, listener] of this.tagListeners) {
      if (wanted.has(tag)) continue;
      this.tagListeners.delete(tag);
      listener.server.close();
      listener.server.closeAllConnections();
      this.log?.debug({ tag }, 'tag listener closed');
    }
  }

  private listen(port: number, choose: () => ResolvedBackend | undefined): Promise<http.Server> {
    const server = http.createServer({ noDelay: true });
    server.on('connection', (s: net.Socket) => this.track(s));
    server.on('request', (req, res) => {
      const refused = this.admit?.(req);
      if (refused) sendPlain(res, refused.status, refused.body);
      else this.forward(req, res, choose());
    });
    server.on('upgrade', (req, socket, head) => {
      const refused = this.admit?.(req);
      if (refused) socket.end(rawResponse(refused.status, refused.body));
      else this.upgrade(req, socket, head, choose());
    });
    server.on('clientError', (err, socket) => {
      this.log?.debug({ err: err.message }, 'proxy client error');
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
      else socket.destroy();
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: this.host, port }, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  private pick(): ResolvedBackend | undefined {
    const { backends, cumulative, total } = this.split;
    if (total <= 0) return undefined;
    const r = this.random() * total;
    for (let i = 0; i < cumulative.length; i++) {
      if (r < (cumulative[i] as number)) return backends[i];
    }
    return backends[backends.length - 1];
  }

  private track(socket: Duplex): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse, backend: ResolvedBackend | undefined): void {
    if (!backend) {
      sendPlain(res, 503, 'no revision is serving traffic\n');
      return;
    }
    const headers = forwardHeaders(req);
    // A body-less idempotent request may be sent again once when the backend had closed the pooled
    // keep-alive socket just as it was reused (RFC 9110 §9.2.2); anything else gets the 502.
    const replayable = (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') && !hasBody(req);
    let current: http.ClientRequest | undefined;
    const send = (retried: boolean): void => {
      const upstream = http.request({
        hostname: backend.hostname,
        port: backend.port,
        method: req.method,
        path: req.url,
        headers,
        agent: this.agent,
      });
      current = upstream;
      upstream.on('response', (up) => {
        const out: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(up.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
        out[REVISION_HEADER] = backend.name;
        res.writeHead(up.statusCode ?? 502, up.statusMessage, out);
        up.pipe(res);
        up.on('error', () => res.destroy());
      });
      upstream.on('error', (err: NodeJS.ErrnoException) => {
        if (res.headersSent || res.destroyed) {
          res.destroy();
          return;
        }
        if (replayable && !retried && upstream.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          this.log?.debug({ revision: backend.name, err: err.message }, 'pooled backend socket was closed: request sent again');
          send(true);
          return;
        }
        res.setHeader(REVISION_HEADER, backend.name);
        sendPlain(res, 502, `bad gateway: revision ${backend.name} (${backend.url}) did not answer: ${err.message}\n`);
      });
      if (replayable) upstream.end();
      else req.pipe(upstream);
    };
    // The client went away before the answer was complete: stop talking to the backend too.
    res.on('close', () => {
      if (!res.writableFinished) current?.destroy();
    });
    req.on('error', () => current?.destroy());
    send(false);
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, backend: ResolvedBackend | undefined): void {
    if (!backend) {
      socket.end(rawResponse(503, 'no revision is serving traffic\n'));
      return;
    }
    const upstream = net.connect({ host: backend.hostname, port: backend.port });
    this.track(upstream);
    relayUpgrade(req, socket, head, upstream, backend, (err) =>
      rawResponse(502, `bad gateway: revision ${backend.name} (${backend.url}) did not answer: ${err.message}\n`, backend.name),
    );
  }
}

function buildSplit(split: ProxyRoutes['split']): SplitTable {
  const backends: ResolvedBackend[] = [];
  const cumulative: number[] = [];
  let total = 0;
  for (const { backend, percent } of split) {
    if (!Number.isFinite(percent) || percent < 0) throw new Error(`invalid percent ${percent} for ${backend.name}`);
    if (percent === 0) continue;
    total += percent;
    backends.push(resolveBackend(backend));
    cumulative.push(total);
  }
  return { backends, cumulative, total };
}

export function resolveBackend(b: Backend): ResolvedBackend {
  const u = new URL(b.url);
  if (u.protocol !== 'http:') throw new Error(`backend ${b.name}: only http:// URLs are supported, got ${b.url}`);
  return { name: b.name, url: b.url, hostname: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
}

function forwardHeaders(req: http.IncomingMessage): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  const client = req.socket.remoteAddress;
  if (client) out['x-forwarded-for'] = req.headers['x-forwarded-for'] ? `${req.headers['x-forwarded-for']}, ${client}` : client;
  out['x-forwarded-proto'] ??= 'http';
  if (req.headers.host) out['x-forwarded-host'] ??= req.headers.host;
  return out;
}

/** Whether the client announced a request body (RFC 9112 §6.3). */
function hasBody(req: http.IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function sendPlain(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** A complete HTTP/1.1 response for a socket that has left the HTTP parser (an upgrade). */
export function rawResponse(status: number, body: string, revision?: string): string {
  const reason = http.STATUS_CODES[status] ?? '';
  const rev = revision ? `${REVISION_HEADER}: ${revision}\r\n` : '';
  return (
    `HTTP/1.1 ${status} ${reason}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\n${rev}\r\n${body}`
  );
}

function urlOf(server: http.Server, host: string): string {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
