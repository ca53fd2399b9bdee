/**
 * The proxy's fast path: an HTTP/1.1 relay that reads only message heads and framing. Node's HTTP
 * server and undici each build objects per request (IncomingMessage, ServerResponse, header arrays,
 * a dispatch); on two cores shared with the load generator and the service that CPU was the proxy's
 * throughput and latency (bench figure 3: 69 µs per request against nginx's 23 µs). Here a request
 * costs one head rewrite each way: bodies are relayed as they arrive, never parsed, and each client
 * connection keeps one upstream connection per revision it reached.
 *
 * Only the plain case is taken: HTTP/1.1, no Transfer-Encoding, Expect or Upgrade on the request,
 * heads under 16 KiB. Anything else (HTTP/1.0, chunked uploads, 100-continue, WebSocket upgrades,
 * malformed input, whose answers node:http already gets right: 400, 431, 505) is handed over, at a
 * request boundary, to the node:http path with the bytes read so far. Hand-written rather than a
 * library because no maintained package relays HTTP/1.1 without parsing bodies (http-parser-js
 * parses every byte in JavaScript); what it checks is what a relay needs: RFC 9112 message framing
 * (§6.3) and the hop-by-hop rules (RFC 9110 §7.6.1).
 */
import net from 'node:net';
import { REVISION_HEADER } from './proxy-upgrade.js';

/** What a relayed connection needs from the proxy. */
export interface RelayHost {
  /** The revision for the next request (the split or the tag), undefined when none serves. */
  choose(): RelayBackend | undefined;
  /** Gives a socket, with the bytes already read from it, to the node:http path. */
  handOver(socket: net.Socket, buffered: Buffer | undefined): void;
  /** Every socket opened for the relay, so close() reaches it. */
  track(socket: net.Socket): void;
  debug(fields: Record<string, unknown>, msg: string): void;
}

export interface RelayBackend {
  name: string;
  url: string;
  hostname: string;
  port: number;
}

/** node:http's default limit; past it the node:http path answers 431. */
const MAX_HEAD_BYTES = 16 * 1024;
/** Bytes a client may send ahead (pipelining) before reading from it pauses. */
const MAX_AHEAD_BYTES = 64 * 1024;
/** Idle time before a kept-alive client connection is closed: node:http's default keepAliveTimeout. */
const CLIENT_IDLE_MS = 5_000;
const HEAD_END = Buffer.from('\r\n\r\n');
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const TARGET = /^[\x21-\x7e]+$/;
const DIGITS = /^\d{1,15}$/;
const HEX = /^[0-9a-fA-F]{1,15}$/;
// Hop-by-hop fields (RFC 9110 §7.6.1) are the alternatives of REQUEST_SPECIAL / RESPONSE_SPECIAL
// below that are cut. Transfer-Encoding and Trailer stay on responses: their bytes are relayed as
// framed, end to end.

interface LeanRequest {
  head: string;
  bodyLength: number;
  noResponseBody: boolean;
  /** Body-less idempotent requests may be sent again once (RFC 9110 §9.2.2). */
  replayable: boolean;
  close: boolean;
}

/**
 * The field lines after the start line, each `\r\n` + token + `:` + value without CR, LF or NUL:
 * validated in one pass (no backtracking: the parts' characters do not overlap). No whitespace
 * before the colon and no obs-fold (RFC 9112 §5.1, §5.2): node:http gets those.
 */
const FIELDS = /^(?:\r\n[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[^\r\n\0]*)*$/;
// The only request fields the relay reads or drops; every other line is passed on as it came.
const REQUEST_SPECIAL =
  /\r\n(host|content-length|transfer-encoding|upgrade|expect|connection|keep-alive|proxy-connection|proxy-authenticate|proxy-authorization|te|trailer|x-forwarded-for|x-forwarded-proto|x-forwarded-host):([^\r]*)/gi;
const RESPONSE_SPECIAL = /\r\n(content-length|transfer-encoding|connection|keep-alive|proxy-connection|proxy-authenticate|proxy-authorization|upgrade):([^\r]*)/gi;

/** `fields` without the [start, end) ranges in `cuts`, and without the lines `named` names. */
function cut(fields: string, cuts: number[] | undefined, named: string[] | undefined): string {
  let out = fields;
  if (cuts) {
    out = '';
    let at = 0;
    for (let i = 0; i < cuts.length; i += 2) {
      out += fields.slice(at, cuts[i]);
      at = cuts[i + 1] as number;
    }
    out += fields.slice(at);
  }
  if (named) {
    // Field names are tokens, which may hold regex characters: escaped.
    const names = named.map((n) => n.replace(/[.*+^$|`]/g, '\\$&')).join('|');
    out = out.replace(new RegExp(`\\r\\n(?:${names}):[^\\r]*`, 'gi'), '');
  }
  return out;
}

/** The header names a Connection value lists beyond close and keep-alive, lower-cased. */
function connectionNamed(value: string, into: string[] | undefined): string[] | undefined {
  let out = into;
  for (const part of value.split(',')) {
    const token = fieldValue(part, -1).toLowerCase();
    if (token !== '' && token !== 'close' && token !== 'keep-alive') (out ??= []).push(token);
  }
  return out;
}

const CLOSE_TOKEN = /(?:^|,)[ \t]*close[ \t]*(?:,|$)/i;
const UPGRADE_TOKEN = /(?:^|,)[ \t]*upgrade[ \t]*(?:,|$)/i;

/** The request head rewritten for the revision, or undefined when node:http should take it. */
export function leanRequest(head: string, remote: string | undefined): LeanRequest | undefined {
  const eol = head.indexOf('\r\n');
  const line = eol < 0 ? head : head.slice(0, eol);
  const sp1 = line.indexOf(' ');
  const sp2 = line.lastIndexOf(' ');
  if (sp1 <= 0 || sp2 === sp1 || line.slice(sp2 + 1) !== 'HTTP/1.1') return undefined;
  const method = line.slice(0, sp1);
  if (!TOKEN.test(method) || method === 'CONNECT' || !TARGET.test(line.slice(sp1 + 1, sp2))) return undefined;
  const fields = eol < 0 ? '' : head.slice(eol);
  if (!FIELDS.test(fields)) return undefined;
  let cuts: number[] | undefined;
  let named: string[] | undefined;
  let close = false;
  let host: string | undefined;
  let length: string | undefined;
  let forwardedFor: string | undefined;
  let proto = false;
  let forwardedHost = false;
  REQUEST_SPECIAL.lastIndex = 0;
  for (let m = REQUEST_SPECIAL.exec(fields); m; m = REQUEST_SPECIAL.exec(fields)) {
    const lower = (m[1] as string).toLowerCase();
    const value = fieldValue(m[2] as string, -1);
    switch (lower) {
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
        return undefined;
      case 'host':
        if (host !== undefined) return undefined;
        host = value;
        continue;
      case 'content-length':
        if (length !== undefined || !DIGITS.test(value)) return undefined;
        length = value;
        continue;
      case 'connection':
        if (UPGRADE_TOKEN.test(value)) return undefined;
        if (CLOSE_TOKEN.test(value)) close = true;
        named = connectionNamed(value, named);
        break;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 'x-forwarded-proto':
        proto = true;
        continue;
      case 'x-forwarded-host':
        forwardedHost = true;
        continue;
    }
    // Hop-by-hop, or X-Forwarded-For (sent again below with the client added).
    (cuts ??= []).push(m.index, m.index + m[0].length);
  }
  if (host === undefined) return undefined; // HTTP/1.1 requires it; node:http answers the 400
  let out = `${line}${cut(fields, cuts, named)}\r\n`;
  const xff = remote ? (forwardedFor ? `${forwardedFor}, ${remote}` : remote) : forwardedFor;
  if (xff !== undefined && !named?.includes('x-forwarded-for')) out += `x-forwarded-for: ${xff}\r\n`;
  if (!proto && !named?.includes('x-forwarded-proto')) out += 'x-forwarded-proto: http\r\n';
  if (!forwardedHost && !named?.includes('x-forwarded-host')) out += `x-forwarded-host: ${host}\r\n`;
  const bodyLength = length === undefined ? 0 : Number(length);
  const idempotent = method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
  return { head: `${out}\r\n`, bodyLength, noResponseBody: method === 'HEAD', replayable: idempotent && bodyLength === 0, close };
}

/** A field value without the optional whitespace around it (RFC 9110 §5.5: SP and HTAB only). */
function fieldValue(line: string, colon: number): string {
  let start = colon + 1;
  let end = line.length;
  while (start < end && (line.charCodeAt(start) === 32 || line.charCodeAt(start) === 9)) start++;
  while (end > start && (line.charCodeAt(end - 1) === 32 || line.charCodeAt(end - 1) === 9)) end--;
  return start === 0 && end === line.length ? line : line.slice(start, end);
}

const enum Framing {
  None,
  Length,
  Chunked,
  UntilClose,
}

interface LeanResponse {
  head: string;
  status: number;
  framing: Framing;
  length: number;
  /** The revision will close this connection after the response. */
  closes: boolean;
}

/** The response head rewritten for the client, or a reason it is not HTTP/1.1 we relay. */
export function leanResponse(head: string, revision: string, noBody: boolean, clientCloses: boolean): LeanResponse | string {
  const eol = head.indexOf('\r\n');
  const line = eol < 0 ? head : head.slice(0, eol);
  if (!line.startsWith('HTTP/1.') || (line[7] !== '1' && line[7] !== '0') || line[8] !== ' ') return `not an HTTP/1.x status line: ${JSON.stringify(line.slice(0, 40))}`;
  const status = Number(line.slice(9, 12));
  if (!(status >= 100 && status <= 999) || (line.length > 12 && line[12] !== ' ')) return `bad status line: ${JSON.stringify(line.slice(0, 40))}`;
  const fields = eol < 0 ? '' : head.slice(eol);
  if (!FIELDS.test(fields)) return 'malformed header lines';
  let cuts: number[] | undefined;
  let named: string[] | undefined;
  let closes = line[7] === '0';
  let length: string | undefined;
  let lengthAt = -1;
  let chunked = false;
  let otherCoding = false;
  RESPONSE_SPECIAL.lastIndex = 0;
  for (let m = RESPONSE_SPECIAL.exec(fields); m; m = RESPONSE_SPECIAL.exec(fields)) {
    const lower = (m[1] as string).toLowerCase();
    const value = fieldValue(m[2] as string, -1);
    if (lower === 'content-length') {
      if (!DIGITS.test(value) || (length !== undefined && length !== value)) return `bad content-length: ${JSON.stringify(value)}`;
      if (length === undefined) {
        length = value;
        lengthAt = (cuts?.length ?? 0);
        (cuts ??= []).push(-1, -1); // a slot, filled below if Transfer-Encoding overrides it
        cuts[lengthAt] = m.index;
        cuts[lengthAt + 1] = m.index;
        continue;
      }
    } else if (lower === 'transfer-encoding') {
      const codings = value.toLowerCase().split(',');
      chunked = fieldValue(codings[codings.length - 1] as string, -1) === 'chunked';
      otherCoding = !chunked;
      continue;
    } else if (lower === 'connection') {
      if (CLOSE_TOKEN.test(value)) closes = true;
      named = connectionNamed(value, named);
    }
    (cuts ??= []).push(m.index, m.index + m[0].length);
  }
  // A sender must drop Content-Length when Transfer-Encoding frames the message (RFC 9112 §6.3).
  if (cuts && lengthAt >= 0 && (chunked || otherCoding)) {
    const start = cuts[lengthAt] as number;
    cuts[lengthAt + 1] = fields.indexOf('\r', start + 2) < 0 ? fields.length : fields.indexOf('\r', start + 2);
  }
  let framing: Framing;
  // RFC 9112 §6.3, in its order: no body for HEAD, 1xx, 204, 304; then chunked; then length; else close.
  if (noBody || status < 200 || status === 204 || status === 304) framing = Framing.None;
  else if (chunked) framing = Framing.Chunked;
  else if (otherCoding) framing = Framing.UntilClose;
  else if (length !== undefined) framing = Number(length) === 0 ? Framing.None : Framing.Length;
  else framing = Framing.UntilClose;
  let out = `${line}${cut(fields, cuts, named)}\r\n${REVISION_HEADER}: ${revision}\r\n`;
  if (status >= 200 && (clientCloses || framing === Framing.UntilClose)) out += 'connection: close\r\n';
  return { head: `${out}\r\n`, status, framing, length: length === undefined ? 0 : Number(length), closes: closes || framing === Framing.UntilClose };
}

const enum Chunk {
  Size,
  Data,
  DataEnd,
  Trailer,
}

/** One connection to a revision, owned by one client connection. */
class Upstream {
  readonly socket: net.Socket;
  /** Responses completed on this connection: a reused one may have been closed by the revision. */
  served = 0;
  /** Bytes of the current response head not yet complete. */
  private pending: Buffer | undefined;
  private framing: Framing = Framing.None;
  private inHead = false;
  private left = 0;
  private chunk: Chunk = Chunk.Size;
  private line = '';
  /** Bytes of the current response already written to the client. */
  started = false;
  closes = false;
  lastError: string | undefined;
  /** Given up on (failResponse): its close is not news, its answer already decided. */
  abandoned = false;

  constructor(
    readonly conn: ClientConnection,
    readonly backend: RelayBackend,
  ) {
    this.socket = net.connect({ host: backend.hostname, port: backend.port, noDelay: true });
    conn.host.track(this.socket);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', (err) => (this.lastError = err.message));
    this.socket.on('close', () => conn.upstreamClosed(this));
    this.socket.on('drain', () => conn.resumeClient());
  }

  /** The revision's bytes after a request was written: the head is rewritten, the rest relayed. */
  expect(): void {
    this.inHead = true;
    this.started = false;
    this.pending = undefined;
  }

  private onData(data: Buffer): void {
    const { conn } = this;
    let chunk = data;
    let off = 0;
    // A rewritten head waits for the body bytes of the same read, so both leave in one write.
    let head = '';
    while (off < chunk.length) {
      if (this.inHead) {
        if (this.pending) {
          chunk = Buffer.concat([this.pending, chunk.subarray(off)]);
          off = 0;
          this.pending = undefined;
        }
        const end = chunk.indexOf(HEAD_END, off);
        if (end < 0) {
          if (chunk.length - off > MAX_HEAD_BYTES) return conn.failResponse(this, 'response head over 16 KiB', head);
          this.pending = chunk.subarray(off);
          break;
        }
        const parsed = leanResponse(chunk.toString('latin1', off, end), this.backend.name, conn.noResponseBody, conn.closeAfter);
        if (typeof parsed === 'string') return conn.failResponse(this, parsed, head);
        this.started = true;
        head += parsed.head;
        off = end + 4;
        if (parsed.status < 200) continue; // 1xx: the final head follows
        this.inHead = false;
        this.closes = parsed.closes;
        this.framing = parsed.framing;
        this.left = parsed.length;
        this.chunk = Chunk.Size;
        this.line = '';
        if (this.framing === Framing.None) {
          conn.write(head, undefined);
          this.complete(chunk, off);
          return;
        }
        continue;
      }
      const from = off;
      if (this.framing === Framing.Length) {
        const n = Math.min(this.left, chunk.length - off);
        this.left -= n;
        off += n;
      } else if (this.framing === Framing.Chunked) {
        const scanned = this.scanChunked(chunk, off);
        if (scanned < 0) return conn.failResponse(this, 'malformed chunked body', head);
        off = scanned;
      } else if (this.framing === Framing.UntilClose) {
        off = chunk.length;
      } else {
        // Bytes after a complete response, unasked: not a connection to reuse.
        this.socket.destroy();
        return;
      }
      conn.write(head, from === 0 && off === chunk.length ? chunk : chunk.subarray(from, off));
      head = '';
      if ((this.framing === Framing.Length && this.left === 0) || (this.framing === Framing.Chunked && this.chunk === Chunk.Trailer && this.left === 1)) {
        this.complete(chunk, off);
        return;
      }
    }
    if (head) conn.write(head, undefined);
  }

  /**
   * Walks a chunked body from `off` without copying it; returns where it stopped (the end of the
   * data, or just past the last chunk's trailer section), -1 on bytes that are not chunked framing.
   * `left === 1` in the Trailer state marks the body complete.
   */
  private scanChunked(buf: Buffer, from: number): number {
    let off = from;
    while (off < buf.length) {
      if (this.chunk === Chunk.Data) {
        const n = Math.min(this.left, buf.length - off);
        this.left -= n;
        off += n;
        if (this.left === 0) {
          this.chunk = Chunk.DataEnd;
          this.left = 2;
        }
        continue;
      }
      if (this.chunk === Chunk.DataEnd) {
        const expected = this.left === 2 ? 13 : 10;
        if (buf[off] !== expected) return -1;
        off++;
        if (--this.left === 0) this.chunk = Chunk.Size;
        continue;
      }
      const nl = buf.indexOf(10, off);
      const stop = nl < 0 ? buf.length : nl + 1;
      this.line += buf.toString('latin1', off, stop);
      off = stop;
      if (this.line.length > 4096) return -1;
      if (nl < 0) return off;
      if (!this.line.endsWith('\r\n')) return -1;
      const text = this.line.slice(0, -2);
      this.line = '';
      if (this.chunk === Chunk.Trailer) {
        if (text === '') {
          this.left = 1;
          return off;
        }
        continue;
      }
      const semi = text.indexOf(';');
      const size = fieldValue(semi < 0 ? text : text.slice(0, semi), -1);
      if (!HEX.test(size)) return -1;
      const n = Number.parseInt(size, 16);
      if (n === 0) {
        this.chunk = Chunk.Trailer;
        this.left = 0;
      } else {
        this.chunk = Chunk.Data;
        this.left = n;
      }
    }
    return off;
  }

  private complete(chunk: Buffer, off: number): void {
    this.started = false;
    this.served++;
    // Bytes the revision sent past its answer: a connection not to reuse.
    if (off < chunk.length || this.closes) this.socket.destroy();
    this.conn.responseDone(this);
  }

  /** A close-delimited body ends with the connection. */
  get endsAtClose(): boolean {
    return this.started && !this.inHead && this.framing === Framing.UntilClose;
  }
}

/** One client connection on the fast path. */
export class ClientConnection {
  private buffered: Buffer | undefined;
  private busy = false;
  private bodyLeft = 0;
  private request: LeanRequest | undefined;
  private upstream: Upstream | undefined;
  /** Other revisions' connections (a split sends one client's requests to several). */
  private others: Upstream[] | undefined;
  private retried = false;
  private handedOver = false;
  private ended = false;
  noResponseBody = false;
  closeAfter = false;
  private readonly remote: string | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly host: RelayHost,
  ) {
    this.remote = socket.remoteAddress;
    socket.setNoDelay(true);
    socket.setTimeout(CLIENT_IDLE_MS);
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('timeout', this.onTimeout);
    socket.on('close', this.onClose);
    socket.on('error', noop);
    socket.on('drain', this.onDrain);
  }

  /** Writes a head (latin1) and body bytes to the client as one buffer: one syscall, no writev. */
  write(head: string, body: Buffer | undefined): void {
    let out: Buffer;
    if (!head) out = body as Buffer;
    else if (!body) out = Buffer.from(head, 'latin1');
    else {
      out = Buffer.allocUnsafe(head.length + body.length);
      out.write(head, 0, 'latin1');
      body.copy(out, head.length);
    }
    if (!this.socket.write(out)) this.upstream?.socket.pause();
  }

  resumeClient(): void {
    if (!this.handedOver) this.socket.resume();
  }

  private readonly onDrain = (): void => {
    this.upstream?.socket.resume();
  };

  private readonly onData = (chunk: Buffer): void => {
    if (this.bodyLeft > 0) {
      const n = Math.min(this.bodyLeft, chunk.length);
      this.bodyLeft -= n;
      this.sendBody(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (n === chunk.length) return;
      chunk = chunk.subarray(n);
    }
    this.buffered = this.buffered ? Buffer.concat([this.buffered, chunk]) : chunk;
    if (this.busy && this.buffered.length > MAX_AHEAD_BYTES) this.socket.pause();
    this.next();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    // Requests already read are still answered; then our side closes too.
    if (!this.busy && !this.buffered) this.socket.end();
  };

  private readonly onTimeout = (): void => {
    if (!this.busy && this.bodyLeft === 0) this.socket.destroy();
  };

  private readonly onClose = (): void => {
    if (this.handedOver) return;
    this.upstream?.socket.destroy();
    for (const u of this.others ?? []) u.socket.destroy();
  };

  private sendBody(part: Buffer): void {
    const up = this.upstream;
    if (up && !up.socket.write(part)) this.socket.pause();
  }

  /** Takes the next request once the previous answer is complete. */
  private next(): void {
    while (!this.busy && this.bodyLeft === 0 && this.buffered && !this.handedOver) {
      const buf = this.buffered;
      const end = buf.indexOf(HEAD_END);
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) this.handOver();
        return;
      }
      const req = leanRequest(buf.toString('latin1', 0, end), this.remote);
      if (!req) {
        this.handOver();
        return;
      }
      const rest = buf.length > end + 4 ? buf.subarray(end + 4) : undefined;
      this.buffered = undefined;
      this.start(req);
      if (rest && !this.handedOver) {
        const n = Math.min(this.bodyLeft, rest.length);
        this.bodyLeft -= n;
        if (n > 0) this.sendBody(rest.subarray(0, n));
        if (n < rest.length) this.buffered = rest.subarray(n);
      }
    }
    if (this.buffered === undefined && this.socket.isPaused() && this.bodyLeft === 0) this.socket.resume();
  }

  private start(req: LeanRequest): void {
    this.busy = true;
    this.request = req;
    this.retried = false;
    this.noResponseBody = req.noResponseBody;
    this.closeAfter = req.close || this.ended;
    this.bodyLeft = req.bodyLength;
    const backend = this.host.choose();
    if (!backend) {
      this.plainAnswer(503, 'no revision is serving traffic\n', undefined);
      return;
    }
    const up = this.upstreamFor(backend);
    this.upstream = up;
    up.expect();
    up.socket.write(req.head, 'latin1');
  }

  private upstreamFor(backend: RelayBackend): Upstream {
    const current = this.upstream;
    if (current && current.backend.url === backend.url && !current.socket.destroyed) return current;
    // Keep the one in hand for a later request to its revision; find or open the one asked for.
    let found: Upstream | undefined;
    const rest: Upstream[] = [];
    for (const u of this.others ?? []) {
      if (!found && u.backend.url === backend.url && !u.socket.destroyed) found = u;
      else if (!u.socket.destroyed) rest.push(u);
    }
    if (current && !current.socket.destroyed) rest.push(current);
    this.others = rest.length ? rest : undefined;
    return found ?? new Upstream(this, backend);
  }

  /** The answer is complete: the next request may go. */
  responseDone(up: Upstream): void {
    if (up !== this.upstream) return;
    this.busy = false;
    this.request = undefined;
    if (this.closeAfter || this.ended) {
      this.socket.end();
      return;
    }
    if (this.bodyLeft > 0) {
      // The revision answered before the whole body arrived: the rest has nowhere to go.
      this.socket.end();
      return;
    }
    this.next();
  }

  upstreamClosed(up: Upstream): void {
    if (this.handedOver || up.abandoned) return;
    if (up !== this.upstream) {
      if (this.others) this.others = this.others.filter((u) => u !== up);
      return;
    }
    if (up.endsAtClose) {
      this.socket.end();
      return;
    }
    if (!this.busy) {
      this.upstream = undefined; // idle: the revision's keep-alive ran out; the next request opens another
      return;
    }
    const req = this.request;
    if (up.started) {
      this.socket.destroy(); // mid-answer: the client must not take a cut body for a whole one
      return;
    }
    // Closed before any answer. A reused connection the revision had dropped: send again, once.
    if (req?.replayable && up.served > 0 && !this.retried) {
      this.host.debug({ revision: up.backend.name, err: up.lastError }, 'backend connection was closed: request sent again');
      this.retried = true;
      const again = new Upstream(this, up.backend);
      this.upstream = again;
      again.expect();
      again.socket.write(req.head, 'latin1');
      return;
    }
    const why = up.lastError ?? 'socket hang up';
    this.plainAnswer(502, `bad gateway: revision ${up.backend.name} (${up.backend.url}) did not answer: ${why}\n`, up.backend.name, true);
  }

  /** The revision sent what cannot be relayed; `head` is what of its answer was not yet written. */
  failResponse(up: Upstream, why: string, head: string): void {
    if (head) this.write(head, undefined);
    // Not removeAllListeners('close'): the proxy's own bookkeeping of the socket listens there too.
    up.abandoned = true;
    up.socket.destroy();
    this.host.debug({ revision: up.backend.name, err: why }, 'revision sent a response the relay cannot forward');
    if (up.started) {
      this.socket.destroy();
      return;
    }
    this.upstream = undefined;
    this.plainAnswer(502, `bad gateway: revision ${up.backend.name} (${up.backend.url}) did not answer: ${why}\n`, up.backend.name, true);
  }

  private plainAnswer(status: number, body: string, revision: string | undefined, close = false): void {
    const rev = revision ? `${REVISION_HEADER}: ${revision}\r\n` : '';
    // A request body still on its way cannot be skipped reliably: close after this answer.
    const closing = close || this.closeAfter || this.bodyLeft > 0;
    const reason = status === 503 ? 'Service Unavailable' : 'Bad Gateway';
    this.socket.write(
      `HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${rev}${closing ? 'connection: close\r\n' : ''}\r\n${this.noResponseBody ? '' : body}`,
    );
    this.busy = false;
    this.request = undefined;
    if (closing) {
      this.socket.end();
      return;
    }
    this.next();
  }

  /** node:http takes the connection from here, with what was read and not yet relayed. */
  private handOver(): void {
    this.handedOver = true;
    const { socket } = this;
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('timeout', this.onTimeout);
    socket.off('close', this.onClose);
    socket.off('drain', this.onDrain);
    socket.off('error', noop);
    socket.setTimeout(0);
    socket.pause();
    this.upstream?.socket.destroy();
    for (const u of this.others ?? []) u.socket.destroy();
    const buffered = this.buffered;
    this.buffered = undefined;
    this.host.handOver(socket, buffered);
  }
}

function noop(): void {}
