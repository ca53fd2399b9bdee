/**
 * Reads a JUnit XML report (as written by node:test, vitest, pytest, Playwright, surefire) into flat
 * test cases. Suites may nest, and node:test puts top-level tests straight under <testsuites>, so
 * the walk accepts test cases at any depth. Pure: text in, cases or one error message out.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';

export interface JUnitCase {
  /** Innermost enclosing suite names, outermost first ('' when the case sits under <testsuites>). */
  suite: string;
  name: string;
  classname?: string;
  file?: string;
  timeMs?: number;
  status: 'pass' | 'fail' | 'error' | 'skipped';
  /** From <failure>/<error>: the message attribute and the body text. */
  message?: string;
  body?: string;
}

export type JUnitImport = { ok: true; cases: JUnitCase[] } | { ok: false; error: string };

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  textNodeName: '#text',
  parseAttributeValue: false,
  parseTagValue: false,
  trimValues: false,
  // Always arrays, so one case and many cases take the same path.
  isArray: (name) => ['testsuite', 'testcase', 'failure', 'error', 'skipped'].includes(name),
});

function list(v: unknown): Node[] {
  return Array.isArray(v) ? (v.filter((x) => typeof x === 'object' && x !== null) as Node[]) : [];
}

function attr(n: Node, name: string): string | undefined {
  const v = n[`@${name}`];
  return typeof v === 'string' ? v : undefined;
}

function text(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'object' && v !== null) {
    const t = (v as Node)['#text'];
    if (typeof t === 'string') return t;
  }
  return undefined;
}

function toCase(tc: Node, suite: string): JUnitCase | undefined {
  const name = attr(tc, 'name');
  if (name === undefined) return undefined;
  const c: JUnitCase = { suite, name, status: 'pass' };
  const classname = attr(tc, 'classname');
  if (classname) c.classname = classname;
  const file = attr(tc, 'file');
  if (file) c.file = file;
  const time = Number(attr(tc, 'time'));
  if (Number.isFinite(time)) c.timeMs = Math.round(time * 1000);
  const failed = Array.isArray(tc.failure) && tc.failure.length > 0;
  const raw: unknown = failed ? (tc.failure as unknown[])[0] : Array.isArray(tc.error) ? (tc.error as unknown[])[0] : undefined;
  if (raw !== undefined) {
    c.status = failed ? 'fail' : 'error';
    const message = typeof raw === 'object' && raw !== null ? attr(raw as Node, 'message') : undefined;
    if (message) c.message = message;
    const body = text(raw)?.trim();
    if (body) c.body = body;
  } else if (Array.isArray(tc.skipped)) c.status = 'skipped';
  return c;
}

function walk(node: Node, suitePath: string[], out: JUnitCase[]): void {
  for (const tc of list(node.testcase)) {
    const c = toCase(tc, suitePath.join(' › '));
    if (c) out.push(c);
  }
  for (const s of list(node.testsuite)) walk(s, [...suitePath, attr(s, 'name') ?? ''].filter(Boolean), out);
}

export function parseJUnit(xml: string): JUnitImport {
  if (xml.trim() === '') return { ok: false, error: 'the JUnit file is empty' };
  const valid = XMLValidator.validate(xml);
  if (valid !== true) return { ok: false, error: `the JUnit file is not well-formed XML: ${valid.err.msg} (line ${valid.err.line})` };
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch (err) {
    return { ok: false, error: `the JUnit file could not be parsed: ${(err as Error).message}` };
  }
  const root = (doc.testsuites ?? undefined) as unknown;
  const top: Node | undefined =
    typeof root === 'object' && root !== null ? (root as Node) : doc.testsuite !== undefined ? doc : undefined;
  if (!top) return { ok: false, error: 'the file has no <testsuites> or <testsuite> element: it is not a JUnit report' };
  const cases: JUnitCase[] = [];
  walk(top, [], cases);
  return { ok: true, cases };
}
