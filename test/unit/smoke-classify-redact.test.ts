import { describe, expect, it } from 'vitest';
import { classifyCloseCode, classifyError, classifyStatus, describeError } from '../../src/smoke/classify.js';
import { joinUrl } from '../../src/smoke/attempt.js';
import { redactHeaders, redactText, redactUrl, secretsFromHeaders } from '../../src/smoke/redact.js';
import { webSocketUrl } from '../../src/smoke/websocket.js';
import { percentile } from '../../src/model/samples.js';
import { FrameQueue } from '../../src/smoke/ws-session.js';

function coded(code: string, message = code): Error {
  return Object.assign(new Error(message), { code });
}

describe('classifyError', () => {
  const cases: [string, unknown, string][] = [
    ['fetch failed caused by ECONNREFUSED', new TypeError('fetch failed', { cause: coded('ECONNREFUSED') }), 'connection-refused'],
    ['happy-eyeballs AggregateError of refusals', new TypeError('fetch failed', { cause: new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]) }), 'connection-refused'],
    ['AbortSignal.timeout reason', new DOMException('The operation was aborted due to timeout', 'TimeoutError'), 'timeout'],
    ['undici connect timeout', new TypeError('fetch failed', { cause: coded('UND_ERR_CONNECT_TIMEOUT') }), 'timeout'],
    ['connection reset', new TypeError('fetch failed', { cause: coded('ECONNRESET') }), 'network'],
    ['socket closed by the other side', new TypeError('fetch failed', { cause: coded('UND_ERR_SOCKET') }), 'network'],
    ['DNS failure', coded('ENOTFOUND'), 'network'],
    ['fetch failed without a cause', new TypeError('fetch failed'), 'network'],
    // TLS failures come before any HTTP response: network, whether fetch wraps them or the ws client does not.
    ['self-signed certificate from fetch', new TypeError('fetch failed', { cause: coded('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate') }), 'network'],
    ['self-signed certificate from the ws client', coded('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'), 'network'],
    ['expired certificate', coded('CERT_HAS_EXPIRED', 'certificate has expired'), 'network'],
    ['certificate for another host', coded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), 'network'],
    ['a TLS handshake that never finished', coded('ERR_TLS_HANDSHAKE_TIMEOUT', 'TLS handshake timeout'), 'timeout'],
    ['another node TLS error, from the ws client', coded('ERR_TLS_INVALID_PROTOCOL_VERSION', 'TLSv1 is not a valid TLS protocol version'), 'network'],
    ['a plain bug', new TypeError('x is not a function'), 'check-error'],
    ['a thrown string', 'boom', 'check-error'],
  ];
  it.each(cases)('%s', (_what, err, cls) => {
    expect(classifyError(err)).toBe(cls);
  });
});

describe('describeError for TLS failures', () => {
  const cases: [string, unknown, string][] = [
    ['self-signed, wrapped by fetch', new TypeError('fetch failed', { cause: coded('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate') }), 'TLS: certificate is self-signed (DEPTH_ZERO_SELF_SIGNED_CERT)'],
    ['self-signed in the chain', coded('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'), 'TLS: certificate chain ends in a self-signed certificate that is not trusted (SELF_SIGNED_CERT_IN_CHAIN)'],
    ['unverifiable leaf', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'), 'TLS: certificate cannot be verified: its issuer is not in the chain sent or the trusted CAs (UNABLE_TO_VERIFY_LEAF_SIGNATURE)'],
    ['expired', coded('CERT_HAS_EXPIRED', 'certificate has expired'), 'TLS: certificate has expired (CERT_HAS_EXPIRED)'],
    ['wrong host', coded('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames"), 'TLS: certificate is not for this host name (ERR_TLS_CERT_ALTNAME_INVALID)'],
    ['another node TLS error', coded('ERR_TLS_INVALID_PROTOCOL_VERSION', 'TLSv1 is not a valid TLS protocol version'), 'TLS: TLSv1 is not a valid TLS protocol version (ERR_TLS_INVALID_PROTOCOL_VERSION)'],
    ['OpenSSL 3 handshake failure as EPROTO', coded('EPROTO', 'write EPROTO 40:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:../ssl/record/rec_layer_s3.c:1590:\n'), 'TLS: sslv3 alert handshake failure (EPROTO)'],
    ['OpenSSL 1 handshake failure as EPROTO', coded('EPROTO', 'write EPROTO 1401:error:1408F10B:SSL routines:ssl3_get_record:wrong version number:../deps/openssl/ssl/record/ssl3_record.c:332:\n'), 'TLS: wrong version number (EPROTO)'],
  ];
  it.each(cases)('%s', (_what, err, message) => {
    expect(describeError(err)).toBe(message);
    expect(classifyError(err)).toBe('network');
  });

  it('leaves an EPROTO that is not from OpenSSL, and other coded errors, as they were', () => {
    expect(describeError(coded('EPROTO', 'read EPROTO'))).toBe('read EPROTO');
    expect(describeError(new TypeError('fetch failed', { cause: coded('ECONNRESET', 'read ECONNRESET') }))).toBe('read ECONNRESET');
  });
});

describe('status and close-code classes', () => {
  it.each([
    [503, 'http-5xx'],
    [500, 'http-5xx'],
    [404, 'http-4xx'],
    [401, 'http-4xx'],
    [302, 'assertion'],
    [201, 'assertion'],
  ])('HTTP %i → %s', (status, cls) => expect(classifyStatus(status)).toBe(cls));

  it.each([
    [1011, 'ws-1011-internal-error'],
    [1008, 'ws-1008-policy-violation'],
    [1000, 'ws-unexpected-close'],
    [1006, 'ws-unexpected-close'],
    [4000, 'ws-unexpected-close'],
  ])('close %i → %s', (code, cls) => expect(classifyCloseCode(code)).toBe(cls));
});

describe('redaction', () => {
  it('redacts credential headers by name and bearer values by look', () => {
    expect(
      redactHeaders({ Authorization: 'Bearer abc.def', Cookie: 's=1', 'X-Api-Key': 'k', 'X-Custom': 'Bearer zzz', Accept: 'text/html' }),
    ).toEqual({ Authorization: '[redacted]', Cookie: '[redacted]', 'X-Api-Key': '[redacted]', 'X-Custom': '[redacted]', Accept: 'text/html' });
  });

  it('takes the token after the scheme and cookie values as secrets of their own', () => {
    const secrets = secretsFromHeaders({ authorization: 'Bearer tok-123456', cookie: 'sid=session-abcdef; theme=dark', accept: 'x' });
    expect(secrets).toEqual(expect.arrayContaining(['Bearer tok-123456', 'tok-123456', 'session-abcdef']));
    expect(secrets).not.toContain('x');
    expect(secrets).not.toContain('dark');
  });

  it('treats every value as a secret when asked (suite headers)', () => {
    expect(secretsFromHeaders({ 'x-env': 'production' }, { all: true })).toEqual(['production']);
  });

  it('removes secrets, bearer tokens and JWTs from text', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl';
    const out = redactText(`you sent key=hunter22 and Authorization: Bearer abc.DEF-123 and ${jwt}!`, ['hunter22']);
    expect(out).toBe('you sent key=[redacted] and Authorization: Bearer [redacted] and [redacted]!');
  });

  it('removes the longer of two overlapping secrets whole', () => {
    expect(redactText('token=abcdef123', ['abc', 'abcdef123'])).toBe('token=[redacted]');
  });

  it('removes user info and credential query values from URLs', () => {
    const out = redactUrl('http://user:pw@127.0.0.1:8080/x?token=s3cr3t&page=2');
    expect(out).not.toContain('pw');
    expect(out).not.toContain('s3cr3t');
    expect(out).toContain('page=2');
  });
});

describe('URLs', () => {
  it('keeps the base path prefix and cannot be redirected to another host', () => {
    expect(joinUrl('http://127.0.0.1:9/api/', '/health?x=1').toString()).toBe('http://127.0.0.1:9/api/health?x=1');
    expect(joinUrl('http://127.0.0.1:9', '//evil.example/x').host).toBe('127.0.0.1:9');
  });

  it('turns http into ws and https into wss', () => {
    expect(webSocketUrl('http://127.0.0.1:9/p', '/ws').toString()).toBe('ws://127.0.0.1:9/p/ws');
    expect(webSocketUrl('https://svc.run.app', '/ws').toString()).toBe('wss://svc.run.app/ws');
  });
});

describe('percentile (nearest rank)', () => {
  it.each([
    [[], 50, undefined],
    [[7], 95, 7],
    [[1, 2, 3, 4], 50, 2],
    [Array.from({ length: 20 }, (_, i) => i + 1), 95, 19],
    [Array.from({ length: 20 }, (_, i) => i + 1), 100, 20],
  ])('%j p%i → %s', (values, p, want) => expect(percentile(values, p)).toBe(want));
});

describe('FrameQueue', () => {
  it('refuses frames beyond the message cap and keeps order', () => {
    const q = new FrameQueue(2, 1000);
    expect(q.push({ text: 'a', binary: false, bytes: 1 })).toBe(true);
    expect(q.push({ text: 'b', binary: false, bytes: 1 })).toBe(true);
    expect(q.push({ text: 'c', binary: false, bytes: 1 })).toBe(false);
    expect(q.shift()?.text).toBe('a');
    expect(q.push({ text: 'c', binary: false, bytes: 1 })).toBe(true);
    expect([q.shift()?.text, q.shift()?.text, q.shift()]).toEqual(['b', 'c', undefined]);
  });

  it('refuses frames beyond the byte cap', () => {
    const q = new FrameQueue(100, 10);
    expect(q.push({ text: 'x', binary: false, bytes: 8 })).toBe(true);
    expect(q.push({ text: 'y', binary: false, bytes: 3 })).toBe(false);
    expect(q.bytes).toBe(8);
  });
});
