/**
 * runSuite's per-check bookkeeping: the progress line's count and what stopWhen is handed. Both are
 * kept incrementally (a counter, one growing array); these tests pin what they say, not how fast.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { checkSchema, type CheckConfig } from '../../src/config/schema.js';
import type { CheckResult } from '../../src/model/check-result.js';
import { progress } from '../../src/progress.js';
import { runSuite } from '../../src/smoke/runner.js';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.startsWith('/fail')) return void res.writeHead(500).end('nope');
    // A little jitter so concurrent checks finish out of config order.
    setTimeout(() => res.writeHead(200).end('ok'), Math.floor(Math.random() * 4));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

afterEach(() => {
  vi.restoreAllMocks();
});

const defaults = { timeoutMs: 5000, retries: 0, retryDelayMs: 10 };
const http = (name: string, path: string): CheckConfig => checkSchema.parse({ name, kind: 'http', path });

describe('runSuite progress', () => {
  it('reports 1..N of N once per finished check, at any concurrency', async () => {
    const calls: [number, number][] = [];
    vi.spyOn(progress(), 'checks').mockImplementation((done, total) => void calls.push([done, total]));
    const checks = Array.from({ length: 25 }, (_, i) => http(`c${i}`, i % 7 === 3 ? `/fail/${i}` : `/ok/${i}`));
    const results = await runSuite(checks, base, { concurrency: 4, defaults, settleMs: 0 });
    expect(results).toHaveLength(25);
    expect(calls).toEqual(Array.from({ length: 25 }, (_, i) => [i + 1, 25]));
  });

  it('stops counting when the suite stops: the count is the checks that finished', async () => {
    const calls: number[] = [];
    vi.spyOn(progress(), 'checks').mockImplementation((done) => void calls.push(done));
    const checks = [http('a', '/ok'), http('b', '/fail'), http('c', '/ok'), http('d', '/ok')];
    const results = await runSuite(checks, base, { concurrency: 1, defaults, settleMs: 0, stopWhen: (_soFar, fresh) => fresh.some((r) => r.status === 'fail') });
    expect(calls).toEqual([1, 2]);
    expect(results.map((r) => r.status)).toEqual(['pass', 'fail', 'skipped', 'skipped']);
  });
});

describe('runSuite stopWhen', () => {
  it('is handed every result so far, each exactly once, and the check that just finished', async () => {
    const seen: { length: number; fresh: readonly CheckResult[]; soFar: readonly CheckResult[] }[] = [];
    const checks = Array.from({ length: 30 }, (_, i) => http(`c${i}`, i % 5 === 2 ? `/fail/${i}` : `/ok/${i}`));
    const results = await runSuite(checks, base, {
      concurrency: 5,
      defaults,
      settleMs: 0,
      stopWhen: (soFar, fresh) => {
        seen.push({ length: soFar.length, fresh, soFar });
        return false;
      },
    });
    expect(seen.map((s) => s.length)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    // Each call's newest results are the fresh ones, in order, and they are results the suite returns.
    let offset = 0;
    for (const s of seen) {
      expect(s.fresh).toHaveLength(1);
      expect(s.soFar[offset]).toBe(s.fresh[0]);
      offset += s.fresh.length;
    }
    const last = seen.at(-1)?.soFar ?? [];
    expect(new Set(last)).toEqual(new Set(results));
    expect(last.filter((r) => r.status === 'fail').map((r) => r.name).sort()).toEqual(['c12', 'c17', 'c2', 'c22', 'c27', 'c7']);
  });

  it('a truthy answer stops the suite: asked no more, nothing later starts', async () => {
    let asked = 0;
    const checks = Array.from({ length: 8 }, (_, i) => http(`c${i}`, `/ok/${i}`));
    const results = await runSuite(checks, base, {
      concurrency: 1,
      defaults,
      stopWhen: (soFar) => {
        asked++;
        return soFar.length === 3;
      },
    });
    expect(asked).toBe(3);
    expect(results.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'skipped', 'skipped', 'skipped', 'skipped', 'skipped']);
    expect(results.slice(3).every((r) => r.attempts === 0)).toBe(true);
  });

  it('is not asked after the suite was aborted from outside', async () => {
    const controller = new AbortController();
    let asked = 0;
    const checks = Array.from({ length: 6 }, (_, i) => http(`c${i}`, `/ok/${i}`));
    const results = await runSuite(checks, base, {
      concurrency: 1,
      defaults,
      signal: controller.signal,
      stopWhen: () => {
        asked++;
        if (asked === 2) controller.abort();
        return false;
      },
    });
    expect(asked).toBe(2);
    expect(results.filter((r) => r.status === 'pass')).toHaveLength(2);
    expect(results.slice(2).every((r) => r.status === 'skipped')).toBe(true);
  });
});
