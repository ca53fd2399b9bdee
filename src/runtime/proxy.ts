/**
 * The local service URL: an HTTP proxy on a stable port that splits requests and WebSocket upgrades
 * across revisions by percent, plus one listener per tag that reaches only that tag's revision
 * (the local stand-in for Cloud Run's `TAG---SERVICE` URLs). Requests go upstream through an undici
 * Pool per revision (keep-alive; measured cheaper per request than node:http's Agent here), with one
 * handler object per request and no per-request closures; bodies are streamed both ways with
 * backpressure, and upgrades piped as raw TCP, so the proxy adds little latency.
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import type { Logger } from '../log.js';
import { ClientConnection, type RelayHost } from './http1-relay.js';
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
  /**
   * The request timeout of the revision a request went to, in ms (the emulator's, as Cloud Run's:
   * no answer in time is a 504; an answer still streaming is cut). Unset: no timeout.
   */
  requestTimeoutMs?: (backend: ResolvedBackend) => number | undefined;
}

/** Cloud Run's answer to a request past its revision's timeout (as public reports quote it). */
export const REQUEST_TIMEOUT_BODY = 'The request has been terminated because it has reached the maximum request timeout.\n';

export { REVISION_HEADER };

/** A backend with its address parsed once, not per request. */
export interface ResolvedBackend {
  name: string;
  url: string;
  /** scheme://host:port, the pool's key on the wire. */
  origin: string;
  hostname: string;
  port: number;
}

interface SplitTable {
  backends: ResolvedBackend[];
  /** Cumulative weights, same order as backends. */
  cumulative: number[];
  total: number;
}

/** A listening port: the relay's net.Server in front of node:http, or node:http alone. */
interface Listener {
  server: net.Server;
  /** Parses what the relay hands over (or every request, when the relay is off). */
  http: http.Server;
  /** Connections accepted on this port, so a removed tag's are closed with it. */
  sockets: Set<net.Socket>;
}

interface TagListener {
  listener: Listener;
  url: string;
  /** Mutable so a tag that moves to another revision keeps its URL. */
  route: { backend: ResolvedBackend };
}

// Headers that describe one hop and must not be forwarded (RFC 9110 §7.6.1), plus `expect`: node's
// server has already answered a 100-continue to the client, and undici refuses to send it on.
const HOP_BY_HOP = new Set([
  'expect',
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
  private main!: Listener;
  private serviceUrl = '';
  private split: SplitTable = EMPTY_SPLIT;
  private readonly tagListeners = new Map<string, TagListener>();
  private readonly sockets = new Set<Duplex>();
  /** One keep-alive pool per revision URL, shared by the split and the tag listeners. */
  private readonly pools = new Map<string, Pool>();
  /** setRoutes calls run one after another so tag listeners are never opened twice. */
  private routesQueue: Promise<void> = Promise.resolve();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly host: string,
    private readonly log: Logger | undefined,
    private readonly random: () => number,
    private readonly admit?: TrafficProxyOptions['admit'],
    private readonly requestTimeoutMs?: TrafficProxyOptions['requestTimeoutMs'],
  ) {}

  static async start(opts: TrafficProxyOptions = {}): Promise<TrafficProxy> {
    const proxy = new TrafficProxy(opts.host ?? '127.0.0.1', opts.log, opts.random ?? Math.random, opts.admit, opts.requestTimeoutMs);
    proxy.main = await proxy.listen(opts.port ?? 0, () => proxy.pick());
    proxy.serviceUrl = urlOf(proxy.main.server, proxy.host);
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
      const listeners = [this.main, ...[...this.tagListeners.values()].map((t) => t.listener)];
      this.tagListeners.clear();
      this.split = EMPTY_SPLIT;
      const closed = listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
      for (const socket of this.sockets) socket.destroy();
      this.sockets.clear();
      const pools = [...this.pools.values()];
      this.pools.clear();
      await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
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
      const opened = await this.listen(0, () => route.backend);
      const listener: TagListener = { listener: opened, url: urlOf(opened.server, this.host), route };
      this.tagListeners.set(tag, listener);
      this.log?.debug({ tag, url: listener.url, revision: backend.name }, 'tag listener opened');
    }
    this.split = table;
    for (const [tag, listener] of this.tagListeners) {
      if (wanted.has(tag)) continue;
      this.tagListeners.delete(tag);
      listener.listener.server.close();
      for (const socket of listener.listener.sockets) socket.destroy();
      this.log?.debug({ tag }, 'tag listener closed');
    }
    // A revision no route names any more: its pool finishes what is in flight, then closes.
    const used = new Set([...table.backends.map((b) => b.url), ...[...wanted.values()].map((b) => b.url)]);
    for (const [url, pool] of this.pools) {
      if (used.has(url)) continue;
      this.pools.delete(url);
      pool.close().catch(() => undefined);
    }
  }

  /** The pool for a revision, opened on its first request. */
  poolFor(backend: ResolvedBackend): Pool {
    let pool = this.pools.get(backend.url);
    if (!pool) {
      // No headers/body timeouts: as through node:http before, a service may stream (SSE, long polls).
      pool = new Pool(backend.origin, { headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 4_000 });
      this.pools.set(backend.url, pool);
    }
    return pool;
  }

  /**
   * A port for one route. Connections start on the HTTP/1.1 relay (src/runtime/http1-relay.ts),
   * which hands anything outside the plain case to node:http; with an admit check or a request
   * timeout (the emulator) node:http takes every request, since both need the parsed request.
   */
  private async listen(port: number, choose: () => ResolvedBackend | undefined): Promise<Listener> {
    const server = http.createServer({ noDelay: true });
    const sockets = new Set<net.Socket>();
    const accept = (s: net.Socket) => {
      this.track(s);
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    };
    let front: net.Server = server;
    if (!this.admit && !this.requestTimeoutMs) {
      const host: RelayHost = {
        choose,
        handOver: (socket, buffered) => {
          if (buffered) socket.unshift(buffered);
          server.emit('connection', socket);
          socket.resume();
        },
        track: (s) => this.track(s),
        debug: (fields, msg) => this.debug(fields, msg),
      };
      // Half-open as node:http's own sockets are: a client may send its request, then FIN, and still read the answer.
      front = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
        accept(socket);
        if (this.closing) return;
        new ClientConnection(socket, host);
      });
    } else {
      server.on('connection', accept);
    }
    this.handleHttp(server, choose);
    await new Promise<void>((resolve, reject) => {
      front.once('error', reject);
      front.listen({ host: this.host, port }, () => {
        front.off('error', reject);
        resolve();
      });
    });
    return { server: front, http: server, sockets };
  }

  private handleHttp(server: http.Server, choose: () => ResolvedBackend | undefined): void {
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
    const handler = new ForwardHandler(this, req, res, backend, forwardHeaders(req));
    (res as Tracked)[FORWARD] = handler;
    (req as Tracked)[FORWARD] = handler;
    res.on('close', onClientClose);
    res.on('drain', onClientDrain);
    req.on('error', onRequestError);
    const timeoutMs = this.requestTimeoutMs?.(backend);
    if (timeoutMs !== undefined) handler.armTimeout(timeoutMs);
    handler.send();
  }

  /** Debug log without building the object when nobody listens. */
  debug(fields: Record<string, unknown>, msg: string): void {
    this.log?.debug(fields, msg);
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
  return { name: b.name, url: b.url, origin: u.origin, hostname: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 80) };
}

/**
 * The request's headers for the revision, as a flat [name, value, …] list read from rawHeaders (so
 * node never builds req.headers): hop-by-hop headers and every header the client's `Connection`
 * names dropped (RFC 9110 §7.6.1), X-Forwarded-For extended with the client, X-Forwarded-Proto and
 * -Host added when absent.
 */
export function forwardHeaders(req: http.IncomingMessage): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let named: string[] | undefined;
  let forwardedFor: string | undefined;
  let host: string | undefined;
  let proto = false;
  let forwardedHost = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') named = connectionTokens(value, named);
      continue;
    }
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (lower === 'host') host = value;
    else if (lower === 'x-forwarded-proto') proto = true;
    else if (lower === 'x-forwarded-host') forwardedHost = true;
    out.push(name, value);
  }
  const client = req.socket.remoteAddress;
  const xff = client ? (forwardedFor ? `${forwardedFor}, ${client}` : client) : forwardedFor;
  if (xff !== undefined) out.push('x-forwarded-for', xff);
  if (!proto) out.push('x-forwarded-proto', 'http');
  if (host !== undefined && !forwardedHost) out.push('x-forwarded-host', host);
  return named ? withoutNamed(out, named) : out;
}

/**
 * The response's headers for the client, flat: hop-by-hop ones and those the revision's
 * `Connection` names dropped, the revision header added.
 */
export function responseHeaders(headers: http.IncomingHttpHeaders, revision: string): (string | string[])[] {
  const out: (string | string[])[] = [];
  let named: string[] | undefined;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') for (const v of Array.isArray(value) ? value : [value]) named = connectionTokens(v, named);
      continue;
    }
    out.push(name, value);
  }
  out.push(REVISION_HEADER, revision);
  return named ? withoutNamed(out, named) : out;
}

/** The header names a Connection value lists, lower-cased; `close` and `keep-alive` are hop-by-hop anyway. */
function connectionTokens(value: string, into: string[] | undefined): string[] | undefined {
  let out = into;
  for (const part of value.split(',')) {
    const token = part.trim().toLowerCase();
    if (token === '' || HOP_BY_HOP.has(token)) continue;
    (out ??= []).push(token);
  }
  return out;
}

function withoutNamed<T extends string | string[]>(flat: T[], named: string[]): T[] {
  const out: T[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i] as string;
    // The revision header is ours, not the revision's to remove.
    if (name !== REVISION_HEADER && named.includes(name.toLowerCase())) continue;
    out.push(flat[i] as T, flat[i + 1] as T);
  }
  return out;
}

/** Whether the client announced a request body (RFC 9112 §6.3); from rawHeaders, so req.headers is never built. */
function hasBody(req: http.IncomingMessage): boolean {
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    if (name === 'transfer-encoding') return true;
    if (name === 'content-length' && (raw[i + 1] as string).trim() !== '0') return true;
  }
  return false;
}

const FORWARD = Symbol('forward');
type Tracked = (http.ServerResponse | http.IncomingMessage) & { [FORWARD]?: ForwardHandler };

// Shared listeners: `this` is the emitter, the handler hangs off it, so a request costs no closures.
function onClientClose(this: http.ServerResponse): void {
  const h = (this as Tracked)[FORWARD];
  // The client went away before the answer was complete: stop talking to the revision too.
  if (h && !this.writableFinished) h.abort(new Error('the client closed the connection'));
}
function onClientDrain(this: http.ServerResponse): void {
  (this as Tracked)[FORWARD]?.controller?.resume();
}
function onRequestError(this: http.IncomingMessage): void {
  (this as Tracked)[FORWARD]?.abort(new Error('the client request failed'));
}

function resend(h: ForwardHandler): void {
  h.send();
}

/** Errors that mean the revision closed the connection before any answer: a pooled socket it had dropped. */
function closedBeforeAnswer(err: NodeJS.ErrnoException): boolean {
  return err.code === 'UND_ERR_SOCKET' || err.code === 'ECONNRESET' || err.code === 'EPIPE';
}

/** What the 502 says: node's words for a connection closed before an answer, whichever client met it. */
function upstreamError(err: NodeJS.ErrnoException): string {
  if (err.code === 'UND_ERR_SOCKET') return `socket hang up (${err.message})`;
  return err.message;
}

/**
 * One forwarded request: an undici dispatch handler that writes the revision's answer straight into
 * the client's response, pausing the revision while the client's socket is full.
 */
class ForwardHandler implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | undefined;
  private started = false;
  private retried = false;
  private aborted: Error | undefined;
  /** A body-less idempotent request may be sent again once (RFC 9110 §9.2.2). */
  private readonly replayable: boolean;
  private timedOut = false;

  constructor(
    private readonly proxy: TrafficProxy,
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    private readonly backend: ResolvedBackend,
    private readonly headers: string[],
  ) {
    const m = req.method;
    this.replayable = (m === 'GET' || m === 'HEAD' || m === 'OPTIONS') && !hasBody(req);
  }

  send(): void {
    const { req } = this;
    this.proxy.poolFor(this.backend).dispatch(
      { origin: this.backend.origin, method: req.method ?? 'GET', path: req.url ?? '/', headers: this.headers, body: this.replayable ? null : req },
      this,
    );
  }

  abort(reason: Error): void {
    this.aborted ??= reason;
    this.controller?.abort(reason);
  }

  /** Past `ms` without a whole answer: 504 if nothing was sent yet, else the connection is cut. */
  armTimeout(ms: number): void {
    const { res } = this;
    const timer = setTimeout(() => {
      if (res.writableEnded || res.destroyed) return;
      this.timedOut = true;
      this.proxy.debug({ revision: this.backend.name, timeoutMs: ms }, 'request timeout');
      this.abort(new Error(`request timeout (${ms} ms)`));
      if (res.headersSent) res.destroy();
      else {
        res.setHeader(REVISION_HEADER, this.backend.name);
        sendPlain(res, 504, REQUEST_TIMEOUT_BODY);
      }
    }, ms);
    res.once('close', () => clearTimeout(timer));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.aborted) controller.abort(this.aborted);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: http.IncomingHttpHeaders, statusMessage?: string): void {
    this.started = true;
    const { res } = this;
    if (res.destroyed || this.timedOut) {
      controller.abort(new Error('the client closed the connection'));
      return;
    }
    res.writeHead(statusCode, statusMessage || undefined, responseHeaders(headers, this.backend.name));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.res.write(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    const { res, backend } = this;
    if (this.timedOut) return; // the 504 is the answer; it must not be cut by this abort
    if (this.started || res.headersSent || res.destroyed || this.aborted) {
      res.destroy();
      return;
    }
    const e = err as NodeJS.ErrnoException;
    // undici does not say whether the socket was a pooled one; a connection closed before any answer
    // is what a revision's keep-alive timeout firing as the socket was reused looks like.
    if (this.replayable && !this.retried && closedBeforeAnswer(e)) {
      this.proxy.debug({ revision: backend.name, err: e.message }, 'backend connection was closed: request sent again');
      this.retried = true;
      this.controller = undefined;
      // After undici has put the dead connection's client back (a tick later), so the pool hands the
      // request to that client's new connection rather than to another socket as old as the dead one.
      setImmediate(resend, this);
      return;
    }
    res.setHeader(REVISION_HEADER, backend.name);
    sendPlain(res, 502, `bad gateway: revision ${backend.name} (${backend.url}) did not answer: ${upstreamError(e)}\n`);
  }
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

function urlOf(server: net.Server, host: string): string {
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}
