/**
 * A cycle's markdown, JSON and JUnit reports from one summary. Each renderer on its own redacts the
 * record (the JSON and markdown ones the previous record too) and ranks the issues; rendered one
 * after the other that work was done three times, most of the cost at 10,000 checks (bench: render).
 * The output is the same as renderCycleMarkdown, renderCycleJson (pretty-printed) and renderJunit.
 */
import type { CycleRecord } from '../model/record.js';
import { renderCycleJson } from './json.js';
import { renderRedactedJunit } from './junit.js';
import { renderCycleMarkdown } from './markdown.js';
import { summarizeCycle } from './summary.js';

export interface CycleReports {
  markdown: string;
  /** `JSON.stringify(renderCycleJson(…), null, 2)` and a final newline, as reports/cycle-NNN.json holds it. */
  json: string;
  junit: string;
}

export function renderCycleReports(current: CycleRecord, history: CycleRecord[]): CycleReports {
  const summary = summarizeCycle(current, history);
  return {
    markdown: renderCycleMarkdown(current, history, summary),
    json: `${JSON.stringify(renderCycleJson(current, history, summary), null, 2)}\n`,
    junit: renderRedactedJunit(summary.record),
  };
}
