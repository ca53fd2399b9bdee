import { describe, expect, it } from 'vitest';
import {
  cleanText,
  escapeText,
  fence,
  formatCommand,
  formatMs,
  formatPercent,
  inlineCode,
  renderTable,
} from '../../src/report/format.js';
import { REDACTED, redactDeep, redactText } from '../../src/redact.js';
import { firstCodeSpan, readFences, readTables, unescapeMarkdown } from './report-markdown-reader.js';

describe('formatMs and formatPercent', () => {
  it.each([
    [undefined, '—'],
    [0.42, '0.4 ms'],
    [3, '3 ms'],
    [118.4, '118 ms'],
    [1234, '1.23 s'],
    [10_012, '10 s'],
    [41_250, '41.3 s'],
    [125_000, '2 min 5 s'],
  ])('formatMs(%s) is %s', (ms, text) => {
    expect(formatMs(ms)).toBe(text);
  });

  it.each([
    [null, '—'],
    [100, '100%'],
    [66.7, '66.7%'],
    [66.666, '66.7%'],
    [0, '0%'],
  ])('formatPercent(%s) is %s', (p, text) => {
    expect(formatPercent(p)).toBe(text);
  });
});

describe('text that cannot break the markdown around it', () => {
  const nasty = [
    'plain',
    'one ` backtick',
    '``double`` and ```triple``` runs',
    '`starts and ends with a backtick`',
    ' spaced on both ends ',
    'pipe | inside',
    'back\\slash and \\| escaped pipe',
  ];

  it.each(nasty)('inlineCode round-trips %j', (text) => {
    expect(firstCodeSpan(`before ${inlineCode(text)} after`)).toBe(text);
  });

  it('fence keeps content with backtick and tilde fences inside one block', () => {
    const content = 'a\n```\n## Next steps\n````js\n~~~\nend';
    const md = `${fence(content)}\n\n## After`;
    const { blocks, outside } = readFences(md);
    expect(blocks).toEqual([{ info: 'text', content }]);
    expect(outside).toContain('## After');
    expect(outside).not.toContain('## Next steps');
  });

  it('renderTable keeps every row at the header width whatever the cells hold', () => {
    const rows = nasty.map((t) => [escapeText(t), inlineCode(t)]);
    const md = renderTable(['Text', 'Code'], rows);
    const [table] = readTables(md);
    expect(table!.header).toEqual(['Text', 'Code']);
    expect(table!.rows).toHaveLength(nasty.length);
    table!.rows.forEach((cells, i) => {
      expect(cells).toHaveLength(2);
      expect(unescapeMarkdown(cells[0]!)).toBe(nasty[i]!.trim());
      expect(firstCodeSpan(cells[1]!)).toBe(nasty[i]);
    });
  });

  it('escapeText neutralises emphasis, links and raw HTML and collapses lines', () => {
    const text = '*bold* _it_ [link](http://x) <script>alert(1)</script> a & b\nsecond line';
    const escaped = escapeText(text);
    expect(escaped).not.toMatch(/(^|[^\\])[<*_[]/);
    expect(escaped).not.toContain('\n');
    expect(unescapeMarkdown(escaped)).toBe(text.replace('\n', ' '));
  });

  it('escapeText escapes a leading heading or list marker', () => {
    expect(escapeText('# not a heading')).toBe('\\# not a heading');
    expect(escapeText('- not a list')).toBe('\\- not a list');
  });

  it('cleanText drops ANSI colours, normalises CR and shows other control characters', () => {
    expect(cleanText('\u001b[31mred\u001b[0m\r\nnext\rover\u0007bell')).toBe('red\nnext\nover\\x07bell');
  });

  it('formatCommand quotes only arguments that need it', () => {
    expect(formatCommand(['node', 'fix.mjs', '--note', "it's done", 'a b'])).toBe(`node fix.mjs --note 'it'\\''s done' 'a b'`);
  });
});

describe('redaction of authorization and cookie values', () => {
  it.each([
    ['Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc', 'eyJhbGciOiJIUzI1NiJ9'],
    ['{"authorization":"Bearer tok-123456","ok":true}', 'tok-123456'],
    ['{\\"Cookie\\":\\"session=s3cr3t\\"}', 's3cr3t'],
    ["cookie: session=s3cr3t; theme=dark", 's3cr3t'],
    ['set-cookie=sid=abc123xyz; Path=/', 'abc123xyz'],
    ['proxy-authorization = Basic dXNlcjpwYXNzd29yZA==', 'dXNlcjpwYXNzd29yZA'],
    ['sent Bearer ya29.a0AfH6SMBx to the API', 'ya29.a0AfH6SMBx'],
  ])('masks the value in %j', (text, secret) => {
    const out = redactText(text);
    expect(out).not.toContain(secret);
    expect(out).toContain(REDACTED);
  });

  it('keeps JSON around a masked value intact', () => {
    expect(JSON.parse(redactText('{"authorization":"Bearer tok-123456","ok":true}'))).toEqual({
      authorization: REDACTED,
      ok: true,
    });
  });

  it.each(['authorization failed for user 7', 'Basic authentication required', 'cookie banner shown'])(
    'leaves prose alone: %j',
    (text) => {
      expect(redactText(text)).toBe(text);
    },
  );

  it('redactDeep redacts every string, keeps keys such as a check named authorization, and leaves the input alone', () => {
    const input = { checkLocations: { authorization: 'loop.config.yaml:9' }, lines: ['Cookie: a=1'], n: 3 };
    const copy = structuredClone(input);
    expect(redactDeep(input)).toEqual({ checkLocations: { authorization: 'loop.config.yaml:9' }, lines: [`Cookie: ${REDACTED}`], n: 3 });
    expect(input).toEqual(copy);
  });
});
