export { type CheckChange, type Comparison, type RankedIssue, REPORT_VERSION, type CycleReportJson } from '../model/report.js';
/** Report stage: pure renderers of cycle records. */
export { compareCycles } from './compare.js';
export { rankIssues } from './issues.js';
export { renderCycleMarkdown } from './markdown.js';
export { renderCycleJson } from './json.js';
export { renderJunit } from './junit.js';
export { renderTrend, issueLives, type IssueLife, type IssueState } from './trend.js';
export { passedOnRetry, reportedStatus, sameRevision, type ReportedStatus } from './flaky.js';
export { renderAnnotations, renderStepSummary } from './ci.js';
export { summarizeCycle, verdictText, type CycleSummary } from './summary.js';
export { redactDeep, redactText, REDACTED } from './redact.js';
export {
  cleanText,
  escapeText,
  fence,
  formatCommand,
  formatMs,
  formatPercent,
  inlineCode,
  renderTable,
  type Align,
} from './format.js';
