/** summary.md's mermaid charts: each priority told apart, and a cycle without a check of it left out rather than drawn at 0%. */
import { describe, expect, it } from 'vitest';
import { renderTrend } from '../../src/report/trend.js';
import { firstCycleGateFailed, secondCycleDeployFailed, thirdCyclePassedAfterDeployFailure } from './report-fixtures.js';
import { readFences, section } from './report-markdown-reader.js';

const charts = (md: string) => readFences(section(md, '## Pass rate')).blocks.filter((b) => b.info === 'mermaid').map((b) => b.content.split('\n'));

describe('summary.md pass-rate charts', () => {
  const md = renderTrend([firstCycleGateFailed(), secondCycleDeployFailed(), thirdCyclePassedAfterDeployFailure()]);

  it('draws one chart per priority, titled with it', () => {
    const titles = charts(md).map((lines) => lines.find((l) => l.includes('title')));
    expect(titles).toEqual(['  title "P0 pass rate (%)"', '  title "P1 pass rate (%)"', '  title "P2 pass rate (%)"']);
    expect(md).toMatch(/### P0[\s\S]*### P1[\s\S]*### P2/);
    for (const lines of charts(md)) expect(lines.filter((l) => l.startsWith('  line ')).length).toBe(1);
  });

  it('leaves out a cycle with no check of a priority instead of drawing it at 0%', () => {
    const [p0, p1] = charts(md);
    // Cycle 2's deploy failed: its P0 deploy check counts (0% is measured), but it ran no P1 check.
    expect(p0).toContain('  x-axis "Cycle" ["1", "2", "3"]');
    expect(p0).toContain('  line [66.7, 0, 100]');
    expect(p1).toContain('  x-axis "Cycle" ["1", "3"]');
    expect(p1).toContain('  line [50, 100]');
    expect(section(md, '## Pass rate')).toContain('Left out: cycle 2, with no P1 check.');
  });
});
