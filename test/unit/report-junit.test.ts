import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderJunit } from '../../src/report/junit.js';
import {
  agentFailing,
  firstCycleBuildFailed,
  firstCycleGateFailed,
  interruptedCycle,
  result,
  secondCycleDeployFailed,
  secondCyclePassed,
  stoppedByThreshold,
  withoutStageResults,
} from './report-fixtures.js';
import { stoppedEarlyText } from '../../src/model/thresholds.js';

interface Problem {
  '@_message': string;
  '@_type': string;
  '#text'?: string;
}
interface TestCase {
  '@_name': string;
  '@_classname': string;
  '@_time': string;
  failure?: Problem;
  error?: Problem;
  skipped?: { '@_message'?: string } | '';
}
interface Counts {
  '@_name': string;
  '@_tests': string;
  '@_failures': string;
  '@_errors': string;
  '@_skipped': string;
}
interface Suite extends Counts {
  testcase: TestCase[];
}
interface Parsed {
  testsuites: Counts & { testsuite?: Suite[] };
}

function parse(xml: string): Parsed['testsuites'] {
  expect(XMLValidator.validate(xml)).toBe(true);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@_',
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: false,
    // Decodes numeric character references (&#10;) as a conforming XML parser does.
    htmlEntities: true,
    isArray: (name) => name === 'testsuite' || name === 'testcase',
  });
  return (parser.parse(xml) as Parsed).testsuites;
}

const counts = (c: Counts) => ({ tests: +c['@_tests'], failures: +c['@_failures'], errors: +c['@_errors'], skipped: +c['@_skipped'] });

describe('renderJunit', () => {
  it('has one testsuite per priority and one testcase per check, with failures typed by class', () => {
    const doc = parse(renderJunit(firstCycleGateFailed()));
    expect(counts(doc)).toEqual({ tests: 6, failures: 2, errors: 0, skipped: 0 });
    const suites = doc.testsuite!;
    expect(suites.map((s) => [s['@_name'], counts(s)])).toEqual([
      ['chat-service.P0', { tests: 3, failures: 1, errors: 0, skipped: 0 }],
      ['chat-service.P1', { tests: 2, failures: 1, errors: 0, skipped: 0 }],
      ['chat-service.P2', { tests: 1, failures: 0, errors: 0, skipped: 0 }],
    ]);
    const agent = suites[0]!.testcase.find((t) => t['@_name'] === 'agent-pipeline')!;
    expect(agent['@_classname']).toBe('chat-service.P0');
    expect(agent['@_time']).toBe('0.131');
    expect(agent.failure!['@_type']).toBe('ws-1011-internal-error');
    expect(agent.failure!['@_message']).toContain('1011');
    expect(agent.failure!['#text']).toContain('Close code: 1011');
    expect(agent.failure!['#text']).toContain('Close reason: internal error');
    expect(agent.failure!['#text']).toContain('[ws] closing 1011: internal error');
    expect(suites.flatMap((s) => s.testcase).filter((t) => t.failure).map((t) => t['@_classname'])).toEqual([
      'chat-service.P0',
      'chat-service.P1',
    ]);
  });

  it('has no failures for a passing cycle', () => {
    expect(counts(parse(renderJunit(secondCyclePassed())))).toEqual({ tests: 6, failures: 0, errors: 0, skipped: 0 });
  });

  it.each([
    ['deploy', secondCycleDeployFailed()],
    ['deploy', withoutStageResults(secondCycleDeployFailed())],
    ['build', firstCycleBuildFailed()],
    ['build', withoutStageResults(firstCycleBuildFailed())],
  ])('turns a %s failure into one failing P0 testcase', (stage, rec) => {
    const doc = parse(renderJunit(rec));
    expect(counts(doc)).toEqual({ tests: 1, failures: 1, errors: 0, skipped: 0 });
    const [testcase] = doc.testsuite![0]!.testcase;
    expect(testcase!['@_name']).toBe(stage);
    expect(testcase!['@_classname']).toBe('chat-service.P0');
    expect(testcase!.failure!['@_type']).toBe(`${stage}-failure`);
    expect(testcase!.failure!['#text']).toContain('exit code 1');
  });

  it('writes a degraded check as a plain pass', () => {
    const rec = secondCyclePassed();
    rec.smoke.results.push(result({ name: 'slow-home', priority: 'P1', status: 'degraded', figures: { latencyMs: 900 } }));
    const doc = parse(renderJunit(rec));
    expect(counts(doc)).toEqual({ tests: 7, failures: 0, errors: 0, skipped: 0 });
    const slow = doc.testsuite!.flatMap((s) => s.testcase).find((t) => t['@_name'] === 'slow-home')!;
    expect(slow.failure).toBeUndefined();
    expect(slow.error).toBeUndefined();
  });

  it('marks skipped checks and keeps errors apart from failures', () => {
    const rec = interruptedCycle();
    rec.smoke.results.push(
      result({
        name: 'info',
        priority: 'P1',
        status: 'error',
        failure: { class: 'check-error', message: 'the check threw: socket hang up', evidence: {} },
      }),
    );
    const doc = parse(renderJunit(rec));
    expect(counts(doc)).toEqual({ tests: 3, failures: 0, errors: 1, skipped: 1 });
    const cases = doc.testsuite!.flatMap((s) => s.testcase);
    expect(cases.find((t) => t['@_name'] === 'agent-pipeline')!.skipped).toBeDefined();
    expect(cases.find((t) => t['@_name'] === 'info')!.error!['@_type']).toBe('check-error');
  });

  it('says why a check cut by an abortOnFail stop did not run', () => {
    const rec = stoppedByThreshold();
    const skippedName = rec.smoke.results.find((r) => r.status === 'skipped')!.name;
    const doc = parse(renderJunit(rec));
    expect(counts(doc).skipped).toBe(1);
    const skipped = doc.testsuite!.flatMap((s) => s.testcase).find((t) => t['@_name'] === skippedName)!;
    expect(skipped.skipped).toEqual({ '@_message': `not run: the smoke run stopped at ${stoppedEarlyText(rec.smoke.stoppedEarly!)}` });
  });

  it('escapes markup characters and makes control characters safe in names, attributes and text', () => {
    const rec = firstCycleGateFailed();
    const nasty = agentFailing();
    nasty.name = `a<b>&c"d'e`;
    nasty.failure!.message = 'line one\nline two\ttab <tag attr="x"> & \'q\' \u0001\u001b[31mred\u001b[0m \ud800 end';
    nasty.failure!.evidence.excerpt = ']]> <!-- not a comment --> \u0000\u0008\u000b\u000c\u001f\u007f';
    nasty.failure!.evidence.logTail = ['</failure></testcase>'];
    rec.smoke.results = [nasty];
    const xml = renderJunit(rec);
    const doc = parse(xml);
    expect(counts(doc)).toEqual({ tests: 1, failures: 1, errors: 0, skipped: 0 });
    const testcase = doc.testsuite![0]!.testcase[0]!;
    expect(testcase['@_name']).toBe(`a<b>&c"d'e`);
    // Control characters become visible escapes; ANSI colours are dropped; a lone surrogate is shown by code.
    expect(testcase.failure!['@_message']).toBe('line one\nline two\ttab <tag attr="x"> & \'q\' \\x01red \\ud800 end');
    const text = testcase.failure!['#text']!;
    expect(text).toContain(']]> <!-- not a comment --> \\x00\\x08\\x0b\\x0c\\x1f\\x7f');
    expect(text).toContain('</failure></testcase>');
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
  });

  it('masks authorization and cookie values', () => {
    const rec = firstCycleGateFailed();
    rec.smoke.results[2]!.failure!.evidence.logTail = ['Authorization: Bearer tok-live-123456', 'cookie=sid-s3cr3t-cookie'];
    const xml = renderJunit(rec);
    expect(xml).not.toContain('tok-live-123456');
    expect(xml).not.toContain('s3cr3t-cookie');
  });
});
