/**
 * Minimal readers of the markdown the report renderers write, following the GFM/CommonMark rules
 * they rely on (fences, table rows, code spans, backslash escapes), so tests can check structure
 * instead of substrings.
 */
export interface FencedBlock {
  info: string;
  content: string;
}

/** Splits markdown into the lines outside fenced code blocks and the blocks themselves. */
export function readFences(md: string): { outside: string[]; blocks: FencedBlock[] } {
  const outside: string[] = [];
  const blocks: FencedBlock[] = [];
  let open: { char: string; length: number; info: string; lines: string[] } | undefined;
  for (const line of md.split('\n')) {
    if (open === undefined) {
      const m = /^(`{3,}|~{3,})(.*)$/.exec(line);
      if (m) open = { char: m[1]![0]!, length: m[1]!.length, info: m[2]!.trim(), lines: [] };
      else outside.push(line);
      continue;
    }
    const close = /^(`+|~+)\s*$/.exec(line);
    if (close && close[1]![0] === open.char && close[1]!.length >= open.length) {
      blocks.push({ info: open.info, content: open.lines.join('\n') });
      open = undefined;
    } else open.lines.push(line);
  }
  if (open) throw new Error(`unclosed fence ${open.char.repeat(open.length)}`);
  return { outside, blocks };
}

/** Cells of a table row as GitHub splits them: only `\|` escapes a pipe, then it is unescaped. */
export function splitRow(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  const body = line.trim().replace(/^\|/, '');
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && body[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (c === '|') {
      cells.push(cell.trim());
      cell = '';
    } else cell += c;
  }
  if (cell.trim() !== '') cells.push(cell.trim());
  return cells;
}

/** The text of plain markdown with its backslash escapes undone. */
export function unescapeMarkdown(text: string): string {
  return text.replace(/\\([!-/:-@[-`{-~])/g, '$1');
}

/** The content of the first code span in `text` per CommonMark (equal-length backtick runs). */
export function firstCodeSpan(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') {
      i++;
      continue;
    }
    if (text[i] !== '`') continue;
    let n = 0;
    while (text[i + n] === '`') n++;
    for (let j = i + n; j < text.length; j++) {
      if (text[j] !== '`') continue;
      let m = 0;
      while (text[j + m] === '`') m++;
      if (m === n) {
        const raw = text.slice(i + n, j);
        return raw.startsWith(' ') && raw.endsWith(' ') && raw.trim() !== '' ? raw.slice(1, -1) : raw;
      }
      j += m - 1;
    }
    return undefined;
  }
  return undefined;
}

/** The tables of a markdown document (outside fences): header cells and body rows. */
export function readTables(md: string): { header: string[]; rows: string[][] }[] {
  const lines = readFences(md).outside;
  const tables: { header: string[]; rows: string[][] }[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i]!.startsWith('|') || !/^\|( ?-+:? \|)+$/.test(lines[i + 1]!)) continue;
    const table = { header: splitRow(lines[i]!), rows: [] as string[][] };
    let j = i + 2;
    for (; j < lines.length && lines[j]!.startsWith('|'); j++) table.rows.push(splitRow(lines[j]!));
    tables.push(table);
    i = j;
  }
  return tables;
}

/** `## ` and `### ` headings outside fences, in order. */
export function headings(md: string): string[] {
  return readFences(md).outside.filter((l) => /^#{1,3} /.test(l));
}

/** The lines of the section that starts with `heading` up to the next heading of the same or higher level. */
export function section(md: string, heading: string): string {
  const lines = md.split('\n');
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no heading ${heading}`);
  const level = /^#+/.exec(heading)![0].length;
  let end = start + 1;
  while (end < lines.length && !new RegExp(`^#{1,${level}} `).test(lines[end]!)) end++;
  return lines.slice(start, end).join('\n');
}
