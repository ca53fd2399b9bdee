import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSchema, type CheckConfig } from '../../src/config/schema.js';
import { runSuite, type SuiteOptions } from '../../src/smoke/index.js';

let server: Server;
let base: string;
let dir: string;

// The tests fetch the candidate URL from the environment, as a user's suite would.
const TESTS = `
import { test, describe } from 'node:test';
import assert from 'node:assert';
const url = process.env.DEPLOY_LOOP_URL;
describe('api', () => {
  test('[P0] root answers', async () => {
    const res = await fetch(url);
    assert.strictEqual(res.status, 200);
    assert.strictEqual(process.env.BASE_URL, url);
  });
  test('@p1 broken endpoint answers 200', async () => {
    const res = await fetch(new URL('broken', url));
    assert.strictEqual(res.status, 200, 'broken said ' + res.status + ' token=' + process.env.SECRET_TOKEN);
  });
});
test('untagged health', async () => {
  const res = await fetch(new URL('health', url));
  assert.strictEqual(await res.text(), 'healthy');
});
`;

const opts: SuiteOptions = { concurrency: 2, defaults: { timeoutMs: 5000, retries: 0, retryDelayMs: 0 } };

function commandCheck(extra: Record<string, unknown>): CheckConfig {
  return checkSchema.parse({
    name: 'suite',
    kind: 'command',
    command: [process.execPath, '--test', '--test-reporter=junit', '--test-reporter-destination=junit.xml', 'api.test.mjs'],
    cwd: 'proj',
    junit: 'junit.xml',
    priorities: [{ match: '[P0]', priority: 'P0' }, { match: '/@p1\\b/i', priority: 'P1' }],
    defaultPriority: 'P3',
    ...extra,
  });
}

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/broken') return void res.writeHead(503).end('down');
    if (req.url === '/health') return void res.writeHead(200).end('healthy');
    res.writeHead(200).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  dir = await mkdtemp(join(tmpdir(), 'smoke-command-'));
  await mkdir(join(dir, 'proj'), { recursive: true });
  await writeFile(join(dir, 'proj', 'api.test.mjs'), TESTS);
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

describe('command check', () => {
  it('runs a real node:test suite against the URL and turns each JUnit case into a prioritised result', async () => {
    const check = commandCheck({ env: { SECRET_TOKEN: 'hunter2-very-secret' }, headers: { authorization: 'Bearer hunter2-very-secret' } });
    const results = await runSuite([check], base, { ...opts, baseDir: dir });
    const byName = Object.fromEntries(results.map((r) => [r.name, r]));
    expect(Object.keys(byName).sort()).toEqual(['suite › api › @p1 broken endpoint answers 200', 'suite › api › [P0] root answers', 'suite › untagged health']);

    const p0 = byName['suite › api › [P0] root answers'];
    expect(p0).toMatchObject({ kind: 'command', priority: 'P0', status: 'pass' });
    expect(byName['suite › untagged health']).toMatchObject({ priority: 'P3', status: 'pass' });

    const p1 = byName['suite › api › @p1 broken endpoint answers 200'];
    expect(p1).toMatchObject({ priority: 'P1', status: 'fail' });
    expect(p1?.failure?.class).toBe('assertion');
    expect(p1?.failure?.message).toContain('broken said 503');
    expect(p1?.failure?.evidence.excerpt).toContain('broken said 503');
    // The credential header's value is a secret: it never reaches evidence.
    expect(JSON.stringify(p1)).not.toContain('hunter2-very-secret');
    expect(p1?.failure?.message).toContain('[redacted]');
  });

  it('orders results by config, the command check expanded in place', async () => {
    const http = checkSchema.parse({ name: 'after', kind: 'http', path: '/health' });
    const results = await runSuite([commandCheck({ priorities: [] }), http], base, { ...opts, baseDir: dir });
    expect(results.map((r) => r.name).at(-1)).toBe('after');
    expect(results).toHaveLength(4);
    expect(results.slice(0, 3).every((r) => r.priority === 'P3')).toBe(true);
  });

  it('a suite and a file glob rule give priorities', async () => {
    const check = commandCheck({ priorities: [{ suite: 'ap*', priority: 'P2' }, { file: '**/api.test.mjs', priority: 'P0' }] });
    const results = await runSuite([check], base, { ...opts, baseDir: dir });
    expect(results.find((r) => r.name.endsWith('[P0] root answers'))?.priority).toBe('P2');
    expect(results.find((r) => r.name.endsWith('untagged health'))?.priority).toBe('P0');
  });

  it('a JUnit file that was never written is one check-error result, not a crash', async () => {
    const check = commandCheck({ command: [process.execPath, '-e', 'console.log("no report here")'] });
    const results = await runSuite([check], base, { ...opts, baseDir: dir });
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ name: 'suite', kind: 'command', status: 'error', priority: 'P3' });
    expect(results[0]?.failure?.class).toBe('check-error');
    expect(results[0]?.failure?.message).toMatch(/JUnit file junit.xml was not written; the test command exited 0/);
    expect(results[0]?.failure?.evidence.logTail?.join('\n')).toContain('no report here');
  });

  it('a malformed JUnit file is one check-error result naming the problem', async () => {
    const write = `require('fs').writeFileSync('junit.xml','<testsuites><testsuite name="x"><testcase name="a"></testsuite>')`;
    const results = await runSuite([commandCheck({ command: [process.execPath, '-e', write] })], base, { ...opts, baseDir: dir });
    expect(results).toHaveLength(1);
    expect(results[0]?.failure?.class).toBe('check-error');
    expect(results[0]?.failure?.message).toMatch(/not well-formed XML/);
  });

  it('a command that cannot start is a check-error', async () => {
    const results = await runSuite([commandCheck({ command: ['/nonexistent/deploy-loop-test-runner'] })], base, { ...opts, baseDir: dir });
    expect(results).toHaveLength(1);
    expect(results[0]?.status).toBe('error');
    expect(results[0]?.failure?.message).toMatch(/could not start/);
  });
});
