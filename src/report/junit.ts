/**
 * JUnit XML for CI: one testsuite per priority, one testcase per check (classname
 * `service.priority`). A failed build or deploy is a failing P0 testcase, so CI never sees a green
 * empty report for a cycle that deployed nothing.
 */
import { passedOnRetry } from './flaky.js';
import type { CycleRecord } from '../model/record.js';
import { stoppedEarlyText } from '../model/thresholds.js';
import { PRIORITIES, isPassing, type CheckResult, type Evidence } from '../model/check-result.js';
import { cleanText } from './format.js';
import { logLabelText } from './markdown-checks.js';
import { isFailing, stageResults } from './outcomes.js';
import { redactDeep } from '../redact.js';

export function renderJunit(current: CycleRecord): string {
  return renderRedactedJunit(redactDeep(current));
}

/** The same, for a record already redacted (summarizeCycle's `record`): redacting it again costs as much as the rest. */
export function renderRedactedJunit(r: CycleRecord): string {
  const all = [...stageResults(r).filter((x) => isFailing(x.status)), ...r.smoke.results];
  const suites = PRIORITIES.map((p) => ({ priority: p, cases: all.filter((x) => x.priority === p) })).filter(
    (s) => s.cases.length > 0,
  );
  const totals = countOf(all);
  // Checks cut by an abortOnFail stop say why they did not run.
  const stop = r.smoke.stoppedEarly;
  const skippedWhy = stop ? `not run: the smoke run stopped at ${stoppedEarlyText(stop)}` : undefined;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites${attrs({ name: `${r.service} cycle ${r.cycle}`, ...totals, time: seconds(r.durations.totalMs) })}>`,
  ];
  for (const suite of suites) {
    const classname = `${r.service}.${suite.priority}`;
    const time = suite.cases.reduce((sum, x) => sum + x.durationMs, 0);
    lines.push(
      `  <testsuite${attrs({ name: classname, ...countOf(suite.cases), time: seconds(time), timestamp: r.startedAt })}>`,
      '    <properties>',
      ...Object.entries({ runId: r.runId, cycle: String(r.cycle), verdict: r.verdict, revision: r.deploy.revision ?? '' })
        .filter(([, value]) => value !== '')
        .map(([name, value]) => `      <property${attrs({ name, value })}/>`),
      '    </properties>',
      ...suite.cases.map((x) => renderCase(x, classname, r.checkLocations[x.name], skippedWhy)),
      '  </testsuite>',
    );
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}

function renderCase(x: CheckResult, classname: string, location: string | undefined, skippedWhy: string | undefined): string {
  // `file` and `line` as Surefire, pytest and GitHub's test reporters read them: the check in the config.
  const open = `    <testcase${attrs({ name: x.name, classname, time: seconds(x.durationMs), ...fileAndLine(location) })}`;
  if (isPassing(x.status) && passedOnRetry(x)) {
    // Surefire's convention for a pass after failed reruns; readers that do not know it still see a pass.
    const first = x.attemptLog?.find((at) => at.status === 'fail' || at.status === 'error');
    const message = `flaky: passed on attempt ${x.attempts} after ${first?.failure?.message ?? 'a failed attempt'}`;
    return `${open}>\n      <flakyFailure${attrs({ message, type: first?.failure?.class ?? 'check-error' })}/>\n      <system-out>${xmlText(message)}</system-out>\n    </testcase>`;
  }
  if (isPassing(x.status)) return `${open}/>`;
  if (x.status === 'skipped') {
    const message = x.failure?.message ?? skippedWhy;
    return `${open}>\n      <skipped${message ? attrs({ message }) : ''}/>\n    </testcase>`;
  }
  // `error` means the check could not run to a verdict; JUnit keeps that apart from a failed assertion.
  const element = x.status === 'error' ? 'error' : 'failure';
  const type = x.failure?.class ?? 'check-error';
  const message = x.failure?.message ?? `the check ended with status ${x.status}`;
  const body = failureText(message, x.failure?.evidence ?? {}, x.attempts, location);
  return `${open}>\n      <${element}${attrs({ message, type })}>${xmlText(body)}</${element}>\n    </testcase>`;
}

/** `loop.config.yaml:54` → file and line; a location without a line gives the file alone. */
export function fileAndLine(location: string | undefined): { file?: string; line?: number } {
  if (location === undefined || location === '') return {};
  const m = /^(.*):(\d+)$/.exec(location);
  return m ? { file: m[1]!, line: Number(m[2]) } : { file: location };
}

function failureText(message: string, e: Evidence, attempts: number, location: string | undefined): string {
  const lines = [message];
  if (location) lines.push(`Config: ${location}`);
  lines.push(`Attempts: ${attempts}`);
  if (e.status !== undefined) lines.push(`HTTP status: ${e.status}`);
  if (e.closeCode !== undefined) lines.push(`Close code: ${e.closeCode}`);
  if (e.closeReason !== undefined) lines.push(`Close reason: ${e.closeReason}`);
  if (e.step !== undefined) lines.push(`Script step: ${e.step}`);
  if (e.connection !== undefined) lines.push(`Connection: ${e.connection}`);
  if (e.expected !== undefined) lines.push(`Expected: ${e.expected}`);
  if (e.actual !== undefined) lines.push(`Actual: ${e.actual}`);
  if (e.excerpt) lines.push('Excerpt:', e.excerpt);
  if (e.logTail && e.logTail.length > 0) lines.push(`${logLabelText(e)}:`, ...e.logTail);
  return lines.join('\n');
}

function countOf(cases: CheckResult[]): { tests: number; failures: number; errors: number; skipped: number } {
  return {
    tests: cases.length,
    failures: cases.filter((x) => x.status === 'fail').length,
    errors: cases.filter((x) => x.status === 'error').length,
    skipped: cases.filter((x) => x.status === 'skipped').length,
  };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

function attrs(values: Record<string, string | number | undefined>): string {
  // A loop, not entries/filter/map/join: this runs for every testcase.
  let out = '';
  for (const k in values) {
    const v = values[k];
    if (v !== undefined) out += ` ${k}="${xmlAttr(String(v))}"`;
  }
  return out;
}

// XML 1.0 forbids most control characters even as character references, and lone surrogates;
// they are shown as `\xNN` / `\uXXXX` text instead so the document stays well-formed.
const NOT_XML_CHAR = /[^\t\n\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

function xmlSafe(text: string): string {
  return cleanText(text).replace(NOT_XML_CHAR, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// Printable ASCII that needs no reference (text: no & < >; attributes: no " ' either, nor tab or
// newline): most names and values, returned as they are instead of through seven replaces.
const PLAIN_TEXT = /^[\t\n\u0020-\u0025\u0027-\u003b\u003d\u003f-\u007e]*$/;
const PLAIN_ATTR = /^[\u0020\u0021\u0023-\u0025\u0028-\u003b\u003d\u003f-\u007e]*$/;

export function xmlText(text: string): string {
  if (PLAIN_TEXT.test(text)) return text;
  return xmlSafe(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function xmlAttr(text: string): string {
  if (PLAIN_ATTR.test(text)) return text;
  // Newlines and tabs in attributes are normalised to spaces by parsers unless written as references.
  return xmlText(text).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}
