/**
 * The bytes of a config file, before YAML sees them: bounded in size (so `-c /dev/zero` or a 50 MB
 * file is refused after reading at most the cap), decoded as UTF-8 with the encoding named when it
 * is not, and scanned for nesting deeper than the parser can follow. Each problem is a ConfigIssue
 * with line and column, never a stack trace.
 */
import { open } from 'node:fs/promises';
import type { ConfigIssue } from '../errors.js';

/** Raises the config size cap, in bytes. */
export const CONFIG_MAX_BYTES_ENV = 'DEPLOY_LOOP_CONFIG_MAX_BYTES';
/** 1 MiB: a config with thousands of checks is a few hundred KiB. */
export const DEFAULT_CONFIG_MAX_BYTES = 1024 * 1024;
/** Flow brackets or block indentation levels deeper than this are refused before parsing. */
export const MAX_NESTING = 64;

type Env = Record<string, string | undefined>;

export function configMaxBytes(env: Env): number {
  const raw = env[CONFIG_MAX_BYTES_ENV];
  const n = raw === undefined || raw === '' ? NaN : Number(raw);
  return Number.isSafeInteger(n) && n > 0 ? n : DEFAULT_CONFIG_MAX_BYTES;
}

function sizeText(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : n % 1024 === 0 ? `${n / 1024} KiB` : `${n} bytes`;
}

export type ReadResult = { ok: true; bytes: Buffer } | { ok: false; issue: Omit<ConfigIssue, 'file'>; hint?: string };

/**
 * Reads at most `max + 1` bytes, whatever the file is (a device, a FIFO, a huge file), so memory
 * stays bounded; one byte more than the cap says the file is too big.
 */
export async function readConfigBytes(path: string, env: Env): Promise<ReadResult> {
  const max = configMaxBytes(env);
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? String(err)})`;
    return { ok: false, issue: { field: '', message: why }, hint: 'pass --config PATH, or create loop.config.yaml (deploy-loop init writes a commented one)' };
  }
  try {
    const st = await fh.stat();
    if (st.isDirectory()) return { ok: false, issue: { field: '', message: 'is a folder, not a file; pass the config file (--config PATH/loop.config.yaml)' } };
    const tooBig = { ok: false as const, issue: { field: '', message: `the file is larger than ${sizeText(max)}, the limit for a config (set ${CONFIG_MAX_BYTES_ENV}=BYTES to raise it)` } };
    if (st.isFile() && st.size > max) return tooBig;
    const chunks: Buffer[] = [];
    let total = 0;
    while (total <= max) {
      const buf = Buffer.alloc(Math.min(64 * 1024, max + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    if (total > max) return tooBig;
    return { ok: true, bytes: Buffer.concat(chunks, total) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { ok: false, issue: { field: '', message: `cannot read file (${code ?? String(err)})` } };
  } finally {
    await fh.close();
  }
}

/** Line and column (1-based) of a character offset. */
export function positionOf(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    start = i + 1;
  }
  return { line, column: offset - start + 1 };
}

/** The byte offset of the first invalid UTF-8 sequence, or -1. */
function invalidUtf8At(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i] as number;
    const need = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (need < 0) return i;
    for (let k = 1; k <= need; k++) if (((b[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    // Overlong forms, surrogates and values past U+10FFFF.
    const c1 = b[i + 1] ?? 0;
    if ((c === 0xe0 && c1 < 0xa0) || (c === 0xed && c1 > 0x9f) || (c === 0xf0 && c1 < 0x90) || (c === 0xf4 && c1 > 0x8f)) return i;
    i += need + 1;
  }
  return -1;
}

export type DecodeResult = { ok: true; text: string } | { ok: false; issue: Omit<ConfigIssue, 'file'> };

const SAVE_AS_UTF8 = 'save the file as UTF-8';

/** UTF-8 text of the file, or the reason it is not (another encoding, NUL bytes, control characters, binary). */
export function decodeConfigText(bytes: Uint8Array): DecodeResult {
  const fail = (message: string, at?: { line: number; column: number }): DecodeResult => ({ ok: false, issue: { field: '', ...(at ?? {}), message } });
  const [b0, b1, b2, b3] = [bytes[0], bytes[1], bytes[2], bytes[3]];
  if (b0 === 0x00 && b1 === 0x00 && b2 === 0xfe && b3 === 0xff) return fail(`the file is UTF-32 BE (it starts with the byte order mark 00 00 FE FF); ${SAVE_AS_UTF8}`);
  if (b0 === 0xff && b1 === 0xfe && b2 === 0x00 && b3 === 0x00) return fail(`the file is UTF-32 LE (it starts with the byte order mark FF FE 00 00); ${SAVE_AS_UTF8}`);
  if (b0 === 0xff && b1 === 0xfe) return fail(`the file is UTF-16 LE (it starts with the byte order mark FF FE); ${SAVE_AS_UTF8}`);
  if (b0 === 0xfe && b1 === 0xff) return fail(`the file is UTF-16 BE (it starts with the byte order mark FE FF); ${SAVE_AS_UTF8}`);
  // UTF-16 without a mark: ASCII text with a zero byte beside every character.
  if (bytes.length >= 4 && b0 !== 0 && b1 === 0 && b2 !== 0 && b3 === 0) return fail(`the file looks like UTF-16 LE (every other byte is zero); ${SAVE_AS_UTF8}`);
  if (bytes.length >= 4 && b0 === 0 && b1 !== 0 && b2 === 0 && b3 !== 0) return fail(`the file looks like UTF-16 BE (every other byte is zero); ${SAVE_AS_UTF8}`);
  const body = b0 === 0xef && b1 === 0xbb && b2 === 0xbf ? bytes.subarray(3) : bytes;
  const bad = invalidUtf8At(body);
  if (bad >= 0) {
    const before = Buffer.from(body.subarray(0, bad)).toString('utf8');
    const hex = Buffer.from(body.subarray(bad, bad + 1)).toString('hex').toUpperCase();
    return fail(`not valid UTF-8: byte 0x${hex} at offset ${bad}; ${SAVE_AS_UTF8} (is this a binary file?)`, positionOf(before, before.length));
  }
  const text = Buffer.from(body).toString('utf8');
  // YAML allows tab, LF and CR among the C0 controls; anything else (NUL, ESC) is not text.
  const control = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.exec(text);
  if (control) {
    const code = control[0].charCodeAt(0);
    const name = code === 0 ? 'a NUL byte' : `the control character U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
    return fail(`${name}: YAML text cannot hold it (is this a binary file? in a value, write it as an escape in a double-quoted string)`, positionOf(text, control.index));
  }
  return { ok: true, text };
}

/**
 * Refuses nesting deeper than MAX_NESTING before the YAML parser, whose recursion would otherwise
 * run out of stack (slowly, for a megabyte of `[`). Counts flow brackets outside quotes and
 * comments, and block levels by indentation (each leading `- ` is a level).
 */
export function nestingIssue(text: string): Omit<ConfigIssue, 'file'> | undefined {
  const tooDeep = (offset: number) => ({
    field: '',
    ...positionOf(text, offset),
    message: `nesting deeper than ${MAX_NESTING} levels; a deploy-loop config needs fewer than 10 (is this file generated?)`,
  });
  let depth = 0;
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (quote === '"' && ch === '\\') i++;
      else if (ch === quote) quote = undefined;
      else if (ch === '\n' && depth === 0) quote = undefined;
      continue;
    }
    if (ch === '"' || ch === "'") {
      const prev = text[i - 1];
      if (depth > 0 || prev === undefined || /[\s:[{,-]/.test(prev)) quote = ch;
    } else if (ch === '#' && (i === 0 || /\s/.test(text[i - 1] ?? ''))) {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? text.length : eol - 1;
    } else if (ch === '[' || ch === '{') {
      if (++depth > MAX_NESTING) return tooDeep(i);
    } else if ((ch === ']' || ch === '}') && depth > 0) depth--;
  }
  const indents: number[] = [];
  let offset = 0;
  for (const line of text.split('\n')) {
    const m = /^( *)((?:- +)*)(.*)$/.exec(line);
    const rest = m?.[3] ?? '';
    if (m && rest !== '' && !rest.startsWith('#')) {
      const indent = (m[1] ?? '').length;
      while (indents.length > 0 && (indents.at(-1) as number) >= indent) indents.pop();
      indents.push(indent);
      const dashes = (m[2] ?? '').split('-').length - 1;
      if (indents.length + dashes > MAX_NESTING) return tooDeep(offset + indent);
    }
    offset += line.length + 1;
  }
  return undefined;
}
