/**
 * The charting library the HTML report inlines. uPlot: about 50 kB minified with no dependencies,
 * draws on a canvas (so 50 cycles × 4 series cost nothing to paint), supports gaps (null) in a series
 * and is maintained (MIT). Chart.js is four times larger and ECharts twenty; both do far more than a
 * line chart of a few series needs. Read from the installed package at render time, so the report
 * carries exactly the version the package depends on.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

export interface HtmlAssets {
  uplotJs: string;
  uplotCss: string;
}

let cached: HtmlAssets | undefined;

export function loadHtmlAssets(): HtmlAssets {
  if (!cached) {
    const require = createRequire(import.meta.url);
    const read = (file: string): string => readFileSync(require.resolve(`uplot/dist/${file}`), 'utf8');
    cached = { uplotJs: read('uPlot.iife.min.js'), uplotCss: read('uPlot.min.css') };
  }
  return cached;
}
