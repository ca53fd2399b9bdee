/**
 * renderCycleReports (one summary for the three formats) writes exactly what the three renderers
 * write one by one, for every report scenario and for text that needs escaping in each format
 * (markdown punctuation, table pipes, XML specials, control characters, a secret to redact), so
 * the faster path cannot drift from the reference one. The fast paths of the escapers are pinned
 * against text that must not take them.
 */
import { describe, expect, it } from 'vitest';
import { renderCycleReports } from '../../src/report/cycle-reports.js';
import { cleanText, escapeText, renderTable } from '../../src/report/format.js';
import { renderCycleJson } from '../../src/report/json.js';
import { renderJunit, xmlAttr, xmlText } from '../../src/report/junit.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { REPORT_SCENARIOS, firstCycleGateFailed, secondCyclePassed } from './report-fixtures.js';

function separately(current: Parameters<typeof renderCycleReports>[0], history: Parameters<typeof renderCycleReports>[1]) {
  return {
    markdown: renderCycleMarkdown(current, history),
    json: `${JSON.stringify(renderCycleJson(current, history), null, 2)}\n`,
    junit: renderJunit(current),
  };
}

describe('renderCycleReports', () => {
  it.each(REPORT_SCENARIOS)('%s: the same three reports as the renderers one by one', (_name, scenario) => {
    const [current, history] = scenario();
    expect(renderCycleReports(current, history)).toEqual(separately(current, history));
  });

  it('the same with text every format must escape, and a credential every format must redact', () => {
    const history = [firstCycleGateFailed()];
    const current = secondCyclePassed();
    const hostile = 'a|b_*<x>&"q\'`~ line\r\nnext\u001b[31mred\u001b[0m\ttab Authorization: Bearer abcdef123456';
    const first = current.smoke.results[0]!;
    current.smoke.results[0] = { ...first, name: `-${hostile}`, status: 'fail', failure: { class: 'assertion', message: hostile, evidence: { excerpt: hostile } } };
    const one = renderCycleReports(current, history);
    expect(one).toEqual(separately(current, history));
    for (const text of Object.values(one)) expect(text).not.toContain('abcdef123456');
  });
});

describe('the escapers keep their output on the fast path', () => {
  it('plain text comes back unchanged; text with anything to escape does not', () => {
    for (const plain of ['http-check-12', 'P0', 'GET /items/3: 200 in 12 ms', '']) {
      expect(cleanText(plain)).toBe(plain);
      expect(escapeText(plain)).toBe(plain);
      expect(xmlText(plain)).toBe(plain);
      expect(xmlAttr(plain)).toBe(plain);
    }
    expect(cleanText('a\rb\u0007')).toBe('a\nb\\x07');
    expect(escapeText('-lead')).toBe('\\-lead');
    expect(escapeText('a_b')).toBe('a\\_b');
    expect(escapeText('a\n  b')).toBe('a b');
    expect(xmlText('a&b<c>"\'')).toBe('a&amp;b&lt;c&gt;"\'');
    expect(xmlAttr('a"b\'c\nd\te')).toBe('a&quot;b&apos;c&#10;d&#9;e');
    expect(xmlText('bell\u0007')).toBe('bell\\x07');
    expect(renderTable(['h'], [['a|b'], ['c\nd'], [' e ']])).toBe('| h |\n| --- |\n| a\\|b |\n| c d |\n| e |');
  });
});
