/**
 * What `smoke`, `cycle` and `run` print on stdout: one line per check (the failures with their
 * one-line reason), the gate, the verdict and where the reports are. Pure: text in, text out.
 */
import { isAbsolute, relative } from 'node:path';
import type { CheckResult } from '../model/check-result.js';
import type { CycleRecord, GateVerdict } from '../model/record.js';
import type { PublishedCycle } from '../model/run-outcome.js';
import { cleanText } from '../report/format.js';

export interface RenderOptions {
  /** Failures, warnings (degraded checks) and the verdict only. */
  quiet?: boolean;
}

/** A reason longer than this is cut: the report has the whole of it. */
const REASON_MAX = 200;

/** Text from the service under test, made safe for a terminal and kept to one line. */
export function terminalText(text: string, max = REASON_MAX): string {
  const line = cleanText(text).replace(/\s*\n\s*/g, ' ').trim();
  const chars = [...line];
  return chars.length > max ? `${chars.slice(0, max - 1).join('')}…` : line;
}

/** `pass  P0 health (12 ms)` · `fail  P0 agent (40 ms)  ws-1011-internal-error: closed 1011 …` */
export function renderResultLine(r: CheckResult): string {
  const fig = r.figures.latencyMs ?? r.figures.connectMs;
  const detail = r.failure ? `  ${r.failure.class}: ${terminalText(r.failure.message)}` : '';
  return `${r.status.padEnd(5)} ${r.priority} ${terminalText(r.name, 120)}${fig !== undefined ? ` (${fig} ms)` : ''}${detail}`;
}

function shown(r: CheckResult, quiet: boolean): boolean {
  return !quiet || r.status === 'fail' || r.status === 'error' || r.status === 'degraded';
}

export function renderResultLines(results: readonly CheckResult[], opts: RenderOptions = {}): string {
  return results
    .filter((r) => shown(r, opts.quiet === true))
    .map((r) => `${renderResultLine(r)}\n`)
    .join('');
}

export function renderGateLine(gate: GateVerdict): string {
  return `gate: ${gate.passed ? 'passed' : `failed: ${gate.reasons.map((r) => terminalText(r, 400)).join('; ')}`}\n`;
}

/** A path as a person at this terminal would type it: relative to `cwd` when it is inside. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/**
 * The end of one cycle: its checks, the gate, then `cycle N: VERDICT  report.md` and the other
 * reports. The verdict line keeps the form tools already read (`cycle 2: passed  …`).
 */
export function renderCycleEnd(record: CycleRecord, published: PublishedCycle, cwd: string, opts: RenderOptions = {}): string {
  const quiet = opts.quiet === true;
  let out = renderResultLines(record.smoke.results, opts);
  if (!quiet || !record.gate.passed) out += renderGateLine(record.gate);
  out += `cycle ${record.cycle}: ${record.verdict}  ${displayPath(published.markdown, cwd)}\n`;
  if (!quiet) {
    const others = [published.json, published.junit, published.summary].map((p) => displayPath(p, cwd));
    out += `reports: ${others.join(' ')}\n`;
  }
  return out;
}
