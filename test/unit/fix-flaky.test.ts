import { describe, expect, it } from 'vitest';
import { flakyP0 } from '../../src/loop/fix.js';
import { groupIssues } from '../../src/report/groups.js';
import { rankIssues } from '../../src/report/issues.js';
import { ISSUES_SCHEMA_FILE } from '../../src/report/json-schema.js';
import { schemaValidator } from '../helpers/json-schema.js';
import { firstCycleGateFailed, result } from './report-fixtures.js';

describe('flakyP0 (the issues file `flaky` list)', () => {
  it('lists P0 checks that passed only on retry, with the failed attempts, and nothing else', () => {
    const rec = firstCycleGateFailed();
    const retried = (name: string, priority: 'P0' | 'P1') => ({
      ...result({ name, priority }),
      attemptLog: [
        { attempt: 1, status: 'fail' as const, durationMs: 5, failure: { class: 'timeout' as const, message: 'no answer within 50 ms', evidence: {} } },
        { attempt: 2, status: 'pass' as const, durationMs: 4 },
      ],
    });
    rec.smoke.results.push(retried('health-flaky', 'P0'), retried('p1-flaky', 'P1'), result({ name: 'steady', priority: 'P0' }));
    rec.checkLocations['health-flaky'] = 'loop.config.yaml:7';
    expect(flakyP0(rec)).toEqual([
      {
        check: 'health-flaky',
        priority: 'P0',
        location: 'loop.config.yaml:7',
        failedAttempts: [{ attempt: 1, class: 'timeout', message: 'no answer within 50 ms' }],
      },
    ]);
    // As the fix command gets it: valid against the published schema.
    const issues = rankIssues(rec, []);
    const file = { cycle: rec.cycle, service: rec.service, issues, groups: groupIssues(issues), flaky: flakyP0(rec) };
    expect(schemaValidator(ISSUES_SCHEMA_FILE)(JSON.parse(JSON.stringify(file)))).toEqual([]);
    expect(schemaValidator(ISSUES_SCHEMA_FILE)({ ...file, flaky: [{ check: 'x', priority: 'P7', failedAttempts: [] }] })).toContain(
      '/flaky/0/priority: must be equal to one of the allowed values',
    );
  });
});
