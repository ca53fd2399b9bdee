/**
 * The incremental abortOnFail watch gives the same answer as the model's firstAbortingThreshold over
 * the same results, after every result, for every threshold function, scope and comparison.
 */
import { describe, expect, it } from 'vitest';
import type { CheckResult } from '../../src/model/check-result.js';
import { firstAbortingThreshold, type ThresholdConfig } from '../../src/model/thresholds.js';
import { watchThresholds } from '../../src/loop/incremental-thresholds.js';

/** A small deterministic generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const STATUSES = ['pass', 'pass', 'pass', 'fail', 'error', 'skipped', 'degraded'] as const;
const PRIORITIES = ['P0', 'P1', 'P2'] as const;

function result(rand: () => number, i: number): CheckResult {
  const kind = rand() < 0.7 ? 'http' : 'websocket';
  const status = STATUSES[Math.floor(rand() * STATUSES.length)] ?? 'pass';
  const figures: CheckResult['figures'] = {};
  if (rand() < 0.9) figures.latencyMs = Math.floor(rand() * 400);
  if (kind === 'websocket' && rand() < 0.8) figures.connectMs = Math.floor(rand() * 120);
  // Some results keep every attempt's or connection's samples, some thinned (measured > kept).
  if (rand() < 0.3) {
    const latencyMs = Array.from({ length: 1 + Math.floor(rand() * 5) }, () => Math.floor(rand() * 400));
    const connectMs = Array.from({ length: Math.floor(rand() * 4) }, () => Math.floor(rand() * 120));
    figures.samples = { latencyMs, ...(connectMs.length ? { connectMs } : {}), ...(rand() < 0.3 ? { measured: { latencyMs: latencyMs.length + 3 } } : {}) };
  }
  const name = rand() < 0.2 ? `suite › case-${i}` : `check-${i % 7}`;
  return { name, kind, priority: PRIORITIES[Math.floor(rand() * 3)] ?? 'P0', status, durationMs: 1, attempts: 1, figures };
}

const EXPRS = [
  'p50(latency) < 250ms', 'p90(latency) <= 350ms', 'p95(latency) < 390ms', 'p99(latency) != 399ms', 'min(latency) > 3ms',
  'max(connectMs) < 115ms', 'avg(latency) < 230ms', 'avg(connectMs) >= 40ms', 'rate(fail) < 35%', 'rate(pass) >= 0.6',
  'count(fail) <= 12', 'count(pass) == 3', 'p50(connectMs) > 20ms', 'max(latency) <= 1s',
];

function thresholdsFor(rand: () => number): ThresholdConfig[] {
  return EXPRS.filter(() => rand() < 0.5).map((expr) => {
    const t: ThresholdConfig = { expr, abortOnFail: rand() < 0.8 };
    const scope = rand();
    if (scope < 0.25) t.priority = 'P0';
    else if (scope < 0.45) t.checks = ['check-3', 'suite'];
    return t;
  });
}

describe('incremental abortOnFail thresholds', () => {
  it('matches firstAbortingThreshold after every result, over 300 random suites', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = rng(seed);
      const thresholds = thresholdsFor(rand);
      const watch = watchThresholds(thresholds);
      const soFar: CheckResult[] = [];
      for (let i = 0; i < 80; i++) {
        const r = result(rand, i);
        soFar.push(r);
        const got = watch.add([r]);
        expect(got, `seed ${seed}, after ${i + 1} results`).toEqual(firstAbortingThreshold(soFar, thresholds));
      }
      expect(watch.count).toBe(80);
    }
  });

  it('adds several results at once (a command check) as one step', () => {
    const thresholds: ThresholdConfig[] = [{ expr: 'count(fail) <= 1', abortOnFail: true }];
    const watch = watchThresholds(thresholds);
    const fail = (name: string): CheckResult => ({ name, kind: 'command', priority: 'P0', status: 'fail', durationMs: 1, attempts: 1, figures: {} });
    expect(watch.add([fail('a › 1')])).toBeUndefined();
    expect(watch.add([fail('a › 2'), fail('a › 3')])).toMatchObject({ expr: 'count(fail) <= 1', value: 3, samples: 3, passed: false });
  });

  it('ignores thresholds without abortOnFail and never aborts on an unreadable one', () => {
    const watch = watchThresholds([{ expr: 'rate(fail) == 0' }, { expr: 'nonsense', abortOnFail: true }]);
    const r: CheckResult = { name: 'x', kind: 'http', priority: 'P0', status: 'fail', durationMs: 1, attempts: 1, figures: { latencyMs: 5 } };
    expect(watch.add([r])).toBeUndefined();
  });
});
