/**
 * The published report and record schemas: pinned to the zod schemas (UPDATE_SCHEMA=1 rewrites the
 * files), and read by ajv as a user's tooling would: every rendered scenario validates, and a report
 * or record with a wrong field is rejected at that field. History files are checked on read.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHistory, recordFileName, writeRecord } from '../../src/loop/history.js';
import type { CycleRecord } from '../../src/model/record.js';
import { renderCycleJson } from '../../src/report/json.js';
import {
  ISSUES_SCHEMA_FILE,
  OUTCOME_SCHEMA_FILE,
  RECORD_SCHEMA_FILE,
  REPORT_SCHEMA_FILE,
  renderFixIssuesJsonSchema,
  renderRecordJsonSchema,
  renderReportJsonSchema,
  renderRunOutcomeJsonSchema,
} from '../../src/report/json-schema.js';
import { ROOT, removeDir, scratchDir } from '../helpers/cli.js';
import { schemaValidator } from '../helpers/json-schema.js';
import { firstCycleGateFailed, REPORT_SCENARIOS, secondCyclePassed } from './report-fixtures.js';

const FILES = [
  [REPORT_SCHEMA_FILE, renderReportJsonSchema],
  [RECORD_SCHEMA_FILE, renderRecordJsonSchema],
  [ISSUES_SCHEMA_FILE, renderFixIssuesJsonSchema],
  [OUTCOME_SCHEMA_FILE, renderRunOutcomeJsonSchema],
] as const;

/** A JSON round trip: what a file on disk holds. */
const onDisk = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

describe('published report and record schemas', () => {
  it.each(FILES)('%s matches the committed file (UPDATE_SCHEMA=1 rewrites it)', (file, render) => {
    const rendered = render();
    const path = join(ROOT, file);
    if (process.env.UPDATE_SCHEMA === '1') {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, rendered);
    }
    const fix = `run UPDATE_SCHEMA=1 npm test -- test/unit/report-json-schema.test.ts`;
    expect(existsSync(path), `${file} is missing: ${fix}`).toBe(true);
    expect(readFileSync(path, 'utf8'), `${file} is stale: ${fix}`).toBe(rendered);
  });

  const validReport = schemaValidator(REPORT_SCHEMA_FILE);
  const validRecord = schemaValidator(RECORD_SCHEMA_FILE);

  it.each(REPORT_SCENARIOS)('the report and the record of "%s" validate', (_name, make) => {
    const [current, history] = make();
    expect(validReport(onDisk(renderCycleJson(current, history)))).toEqual([]);
    expect(validRecord(onDisk(current))).toEqual([]);
  });

  it('a report with a smoke run stopped by abortOnFail validates, and the stop is in it', () => {
    const rec = firstCycleGateFailed();
    rec.smoke.stoppedEarly = { expr: 'rate(fail) == 0', scope: 'P0 checks', value: 0.5, samples: 2, afterResults: 2, skipped: 3 };
    const json = onDisk(renderCycleJson(rec, []));
    expect(validReport(json)).toEqual([]);
    expect(json.record.smoke.stoppedEarly?.skipped).toBe(3);
  });

  it.each([
    ['an unknown verdict', (r: Record<string, unknown>) => void (r.verdict = 'great'), '/verdict: must be equal to one of the allowed values'],
    ['a missing gate', (r: Record<string, unknown>) => void delete r.gate, "/: must have required property 'gate'"],
    ['a field the schema does not name', (r: Record<string, unknown>) => void (r.praise = 'great work'), '/: must NOT have additional properties (praise)'],
    [
      'a check status outside the list',
      (r: Record<string, unknown>) => void (((r.record as CycleRecord).smoke.results[0] as unknown as Record<string, unknown>).status = 'ok'),
      '/record/smoke/results/0/status: must be equal to one of the allowed values',
    ],
    ['a report version from the future', (r: Record<string, unknown>) => void (r.reportVersion = 2), '/reportVersion: must be equal to constant'],
  ])('rejects %s, at its field', (_what, spoil, error) => {
    const json = onDisk(renderCycleJson(firstCycleGateFailed(), [])) as unknown as Record<string, unknown>;
    spoil(json);
    expect(validReport(json)).toContain(error);
  });
});

describe('history files are checked against the record schema on read', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map(removeDir));
  });

  it('names the file and the field of a spoiled record, and keeps reading the others', async () => {
    const dir = await scratchDir('history-schema');
    dirs.push(dir);
    await writeRecord(dir, firstCycleGateFailed());
    const spoiled = onDisk(secondCyclePassed()) as unknown as Record<string, unknown>;
    (spoiled.gate as Record<string, unknown>).passed = 'yes';
    delete (spoiled.deploy as Record<string, unknown>).status;
    await mkdir(join(dir, 'history'), { recursive: true });
    await writeFile(join(dir, 'history', recordFileName(2)), JSON.stringify(spoiled));

    const history = await readHistory(dir);
    expect(history.records.map((r) => r.cycle)).toEqual([1]);
    expect(history.problems).toHaveLength(1);
    expect(history.problems[0]?.file).toBe(join(dir, 'history', recordFileName(2)));
    expect(history.problems[0]?.message).toMatch(/^not a valid cycle record \(schema\/cycle-record\.schema\.json\): /);
    expect(history.problems[0]?.message).toContain('deploy.status: Invalid option');
    expect(history.problems[0]?.message).toContain('gate.passed: Invalid input: expected boolean, received string');
  });

  it('reads back what it wrote, field for field', async () => {
    const dir = await scratchDir('history-roundtrip');
    dirs.push(dir);
    const recs = [firstCycleGateFailed(), secondCyclePassed()];
    for (const r of recs) await writeRecord(dir, r);
    const history = await readHistory(dir);
    expect(history.problems).toEqual([]);
    expect(history.records).toEqual(recs.map(onDisk));
  });
});
