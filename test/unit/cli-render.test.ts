/** What smoke, cycle and run print on stdout, and the terminal's colour and progress decisions. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { renderCycleEnd, renderResultLines, terminalText } from '../../src/cli/render.js';
import { colorEnabled } from '../../src/log.js';
import { Progress } from '../../src/progress.js';
import { firstCycleGateFailed, secondCyclePassed } from './report-fixtures.js';

const published = (n: number) => ({
  markdown: `/work/p/reports/cycle-00${n}.md`,
  json: `/work/p/reports/cycle-00${n}.json`,
  junit: `/work/p/reports/cycle-00${n}.junit.xml`,
  record: `/work/p/reports/history/cycle-00${n}.json`,
  summary: '/work/p/reports/summary.md',
});

describe('end of a cycle', () => {
  it('lists every check, the failures with their reason, then the gate, the verdict and the reports', () => {
    const rec = firstCycleGateFailed();
    const out = renderCycleEnd(rec, published(1), '/work/p').split('\n');
    const failing = rec.smoke.results.filter((r) => r.status === 'fail');
    expect(failing.length).toBeGreaterThan(0);
    expect(out.filter((l) => /^(pass|fail|error|skipped|degraded) /.test(l))).toHaveLength(rec.smoke.results.length);
    for (const f of failing) {
      const line = out.find((l) => l.startsWith('fail ') && l.includes(` ${f.name}`));
      expect(line, f.name).toContain(`${f.failure?.class}: `);
    }
    expect(out).toContain(`cycle ${rec.cycle}: gate-failed  reports/cycle-001.md`);
    expect(out.find((l) => l.startsWith('gate: failed: '))).toContain(rec.gate.reasons[0]);
    expect(out).toContain('reports: reports/cycle-001.json reports/cycle-001.junit.xml reports/summary.md');
    // The verdict comes after the list.
    expect(out.findIndex((l) => l.startsWith('cycle '))).toBeGreaterThan(out.findIndex((l) => l.startsWith('fail ')));
  });

  it('--quiet keeps the failures, the gate and the verdict', () => {
    const rec = firstCycleGateFailed();
    const out = renderCycleEnd(rec, published(1), '/work/p', { quiet: true });
    expect(out).not.toMatch(/^pass /m);
    expect(out).toMatch(/^fail /m);
    expect(out).toMatch(/^gate: failed: /m);
    expect(out).toMatch(/^cycle 1: gate-failed {2}reports\/cycle-001\.md$/m);
    expect(out).not.toContain('reports: ');
    const passed = renderCycleEnd(secondCyclePassed(), published(2), '/work/p', { quiet: true });
    expect(passed).toBe('cycle 2: passed  reports/cycle-002.md\n');
  });

  it('keeps a path outside the working folder absolute', () => {
    expect(renderCycleEnd(secondCyclePassed(), published(2), '/elsewhere')).toContain('cycle 2: passed  /work/p/reports/cycle-002.md');
  });

  it("never passes the service's escape sequences or newlines to the terminal", () => {
    const rec = firstCycleGateFailed();
    const bad = structuredClone(rec.smoke.results.find((r) => r.failure)!);
    bad.failure!.message = 'closed \u001b[31mred\u001b[0m\nsecond line \u0007bell';
    const out = renderResultLines([bad]);
    expect(out).not.toContain('\u001b');
    expect(out).not.toContain('\u0007');
    expect(out.split('\n').filter(Boolean)).toHaveLength(1);
    expect(out).toContain('closed red second line \\x07bell');
    expect([...terminalText('x'.repeat(500))]).toHaveLength(200);
  });
});

describe('colour', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  const cases: { what: string; noColor?: boolean; env: Record<string, string>; stream: { isTTY: boolean }; on: boolean }[] = [
    { what: 'a terminal', env: {}, stream: tty, on: true },
    { what: 'a pipe', env: {}, stream: pipe, on: false },
    { what: 'NO_COLOR on a terminal', env: { NO_COLOR: '1' }, stream: tty, on: false },
    { what: 'an empty NO_COLOR (no-color.org: ignored)', env: { NO_COLOR: '' }, stream: tty, on: true },
    { what: '--no-color', noColor: true, env: {}, stream: tty, on: false },
    { what: '--no-color over FORCE_COLOR', noColor: true, env: { FORCE_COLOR: '1' }, stream: tty, on: false },
    { what: 'FORCE_COLOR into a pipe', env: { FORCE_COLOR: '1' }, stream: pipe, on: true },
    { what: 'FORCE_COLOR=0 on a terminal', env: { FORCE_COLOR: '0' }, stream: tty, on: false },
    { what: 'NO_COLOR over FORCE_COLOR', env: { NO_COLOR: '1', FORCE_COLOR: '1' }, stream: tty, on: false },
    { what: 'TERM=dumb', env: { TERM: 'dumb' }, stream: tty, on: false },
  ];
  for (const c of cases) {
    it(`${c.what}: ${c.on ? 'on' : 'off'}`, () => expect(colorEnabled({ noColor: c.noColor, env: c.env, stream: c.stream })).toBe(c.on));
  }
});

class Capture extends Writable {
  text = '';
  columns = 120;
  isTTY = true;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

describe('progress line', () => {
  it('shows N/M checks done during a smoke run', () => {
    const out = new Capture();
    const p = new Progress(out as unknown as NodeJS.WriteStream);
    p.stage('cycle 1 · smoke 4 checks against tiny-00001-abc');
    p.checks(3, 4);
    expect(p.line()).toMatch(/cycle 1 · smoke 4 checks against tiny-00001-abc · 3\/4 checks · \d+\.\ds$/);
    p.stage('cycle 1 · promote');
    expect(p.line()).not.toContain('checks ·');
    p.stop();
  });

  it('without ANSI (NO_COLOR) overwrites the line with spaces and writes no escape sequence', () => {
    const out = new Capture();
    const p = new Progress(out as unknown as NodeJS.WriteStream, { ansi: false });
    p.stage('a long stage text that is drawn first');
    p.stage('short');
    p.clear();
    p.stop();
    expect(out.text).not.toContain('\u001b');
    // The shorter line is padded over the longer one before the clear.
    const segments = out.text.split('\r').filter(Boolean);
    const lens = segments.map((s) => [...s].length);
    expect(Math.min(...lens.slice(1))).toBeGreaterThanOrEqual(lens[0]!);
  });

  it('with ANSI clears with an erase sequence', () => {
    const out = new Capture();
    const p = new Progress(out as unknown as NodeJS.WriteStream);
    p.stage('x');
    p.stop();
    expect(out.text).toContain('\r\u001b[K');
  });
});
