/**
 * Records for the HTML report tests: a large history (cycles × checks, some failing with evidence)
 * and a cycle whose service sent back markup and script, which the page must show as text.
 */
import type { CycleRecord } from '../../src/model/record.js';
import { PRIORITIES, type CheckResult } from '../../src/model/check-result.js';
import { gateOf, record, result } from './report-fixtures.js';

const KINDS = ['http', 'websocket', 'command'] as const;

/**
 * `cycles` cycles of `checks` checks each; in cycle c, check i fails when (i + c) is a multiple of its
 * priority's period (P0 rarely, P3 often), so the failing set moves between cycles and the pass
 * rates differ per priority.
 */
export function largeHistory(cycles: number, checks: number): CycleRecord[] {
  const period = [401, 97, 41, 17];
  const out: CycleRecord[] = [];
  for (let c = 1; c <= cycles; c++) {
    const results: CheckResult[] = [];
    for (let i = 0; i < checks; i++) {
      const priority = PRIORITIES[i % 4] as CheckResult['priority'];
      const kind = KINDS[i % 3] as (typeof KINDS)[number];
      const failing = (i + c) % (period[i % 4] as number) === 0;
      results.push(
        result({
          name: `check-${String(i).padStart(5, '0')}-${kind}`,
          priority,
          kind,
          status: failing ? 'fail' : i % 50 === 7 ? 'degraded' : 'pass',
          durationMs: 3 + ((i * 7 + c) % 400),
          attempts: failing ? 2 : 1,
          figures: { latencyMs: 3 + ((i * 7 + c) % 400) },
          ...(failing
            ? {
                failure: {
                  class: 'http-5xx' as const,
                  message: `GET /items/${i} answered 503 (cycle ${c})`,
                  evidence: {
                    status: 503,
                    excerpt: `{"error":"upstream unavailable","item":${i}}`,
                    logTail: [`GET /items/${i} 503 12ms`, 'upstream pool exhausted (size 16)'],
                  },
                },
                attemptLog: [
                  { attempt: 1, status: 'fail' as const, durationMs: 11, failure: { class: 'http-5xx' as const, message: 'answered 503', evidence: { status: 503 } } },
                  { attempt: 2, status: 'fail' as const, durationMs: 12 },
                ],
              }
            : {}),
        }),
      );
    }
    const gate = gateOf(results, { P0: 100, P1: 95 });
    const minute = String(c % 60).padStart(2, '0');
    out.push(
      record({
        cycle: c,
        startedAt: `2025-06-03T10:${minute}:02.118Z`,
        smoke: { durationMs: 20_000 + c * 100, results },
        gate,
        verdict: gate.passed ? 'passed' : 'gate-failed',
        durations: { buildMs: 800 + c * 10, deployMs: 1300 + (c % 7) * 50, smokeMs: 20_000 + c * 100, totalMs: 22_100 + c * 160 },
        checkLocations: {},
      }),
    );
  }
  return out;
}

export const HOSTILE = '</script><script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">&amp;<!--';

/** A failing cycle whose every service-provided string is markup. */
export function hostileCycle(): CycleRecord {
  const results = [
    result({
      name: `evil-${HOSTILE}`,
      priority: 'P0',
      kind: 'http',
      status: 'fail',
      durationMs: 5,
      failure: { class: 'assertion', message: HOSTILE, evidence: { status: 200, excerpt: HOSTILE, actual: HOSTILE, logTail: [HOSTILE] } },
    }),
  ];
  return record({
    cycle: 1,
    startedAt: '2025-06-03T09:14:02.118Z',
    smoke: { durationMs: 5, results },
    traffic: { before: [{ revision: `rev-${HOSTILE}`, percent: 100 }], after: [{ revision: `rev-${HOSTILE}`, percent: 100 }], action: 'kept', note: HOSTILE },
    verdict: 'gate-failed',
  });
}
