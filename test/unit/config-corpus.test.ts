/**
 * The malformed-config corpus: every case is a file on disk loaded by the real loader, and must end
 * in a ConfigError (exit 2) whose issue names the file, the line (where the problem has one) and
 * the field, with a message that says what is wrong: never a stack trace, never a crash. Together
 * with test/unit/config-errors.test.ts (67 cases) it covers the classes found by testing from
 * outside: hostile YAML (alias bombs, deep nesting, merge keys), other encodings and binary bytes,
 * and values the schema used to accept that broke at run time.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { CONFIG_MAX_BYTES_ENV } from '../../src/config/text.js';
import { ConfigError, formatConfigIssue } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'config-corpus-'));
mkdirSync(join(dir, 'app'));
writeFileSync(join(dir, 'a-file'), 'x');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A valid config; the line numbers below refer to it. Text appended starts on line 15. */
const BASE = `apiVersion: deploy-loop/v1
service: demo
build:
  kind: command
  context: app
target:
  kind: local
  command: [node, server.mjs]
smoke:
  checks:
    - name: health
      kind: http
      path: /healthz
      method: GET
`;
const append = (t: string) => BASE + t;
const replace = (from: string, to: string) => {
  if (!BASE.includes(from)) throw new Error(`test setup: "${from}" is not in BASE`);
  return BASE.replace(from, to);
};
/** Extra lines under the http check (line 15 on). */
const check = (t: string) => append(t);
/** Extra lines under target (line 9 on). */
const target = (t: string) => replace('  command: [node, server.mjs]\n', `  command: [node, server.mjs]\n${t}`);
/** A second check of the given kind, starting at line 15; its extra lines start at line 17. */
const second = (kind: string, t: string) => append(`    - name: two\n      kind: ${kind}\n${t}`);
/** A command check whose extra lines start at line 19. */
const commandCheck = (t: string) => second('command', `      command: [node, t.mjs]\n      junit: out.xml\n${t}`);

interface Case {
  what: string;
  /** File content; a Buffer for byte-level cases. */
  body: string | Buffer;
  field: string;
  /** undefined: a problem of the whole file (size, encoding), which has no line. */
  line: number | undefined;
  message: RegExp;
  env?: Record<string, string>;
  checkPaths?: boolean;
  /** A YAML syntax error the parser reports more than once; the first issue is checked. */
  several?: boolean;
  /** Load this path instead of the written file. */
  path?: string;
}

const u16 = (s: string, be = false) => {
  const b = Buffer.from(s, 'utf16le');
  return be ? b.swap16() : b;
};
const bomb = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
  'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
  'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
  'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
  'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
  'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
].join('\n');
/** Deterministic pseudo-random bytes (xorshift), so the garbage case is the same on every run. */
function garbage(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
const blockNest = (levels: number) => Array.from({ length: levels }, (_, i) => `${' '.repeat(i)}k:`).join('\n') + ' 1\n';

const cases: Case[] = [
  // ---- the file itself: size, encoding, bytes
  { what: 'a file over the size cap, naming the cap and the variable', body: append('# padding\n'.repeat(200)), env: { [CONFIG_MAX_BYTES_ENV]: '1024' }, field: '', line: undefined, message: /larger than 1 KiB, the limit for a config \(set DEPLOY_LOOP_CONFIG_MAX_BYTES=BYTES to raise it\)/ },
  { what: '/dev/zero (a device that never ends)', body: '', path: '/dev/zero', field: '', line: undefined, message: /larger than 1 MiB.*DEPLOY_LOOP_CONFIG_MAX_BYTES/ },
  { what: 'a folder instead of a file', body: '', path: dir, field: '', line: undefined, message: /is a folder, not a file/ },
  { what: 'a file that does not exist', body: '', path: join(dir, 'nope.yaml'), field: '', line: undefined, message: /file not found/ },
  { what: 'UTF-16 LE with a byte order mark', body: Buffer.concat([Buffer.from([0xff, 0xfe]), u16(BASE)]), field: '', line: undefined, message: /UTF-16 LE \(it starts with the byte order mark FF FE\); save the file as UTF-8/ },
  { what: 'UTF-16 BE with a byte order mark', body: Buffer.concat([Buffer.from([0xfe, 0xff]), u16(BASE, true)]), field: '', line: undefined, message: /UTF-16 BE .*FE FF/ },
  { what: 'UTF-16 LE without a mark', body: u16(BASE), field: '', line: undefined, message: /looks like UTF-16 LE \(every other byte is zero\)/ },
  { what: 'UTF-16 BE without a mark', body: u16(BASE, true), field: '', line: undefined, message: /looks like UTF-16 BE/ },
  { what: 'UTF-32 LE', body: Buffer.concat([Buffer.from([0xff, 0xfe, 0, 0]), Buffer.from('a\0\0\0')]), field: '', line: undefined, message: /UTF-32 LE/ },
  { what: 'UTF-32 BE', body: Buffer.from([0, 0, 0xfe, 0xff, 0, 0, 0, 0x61]), field: '', line: undefined, message: /UTF-32 BE/ },
  { what: 'a NUL byte in the text', body: Buffer.from(replace('service: demo', 'service: de\0mo')), field: '', line: 2, message: /a NUL byte: YAML text cannot hold it/ },
  { what: 'an ESC byte in the text', body: Buffer.from(replace('service: demo', 'service: \u001b[2Jdemo')), field: '', line: 2, message: /control character U\+001B/ },
  { what: 'a bell byte', body: Buffer.from(append('# \u0007\n')), field: '', line: 15, message: /U\+0007/ },
  { what: 'a DEL byte', body: Buffer.from(append('# \u007f\n')), field: '', line: 15, message: /U\+007F/ },
  { what: 'a lone 0xFF byte (Latin-1 or binary)', body: Buffer.concat([Buffer.from(BASE), Buffer.from([0x23, 0x20, 0xff, 0x0a])]), field: '', line: 15, message: /not valid UTF-8: byte 0xFF.*save the file as UTF-8/ },
  { what: 'Latin-1 é in a value', body: Buffer.concat([Buffer.from(BASE.split('healthz')[0] ?? ''), Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from(BASE.split('healthz')[1] ?? '')]), field: '', line: 13, message: /not valid UTF-8: byte 0xE9/ },
  { what: 'an overlong UTF-8 encoding', body: Buffer.concat([Buffer.from('# '), Buffer.from([0xc0, 0x80]), Buffer.from(`\n${BASE}`)]), field: '', line: 1, message: /not valid UTF-8: byte 0xC0/ },
  { what: 'a UTF-8 surrogate', body: Buffer.concat([Buffer.from(`${BASE}# `), Buffer.from([0xed, 0xa0, 0x80])]), field: '', line: 15, message: /not valid UTF-8: byte 0xED/ },
  { what: 'a multibyte sequence cut at the end', body: Buffer.concat([Buffer.from(`${BASE}# `), Buffer.from([0xe2, 0x82])]), field: '', line: 15, message: /not valid UTF-8/ },
  { what: 'binary garbage', body: garbage(4096, 0x9e3779b9), field: '', line: 1, message: /(not valid UTF-8|NUL byte|control character).*binary file/ },
  { what: 'a gzip file', body: Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00]), field: '', line: 1, message: /not valid UTF-8: byte 0x8B.*binary file/ },
  { what: 'a PNG image', body: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), field: '', line: 1, message: /not valid UTF-8: byte 0x89/ },
  // ---- hostile or unsupported YAML
  { what: 'an alias bomb ("billion laughs")', body: bomb, field: 'b[0]', line: 2, message: /aliases expand to more than 100 copies \(a "billion laughs" file\)/ },
  { what: 'an alias bomb inside a valid config', body: append(`x:\n${bomb.split('\n').map((l) => `  ${l}`).join('\n')}\n`), field: 'x.b[0]', line: 17, message: /more than 100 copies/ },
  { what: 'an undefined alias', body: replace('service: demo', 'service: *name'), field: 'service', line: 2, message: /alias \*name refers to no anchor: define &name before it is used/ },
  { what: 'an alias used before its anchor', body: replace('service: demo', 'service: *svc').replace('  kind: command', '  kind: &svc command'), field: 'service', line: 2, message: /alias \*svc refers to no anchor/ },
  { what: 'a merge key, said unsupported', body: replace('target:\n  kind: local\n', 'target:\n  <<: {kind: local}\n'), field: 'target.<<', line: 7, message: /merge keys \(<<\) are not supported.*anchor the whole mapping/ },
  { what: 'a merge key in a check', body: check('      <<: *defaults\n').replace('smoke:\n', 'x: &defaults {retries: 1}\nsmoke:\n'), field: 'smoke.checks[0].<<', line: 16, message: /merge keys \(<<\) are not supported/ },
  { what: 'flow nesting 100 deep', body: replace('path: /healthz', `path: ${'['.repeat(100)}${']'.repeat(100)}`), field: '', line: 13, message: /nesting deeper than 64 levels/ },
  { what: 'a megabyte of [', body: '['.repeat(1000 * 1024), field: '', line: 1, message: /nesting deeper than 64 levels/ },
  { what: 'block nesting 70 deep', body: blockNest(70), field: '', line: 65, message: /nesting deeper than 64 levels/ },
  { what: 'list nesting 70 deep on one line', body: `x: ${'- '.repeat(70)}1\n`.replace('x: ', 'x:\n'), field: '', line: 2, message: /nesting deeper than 64 levels/ },
  { what: 'two YAML documents', body: `${BASE}---\n${BASE}`, field: '', line: 15, message: /^YAML syntax: /},
  { what: 'an unclosed double quote', body: replace('service: demo', 'service: "demo'), field: '', line: 15, message: /^YAML syntax: / },
  { what: 'a tab used for indentation', body: replace('  kind: local\n', '\tkind: local\n'), field: '', line: 7, message: /^YAML syntax: /, several: true },
  { what: 'a key without a value separator', body: replace('service: demo', 'service demo\n  x'), field: '', line: 2, message: /^YAML syntax: / },
  { what: 'a duplicate key in a check', body: check('      path: /again\n'), field: 'smoke.checks[0].path', line: 15, message: /duplicate key "path"/ },
  { what: 'a scalar at the top level', body: 'just words\n', field: '', line: 1, message: /expected a mapping \(key: value\) at the top level/ },
  // ---- values accepted before that broke at run time
  { what: 'a NUL in reports.dir', body: append('reports:\n  dir: "rep\\0orts"\n'), field: 'reports.dir', line: 16, message: /contains a NUL character.*remove it/ },
  { what: 'a NUL from the environment', body: append('reports:\n  dir: "${DIR}"\n'), env: { DIR: 'a\0b' }, field: 'reports.dir', line: 16, message: /contains a NUL character \("\\0", or from a \$\{VAR\}\)/ },
  { what: 'a NUL in a command argument', body: replace('[node, server.mjs]', '[node, "ser\\0ver.mjs"]'), field: 'target.command[1]', line: 8, message: /contains a NUL character/ },
  { what: 'a NUL in a check name', body: replace('name: health', 'name: "he\\0alth"'), field: 'smoke.checks[0].name', line: 11, message: /contains a NUL character/ },
  { what: 'CRLF in a header value', body: check('      headers:\n        X-Note: "a\\r\\nX-Injected: 1"\n'), field: 'smoke.checks[0].headers.X-Note', line: 16, message: /cannot contain a line break \(CR\/LF\) or NUL: HTTP forbids them/ },
  { what: 'LF in a header value', body: check('      headers:\n        X-Note: "a\\nb"\n'), field: 'smoke.checks[0].headers.X-Note', line: 16, message: /line break \(CR\/LF\)/ },
  { what: 'a folded header value (block scalar)', body: check('      headers:\n        X-Note: |\n          one\n          two\n'), field: 'smoke.checks[0].headers.X-Note', line: 16, message: /line break/ },
  { what: 'CRLF in a WebSocket header value', body: second('websocket', '      headers:\n        X-Note: "a\\r\\nb"\n'), field: 'smoke.checks[1].headers.X-Note', line: 18, message: /line break/ },
  { what: 'a header name with a space', body: check('      headers:\n        X Note: a\n'), field: 'smoke.checks[0].headers.X Note', line: 16, message: /header name "X Note" is not valid/ },
  { what: 'a header name with a colon', body: check('      headers:\n        "X-Note:": a\n'), field: 'smoke.checks[0].headers.X-Note:', line: 16, message: /header name "X-Note:" is not valid/ },
  { what: 'an Authorization header with a line break, value not shown', body: check('      headers:\n        Authorization: "Bearer tok-AbC123\\nx"\n'), field: 'smoke.checks[0].headers.Authorization', line: 16, message: /line break.*not shown: the field holds a credential/ },
  { what: 'a body on GET', body: check('      body: {a: 1}\n'), field: 'smoke.checks[0].body', line: 15, message: /a GET request has no body.*set method: POST, PUT or PATCH, or remove body/ },
  { what: 'a string body on GET', body: check('      body: hello\n'), field: 'smoke.checks[0].body', line: 15, message: /a GET request has no body/ },
  { what: 'a body on HEAD', body: replace('method: GET', 'method: HEAD').concat('      body: x\n'), field: 'smoke.checks[0].body', line: 15, message: /a HEAD request has no body/ },
  { what: 'a body on the default method', body: replace('      method: GET\n', '').concat('      body: [1]\n'), field: 'smoke.checks[0].body', line: 14, message: /a GET request has no body/ },
  { what: 'build.context at the filesystem root', body: replace('context: app', 'context: ../../../../../../../../../../'), field: 'build.context', line: 5, message: /the filesystem root: every cycle would copy the whole machine/ },
  { what: 'build.context at / with exclude: []', body: replace('context: app', 'context: /\n  exclude: []'), field: 'build.context', line: 5, message: /resolves to \/, the filesystem root/ },
  { what: 'a missing build.context folder (validate)', body: replace('context: app', 'context: srv'), checkPaths: true, field: 'build.context', line: 5, message: /"srv" \(.*srv\) does not exist: create it, or set build.context/ },
  { what: 'build.context naming a file (validate)', body: replace('context: app', 'context: a-file'), checkPaths: true, field: 'build.context', line: 5, message: /is not a folder/ },
  { what: 'a target.env key "A B=C"', body: target('  env:\n    "A B=C": x\n'), field: 'target.env.A B=C', line: 10, message: /environment variable name "A B=C" cannot contain "=", spaces or control characters \(rename it, e\.g\. to "A_B_C"\)/ },
  { what: 'a build.env key with "="', body: replace('context: app', 'context: app\n  env:\n    "K=V": x'), field: 'build.env.K=V', line: 7, message: /cannot contain "="/ },
  { what: 'a fix env key with a tab', body: append('loop:\n  fix:\n    command: [node, f.mjs]\n    env:\n      "A\\tB": x\n'), field: 'loop.fix.env.A\tB', line: 19, message: /cannot contain/ },
  { what: 'a command check env key with a newline', body: commandCheck('      env:\n        "A\\nB": x\n'), field: 'smoke.checks[1].env.A\nB', line: 20, message: /cannot contain/ },
  { what: 'a 1,000-character service name, with its length', body: replace('service: demo', `service: ${'a'.repeat(1000)}`), field: 'service', line: 2, message: /^a service name is at most 49 characters \(Cloud Run rules\); this one has 1000 \(got "a{37}\.\.\." \(1000 characters\)\)$/ },
  { what: 'a 50-character service name', body: replace('service: demo', `service: ${'b'.repeat(50)}`), field: 'service', line: 2, message: /at most 49 characters.*has 50/ },
];

// ---- the schema's own checks, one small mistake each (line numbers from BASE)
const schemaCases: [string, string, string, number, RegExp][] = [
  ['http timeoutMs zero', check('      timeoutMs: 0\n'), 'smoke.checks[0].timeoutMs', 15, /positive whole number of milliseconds \(got 0\)/],
  ['http timeoutMs a string', check('      timeoutMs: soon\n'), 'smoke.checks[0].timeoutMs', 15, /milliseconds \(got "soon"\)/],
  ['http timeoutMs fractional', check('      timeoutMs: 1.5\n'), 'smoke.checks[0].timeoutMs', 15, /whole number/],
  ['http retries negative', check('      retries: -1\n'), 'smoke.checks[0].retries', 15, /from 0 to 10 \(got -1\)/],
  ['retry policy unknown', check('      retry: {policy: linear}\n'), 'smoke.checks[0].retry.policy', 15, /fixed or exponential/],
  ['retry delayMs negative', check('      retry: {delayMs: -5}\n'), 'smoke.checks[0].retry.delayMs', 15, /0 or more/],
  ['retry onlyOn unknown class', check('      retry: {onlyOn: [gremlins]}\n'), 'smoke.checks[0].retry.onlyOn[0]', 15, /failure class or group/],
  ['retry onlyOn empty', check('      retry: {onlyOn: []}\n'), 'smoke.checks[0].retry.onlyOn', 15, /at least 1 item/],
  ['retry unknown key', check('      retry: {delay: 5}\n'), 'smoke.checks[0].retry.delay', 15, /unknown field "delay"/],
  ['expect unknown key', check('      expect: {stauts: 200}\n'), 'smoke.checks[0].expect.stauts', 15, /did you mean "status"/],
  ['expect.status empty list', check('      expect: {status: []}\n'), 'smoke.checks[0].expect.status', 15, /at least one status code/],
  ['expect.status list with 99', check('      expect: {status: [200, 99]}\n'), 'smoke.checks[0].expect.status[1]', 15, /HTTP status code/],
  ['expect.maxLatencyMs zero', check('      expect: {maxLatencyMs: 0}\n'), 'smoke.checks[0].expect.maxLatencyMs', 15, /positive whole number/],
  ['expect.headers value a list', check('      expect: {headers: {a: [1]}}\n'), 'smoke.checks[0].expect.headers.a', 15, /header values must be strings/],
  ['expect.bodyContains a number', check('      expect: {bodyContains: 5}\n'), 'smoke.checks[0].expect.bodyContains', 15, /expected a string/],
  ['degradedMs over maxLatencyMs', check('      degradedMs: 900\n      expect: {maxLatencyMs: 500}\n'), 'smoke.checks[0].degradedMs', 15, /degradedMs must be below expect.maxLatencyMs/],
  ['check description a number', check('      description: 5\n'), 'smoke.checks[0].description', 15, /expected a string/],
  ['check name empty', replace('name: health', 'name: ""'), 'smoke.checks[0].name', 11, /every check needs a name \(got ""\)/],
  ['check name a number', replace('name: health', 'name: 5'), 'smoke.checks[0].name', 11, /every check needs a name/],
  ['method lowercase', replace('method: GET', 'method: get'), 'smoke.checks[0].method', 14, /expected one of GET/],
  ['path a number', replace('path: /healthz', 'path: 5'), 'smoke.checks[0].path', 13, /expected a path as a string/],
  ['headers a list', check('      headers: [a]\n'), 'smoke.checks[0].headers', 15, /expected a mapping/],
  ['websocket subprotocol empty', second('websocket', '      subprotocols: [""]\n'), 'smoke.checks[1].subprotocols[0]', 17, /non-empty/],
  ['websocket connections too many', second('websocket', '      connections: 100001\n'), 'smoke.checks[1].connections', 17, /from 1 to 100000/],
  ['websocket maxConnectMs negative', second('websocket', '      maxConnectMs: -1\n'), 'smoke.checks[1].maxConnectMs', 17, /positive whole number/],
  ['websocket degradedMs over maxConnectMs', second('websocket', '      degradedMs: 50\n      maxConnectMs: 10\n'), 'smoke.checks[1].degradedMs', 17, /below maxConnectMs/],
  ['websocket script a mapping', second('websocket', '      script: {send: hi}\n'), 'smoke.checks[1].script', 17, /expected a list/],
  ['websocket expect matches invalid', second('websocket', '      script:\n        - expect: {matches: "("}\n'), 'smoke.checks[1].script[0].expect.matches', 18, /not a valid regular expression/],
  ['websocket expect step timeout zero', second('websocket', '      script:\n        - expect: {text: a}\n          timeoutMs: 0\n'), 'smoke.checks[1].script[0].timeoutMs', 19, /positive whole number/],
  ['websocket expectClose reason a number', second('websocket', '      expectClose: {code: 1000, reason: 5}\n'), 'smoke.checks[1].expectClose.reason', 17, /expected a string/],
  ['websocket expectClose without code', second('websocket', '      expectClose: {reason: bye}\n'), 'smoke.checks[1].expectClose.code', 17, /required field "code" is missing/],
  ['websocket body (not a field)', second('websocket', '      body: x\n'), 'smoke.checks[1].body', 17, /unknown field "body"/],
  ['command check without junit', second('command', '      command: [node, t.mjs]\n'), 'smoke.checks[1].junit', 15, /required field "junit" is missing/],
  ['command check command empty', commandCheck('').replace('command: [node, t.mjs]', 'command: []'), 'smoke.checks[1].command', 17, /at least the program name/],
  ['command check argument empty', commandCheck('').replace('command: [node, t.mjs]', 'command: [node, ""]'), 'smoke.checks[1].command[1]', 17, /an argument may not be empty/],
  ['command check cwd empty', commandCheck('      cwd: ""\n'), 'smoke.checks[1].cwd', 19, /non-empty/],
  ['command check priority rule malformed', commandCheck('      priorities:\n        - {match: x}\n'), 'smoke.checks[1].priorities[0]', 20, /a priority rule is/],
  ['command check defaultPriority P5', commandCheck('      defaultPriority: P5\n'), 'smoke.checks[1].defaultPriority', 19, /P0, P1, P2 or P3/],
  ['command check timeoutMs negative', commandCheck('      timeoutMs: -1\n'), 'smoke.checks[1].timeoutMs', 19, /positive whole number/],
  ['smoke.concurrency zero', replace('smoke:\n', 'smoke:\n  concurrency: 0\n'), 'smoke.concurrency', 10, /from 1 to 1000 \(got 0\)/],
  ['smoke.defaults.retries 11', replace('smoke:\n', 'smoke:\n  defaults: {retries: 11}\n'), 'smoke.defaults.retries', 10, /from 0 to 10/],
  ['smoke.defaults.retryDelayMs negative', replace('smoke:\n', 'smoke:\n  defaults: {retryDelayMs: -1}\n'), 'smoke.defaults.retryDelayMs', 10, /0 or more/],
  ['smoke.defaults unknown key', replace('smoke:\n', 'smoke:\n  defaults: {timeout: 5}\n'), 'smoke.defaults.timeout', 10, /did you mean "timeoutMs"/],
  ['smoke unknown key', replace('smoke:\n', 'smoke:\n  chekcs: []\n'), 'smoke.chekcs', 10, /did you mean "checks"/],
  ['target.host not loopback', target('  host: 0.0.0.0\n'), 'target.host', 9, /expected "127.0.0.1"/],
  ['target.keepRevisions 0', target('  keepRevisions: 0\n'), 'target.keepRevisions', 9, /from 1 to 20/],
  ['target.runtime unknown', target('  runtime: vm\n'), 'target.runtime', 9, /process or container/],
  ['target.readiness.path relative', target('  readiness: {path: healthz}\n'), 'target.readiness.path', 9, /must start with "\/"/],
  ['target.readiness.intervalMs zero', target('  readiness: {intervalMs: 0}\n'), 'target.readiness.intervalMs', 9, /positive whole number/],
  ['target.secretEnv a string', target('  secretEnv: API_KEY\n'), 'target.secretEnv', 9, /expected a list/],
  ['target.command missing for runtime process', replace('  command: [node, server.mjs]\n', ''), 'target.command', 7, /required field "command" is missing: runtime: process/],
  ['target.env value a boolean', target('  env:\n    DEBUG: true\n'), 'target.env.DEBUG', 10, /must be strings \(quote numbers\)/],
  ['build.exclude a string', replace('context: app', 'context: app\n  exclude: .git'), 'build.exclude', 6, /expected a list/],
  ['build.timeoutMs a string', replace('context: app', 'context: app\n  timeoutMs: forever'), 'build.timeoutMs', 6, /positive whole number/],
  ['build.context empty', replace('context: app', 'context: ""'), 'build.context', 5, /non-empty/],
  ['build unknown key', replace('context: app', 'context: app\n  cmd: [x]'), 'build.cmd', 6, /unknown field "cmd"/],
  ['gate.P1 negative', append('gate:\n  P1: -1\n'), 'gate.P1', 16, /pass rate in percent/],
  ['gate.allowFlaky a string', append('gate:\n  allowFlaky: "yes"\n'), 'gate.allowFlaky', 16, /true or false/],
  ['gate threshold expression invalid', append('gate:\n  thresholds:\n    - expr: "p95(latency) <"\n'), 'gate.thresholds[0].expr', 17, /./],
  ['gate threshold without expr', append('gate:\n  thresholds:\n    - checks: [health]\n'), 'gate.thresholds[0].expr', 17, /required field "expr" is missing/],
  ['gate threshold checks empty', append('gate:\n  thresholds:\n    - {expr: "p95(latency) < 500ms", checks: []}\n'), 'gate.thresholds[0].checks', 17, /at least one check name/],
  ['gate unknown key', append('gate:\n  P4: 10\n'), 'gate.P4', 16, /unknown field "P4"/],
  ['loop.maxMinutes zero', append('loop:\n  maxMinutes: 0\n'), 'loop.maxMinutes', 16, /positive number of minutes/],
  ['loop.stallAfter 1', append('loop:\n  stallAfter: 1\n'), 'loop.stallAfter', 16, /from 2 to 1000/],
  ['loop.onFixFailure unknown', append('loop:\n  onFixFailure: retry\n'), 'loop.onFixFailure', 16, /continue or stop/],
  ['loop.fix without command', append('loop:\n  fix:\n    shell: true\n'), 'loop.fix.command', 17, /required field "command" is missing/],
  ['loop.fix.shell a string', append('loop:\n  fix:\n    command: [a]\n    shell: "yes"\n'), 'loop.fix.shell', 18, /true or false/],
  ['loop.fix.timeoutMs zero', append('loop:\n  fix:\n    command: [a]\n    timeoutMs: 0\n'), 'loop.fix.timeoutMs', 18, /positive whole number/],
  ['reports.dir empty', append('reports:\n  dir: ""\n'), 'reports.dir', 16, /non-empty/],
  ['reports unknown key', append('reports:\n  folder: x\n'), 'reports.folder', 16, /did you mean|unknown field "folder"/],
  ['traffic.tag too long', append(`traffic:\n  tag: t${'a'.repeat(50)}\n`), 'traffic.tag', 16, /lowercase letters, digits and dashes/],
  ['traffic.steps a string', append('traffic:\n  strategy: canary\n  steps: "10,50,100"\n'), 'traffic.steps', 17, /list of percents/],
  ['traffic.steps with 0', append('traffic:\n  strategy: canary\n  steps: [0, 100]\n'), 'traffic.steps[0]', 17, /whole percent from 1 to 100/],
  ['traffic.smoke empty list', append('traffic:\n  smoke: []\n'), 'traffic.smoke', 16, /at least one check name/],
  ['apiVersion a number', replace('apiVersion: deploy-loop/v1', 'apiVersion: 1'), 'apiVersion', 1, /expected apiVersion: deploy-loop\/v1/],
  ['service a list', replace('service: demo', 'service: [demo]'), 'service', 2, /expected the service name as a string/],
  ['service ending with a dash', replace('service: demo', 'service: demo-'), 'service', 2, /lowercase letters, digits and dashes/],
  ['service starting with a digit', replace('service: demo', 'service: 1demo'), 'service', 2, /lowercase letters, digits and dashes/],
  ['target a list', replace('target:\n  kind: local\n  command: [node, server.mjs]\n', 'target: [local]\n'), 'target', 6, /expected target.kind|expected a mapping/],
  ['smoke a string', replace('smoke:\n  checks:\n    - name: health\n      kind: http\n      path: /healthz\n      method: GET\n', 'smoke: all\n'), 'smoke', 9, /expected a mapping/],
];

for (const [what, body, field, line, message] of schemaCases) cases.push({ what, body, field, line, message });

interface Outcome {
  error: unknown;
  path: string;
}

async function load(c: Case): Promise<Outcome> {
  let path = c.path;
  if (!path) {
    path = join(dir, `${c.what.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}.yaml`);
    writeFileSync(path, c.body);
  }
  try {
    await loadConfig(path, c.env ?? {}, { checkPaths: c.checkPaths ?? false });
    return { error: undefined, path };
  } catch (error) {
    return { error, path };
  }
}

describe('malformed-config corpus', () => {
  it('the base config used by the cases loads, with its paths checked', async () => {
    const file = join(dir, 'base.yaml');
    writeFileSync(file, BASE);
    await expect(loadConfig(file, {}, { checkPaths: true })).resolves.toMatchObject({ config: { service: 'demo' } });
  });

  it('has at least 150 cases together with config-errors.test.ts (67)', () => {
    expect(cases.length + 67).toBeGreaterThanOrEqual(150);
  });

  it.each(cases)('$what', async (c) => {
    const started = performance.now();
    const { error, path } = await load(c);
    const ms = performance.now() - started;
    if (!(error instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${error === undefined ? 'a loaded config' : String((error as Error).stack ?? error)}`);
    expect(error.exitCode).toBe(2);
    const [issue] = error.issues;
    if (!c.several) expect(error.issues).toHaveLength(1);
    expect(issue?.file).toBe(path);
    expect(issue?.field).toBe(c.field);
    expect(issue?.line).toBe(c.line);
    expect(issue?.message).toMatch(c.message);
    // The message is what the CLI prints: file:line:column: field: message, and nothing of a stack.
    expect(error.message).toBe(error.issues.map(formatConfigIssue).join('\n'));
    if (c.line !== undefined) expect(error.message).toMatch(new RegExp(`^.+:${c.line}:\\d+: `));
    expect(error.message).not.toMatch(/\n\s+at |Maximum call stack|RangeError|ReferenceError|Invalid input/);
    // Bounded: a refusal, not a parse of whatever the file would expand to.
    expect(ms).toBeLessThan(5000);
  });
});
