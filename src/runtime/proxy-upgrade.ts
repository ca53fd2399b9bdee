/**
 * WebSocket (and any other HTTP/1.1 upgrade) relay: the client's request head is replayed on a raw
 * TCP connection to the backend, the backend's response head gets the revision header added, and
 * from then on bytes are piped both ways untouched.
 */
import type http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';

/** A backend response head larger than this is not HTTP we want to relay. */
const MAX_HEAD_BYTES = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

/** Response header naming the revision that answered. */
export const REVISION_HEADER = 'x-deploy-loop-revision';

export function relayUpgrade(
  req: http.IncomingMessage,
  client: Duplex,
  head: Buffer,
  upstream: net.Socket,
  backend: { name: string },
  badGateway: (err: Error) => string,
): void {
  let connected = false;
  const destroyBoth = () => {
    client.destroy();
    upstream.destroy();
  };
  // Hold whatever the client sends until the backend connection exists; pipe() resumes it.
  client.pause();
  upstream.setNoDelay(true);
  if ('setNoDelay' in client && typeof client.setNoDelay === 'function') (client as net.Socket).setNoDelay(true);

  upstream.once('connect', () => {
    connected = true;
    upstream.write(requestHead(req));
    if (head.length > 0) upstream.write(head);
    client.pipe(upstream);
  });
  upstream.on('error', (err) => {
    // Before the connection exists the client still expects an HTTP answer; after, just hang up.
    if (!connected && client.writable) client.end(badGateway(err));
    else destroyBoth();
  });
  client.on('error', destroyBoth);
  client.on('close', () => upstream.destroy());
  upstream.on('close', () => client.destroy());

  // Read the backend's response head, add the revision header, then switch to plain piping.
  let pending: Buffer = Buffer.alloc(0);
  const onHead = (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const end = pending.indexOf(HEAD_END);
    if (end < 0) {
      if (pending.length > MAX_HEAD_BYTES) destroyBoth();
      return;
    }
    upstream.off('data', onHead);
    upstream.pause();
    const extra = Buffer.from(`\r\n${REVISION_HEADER}: ${backend.name}`);
    client.write(Buffer.concat([pending.subarray(0, end), extra, pending.subarray(end)]));
    upstream.pipe(client);
    upstream.resume();
  };
  upstream.on('data', onHead);
}

/** The request line and headers exactly as the client sent them, plus X-Forwarded-*. */
function requestHead(req: http.IncomingMessage): string {
  let out = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  let forwardedFor: string | undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i] as string;
    const value = raw[i + 1] as string;
    if (name.toLowerCase() === 'x-forwarded-for') {
      forwardedFor = value;
      continue;
    }
    out += `${name}: ${value}\r\n`;
  }
  const clientAddr = req.socket.remoteAddress;
  if (clientAddr) out += `x-forwarded-for: ${forwardedFor ? `${forwardedFor}, ${clientAddr}` : clientAddr}\r\n`;
  else if (forwardedFor) out += `x-forwarded-for: ${forwardedFor}\r\n`;
  if (!req.headers['x-forwarded-proto']) out += 'x-forwarded-proto: http\r\n';
  return `${out}\r\n`;
}
