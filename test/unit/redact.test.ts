/**
 * The one redaction module: one set of rules for every exit, applied before any cut, and the
 * terminal-safety of bytes that came from the service under test.
 */
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { REDACTED, collectSecrets, redactDeep, redactText, redactUrl, rememberSecrets, secretsInArgv, truncateRedacted } from '../../src/redact.js';
import { isTerminalSafe, safeAnnotationData, safeText } from '../../src/terminal-safe.js';

const LONG = `github_pat_${'A1b2C3d4E5'.repeat(8)}x2`; // 93 characters, as a fine-grained token is

describe('one set of rules', () => {
  it.each([
    ['bearer credential', 'sent Authorization Bearer ya29.a0AfH6SMBx to the API', 'ya29.a0AfH6SMBx'],
    ['basic credential', 'proxy-authorization = Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA'],
    ['token query parameter', 'GET /cb?token=tok_qp_12345&page=2', 'tok_qp_12345'],
    ['access_token query parameter', 'https://h.example/x?a=1&access_token=ya29.qparam', 'ya29.qparam'],
    ['api_key query parameter', 'fetched /v1?api_key=AKIA_qp_abcdef', 'AKIA_qp_abcdef'],
    ['postgres user info', 'connecting to postgres://app:pgPassw0rd@db:5432/app', 'pgPassw0rd'],
    ['https user info', 'cloning https://user:httpsPw991@host.example/repo.git', 'httpsPw991'],
    ['token as user name', 'remote https://ghp_tokenAsUser77@github.com/o/r', 'ghp_tokenAsUser77'],
    ['env dump', 'env API_TOKEN=envDumpValue42 HOME=/root', 'envDumpValue42'],
    ['secret-named JSON key', '{"client_secret":"jsonSecretVal9","ok":true}', 'jsonSecretVal9'],
    ['escaped secret-named JSON key', '{\\"x-api-key\\":\\"escApiKey551\\"}', 'escApiKey551'],
    ['cookie pair', 'cookie: session=s3cr3tCookie; theme=dark', 's3cr3tCookie'],
    ['JWT', 'id eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl end', 'eyJzdWIiOiIxMjM0NTY3ODkwIn0'],
    ['secret-named flag', 'running fix --api-key=flagValue123 --verbose', 'flagValue123'],
  ])('masks a %s by look', (_what, text, secret) => {
    const out = redactText(text);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  it.each(['authorization failed for user 7', 'Basic authentication required', 'cookie banner shown', 'GET /items?page=2&sort=asc', 'the author=Jane'])(
    'leaves prose and ordinary parameters alone: %j',
    (text) => expect(redactText(text)).toBe(text),
  );

  it('masks known values, their JSON- and URL-encoded forms, longest first', () => {
    const secret = 'a"b/c d+e-known';
    const out = redactText(`raw ${secret} json ${JSON.stringify(secret)} url ${encodeURIComponent(secret)}`, [secret, 'a"b']);
    expect(out).toBe(`raw ${REDACTED} json "${REDACTED}" url ${REDACTED}`);
  });

  it('remembers secrets for the whole process, so a renderer without a list still masks them', () => {
    rememberSecrets(['processWideSecret-77']);
    expect(redactText('echo processWideSecret-77')).toBe(`echo ${REDACTED}`);
  });
});

describe('redaction before any cut', () => {
  it('masks the prefix a cut left of a 93-character secret (cut, then redacted)', () => {
    const cut = `expected "ok", got "${LONG.slice(0, 78)}…"`;
    const out = redactText(cut, [LONG]);
    expect(out).not.toContain(LONG.slice(0, 20));
    expect(out).toBe(`expected "ok", got "${REDACTED}…"`);
  });

  it('masks the piece at the end of a string cut without a marker and at the start of a tail', () => {
    expect(redactText(`line: ${LONG.slice(0, 40)}`, [LONG])).toBe(`line: ${REDACTED}`);
    expect(redactText(`${LONG.slice(30)} rest of the tail`, [LONG])).toBe(`${REDACTED} rest of the tail`);
    expect(redactText(`…${LONG.slice(50)} and more`, [LONG])).toBe(`…${REDACTED} and more`);
  });

  it('leaves text that shares fewer than 10 characters with a secret', () => {
    // Fewer than 10 characters of it: too little to mask (and too little to matter).
    expect(redactText('my github_p', [LONG])).toBe('my github_p');
  });

  it('truncateRedacted redacts first, so nothing of the secret survives the cut', () => {
    const out = truncateRedacted(`value ${LONG} tail`, 40, [LONG]);
    expect(out).toBe(`value ${REDACTED} tail`);
    const long = truncateRedacted(`${'x'.repeat(50)} ${LONG}`, 55, [LONG], { note: true });
    expect(long).not.toContain(LONG.slice(0, 10));
    expect(long).toMatch(/… \(\d+ more characters\)$/);
  });
});

describe('collecting secrets from a config', () => {
  const yaml = (extra = '') => `apiVersion: deploy-loop/v1
service: demo
build:
  kind: command
  env:
    NPM_TOKEN: npmTok_build_123
target:
  kind: local
  command: [node, server.mjs]
  env:
    DATABASE_URL: postgres://app:dbPassw0rd77@db:5432/app
    PLAIN: just-a-value
smoke:
  checks:
    - name: health
      kind: http
      headers:
        Authorization: Basic ${Buffer.from('user:basicPassw0rd').toString('base64')}
        X-Session: sessVal_6789
loop:
  fix:
    command: [agent, --api-key, "\${AGENT_KEY}", --note, hello]
    env:
      AGENT_SECRET: fixEnvSecret_42
${extra}`;

  it('finds env, header, decoded Basic password, URL password, fix env and secret-flag argv values', () => {
    const { config } = parseConfigText(yaml(), '/repo/loop.config.yaml', { AGENT_KEY: 'agentKeyFromEnv_99' });
    const secrets = collectSecrets(config);
    for (const s of ['npmTok_build_123', 'dbPassw0rd77', 'basicPassw0rd', 'sessVal_6789', 'agentKeyFromEnv_99', 'fixEnvSecret_42']) expect(secrets).toContain(s);
    expect(secrets).not.toContain('just-a-value');
    expect(secrets).not.toContain('hello');
  });

  it('secretsInArgv takes values after secret-named flags, in both forms', () => {
    expect(secretsInArgv(['x', '--api-key', 'v1', '--token=v2', '--name', 'n', '-p', 'q', '--password'])).toEqual(['v1', 'v2']);
  });

  it('redactDeep masks every string and keeps keys', () => {
    rememberSecrets(['deepSecret_123']);
    expect(redactDeep({ authorization: 'ok', list: ['a deepSecret_123 b'], n: 1 })).toEqual({ authorization: 'ok', list: [`a ${REDACTED} b`], n: 1 });
  });

  it('redactUrl drops user info and credential parameters', () => {
    const out = redactUrl('http://user:pw@127.0.0.1:8080/x?token=s3cr3t&page=2');
    expect(out).not.toMatch(/pw@|s3cr3t/);
    expect(out).toContain('page=2');
  });
});

describe('terminal safety of service bytes', () => {
  it.each([
    ['a workflow command after a newline', 'internal\n::error::injected', 'internal\\n::error::injected'],
    ['a workflow command at the start', '::warning file=x::boom', '\\::warning file=x::boom'],
    ['an old-style command', '  ##[error]boom', '  \\##[error]boom'],
    ['clear-screen', 'a\u001b[2Jb', 'a\\x1B[2Jb'],
    ['an OSC title', '\u001b]0;pwned\u0007', '\\x1B]0;pwned\\x07'],
    ['NUL and DEL', 'a\u0000b\u007f', 'a\\x00b\\x7F'],
    ['a C1 CSI', 'a\u009b31mb', 'a\\x9B31mb'],
    ['a bidi override', 'abc\u202Etxt.exe', 'abc\\u202Etxt.exe'],
    ['a carriage return', 'ok\rFAKE', 'ok\\rFAKE'],
  ])('neutralises %s', (_what, input, want) => {
    expect(safeText(input)).toBe(want);
    expect(isTerminalSafe(safeText(input))).toBe(true);
  });

  it('keeps tabs and, in multiline mode, line breaks, but guards every line start', () => {
    expect(safeText('a\tb')).toBe('a\tb');
    expect(safeText('one\r\n::error::two\nthree', { multiline: true })).toBe('one\n\\::error::two\nthree');
  });

  it('annotation data stays on one line and shows control bytes', () => {
    expect(safeAnnotationData('50%\n::error::x\u001b[2J')).toBe('50%25%0A::error::x\\x1B[2J');
  });
});

describe('texts already redacted are reused only under the same secrets', () => {
  it('a text seen before a secret was known is masked once it is known', () => {
    const text = 'upstream said: q7Lm2VxR9tKp4WzN (try again)';
    expect(redactText(text)).toBe(text);
    expect(redactText(text)).toBe(text);
    rememberSecrets(['q7Lm2VxR9tKp4WzN']);
    expect(redactText(text)).toBe(`upstream said: ${REDACTED} (try again)`);
    expect(redactDeep({ a: [text] })).toEqual({ a: [`upstream said: ${REDACTED} (try again)`] });
  });

  it('a caller’s own secrets mask for that call only, in either order', () => {
    const text = 'echo Hx83kQp0Zr5mYw2L done';
    const masked = `echo ${REDACTED} done`;
    expect(redactText(text, ['Hx83kQp0Zr5mYw2L'])).toBe(masked);
    expect(redactText(text)).toBe(text);
    expect(redactText(text, ['Hx83kQp0Zr5mYw2L'])).toBe(masked);
    expect(redactText(text, ['another-one-entirely'])).toBe(text);
  });

  it('a long text (not memoized) and a repeated one give what the first redaction gave', () => {
    const long = `${'x'.repeat(5000)} Authorization: Bearer abcdef123456`;
    const first = redactText(long);
    expect(first).toContain(`Authorization: ${REDACTED}`);
    expect(redactText(long)).toBe(first);
    const short = 'password=hunter22 and more';
    expect(redactText(short)).toBe(redactText(short));
    expect(redactText(short)).toBe(`password=${REDACTED} and more`);
  });
});
