/**
 * `reports/index.html`: one self-contained page for a service's whole history. The verdict, the
 * cycles and each cycle's gate, traffic, fix step and next steps are rendered here as HTML; the
 * check rows and the charts are drawn in the browser from the data embedded as JSON (so 50 cycles of
 * 10,000 checks stay a few MB), with uPlot inlined. Nothing is fetched: a Content-Security-Policy
 * forbids every load. A pure function of the records: the numbers come from renderCycleJson, the
 * same as the JSON report's, and every string from a record is escaped.
 */
import type { CycleRecord } from '../model/record.js';
import type { TrafficEntry } from '../model/traffic.js';
import { cleanText, formatCommand, formatMs, formatPercent, plural } from './format.js';
import { loadHtmlAssets, type HtmlAssets } from './html-assets.js';
import { HTML_CLIENT_JS, HTML_CSS } from './html-client.js';
import { buildHtmlData, cycleViews, type CycleFacts, type HtmlReportData } from './html-data.js';

export interface HtmlReportOptions {
  /** The charting library's code and styles; read from the installed uplot package by default. */
  assets?: HtmlAssets;
}

export const HTML_REPORT_FILE = 'index.html';

/** Escapes text for an element's content or a quoted attribute; control characters show as \xNN, as in the markdown. */
export function escapeHtml(text: string): string {
  return cleanText(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON inside `<script type="application/json">`: `<` is written as \u003c so no string from a
 * record can close the element or open a comment; the browser's JSON.parse reads it back unchanged.
 */
export function embedJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/**
 * The data as JSON elements: one small element with everything but the check rows, and one per
 * cycle with its rows and failures, parsed only when that cycle is shown (parsing 50 cycles of
 * 10,000 rows up front took most of the page's load time).
 */
function embedData(data: HtmlReportData): string {
  const { cycles, ...rest } = data;
  const summary = { ...rest, cycles: cycles.map(({ checks: _checks, failures: _failures, ...c }) => c) };
  const rows = cycles.map(
    (c) => `<script type="application/json" class="cycle-rows" data-cycle="${c.cycle}">${embedJson({ checks: c.checks, failures: c.failures })}</script>`,
  );
  return [`<script type="application/json" id="report-data">${embedJson(summary)}</script>`, ...rows].join('\n');
}

/** A script's code inline: `</script` cannot occur in it unescaped (it would end the element). */
function inlineScript(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1');
}

export function renderHtmlReport(records: readonly CycleRecord[], opts: HtmlReportOptions = {}): string {
  const assets = opts.assets ?? loadHtmlAssets();
  const views = cycleViews(records);
  const reports = views.map((v) => v.facts);
  const data = buildHtmlData(views);
  const title = data.service ? `${data.service}: deploy-loop report` : 'deploy-loop report';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<link rel="icon" href="data:,">
<title>${escapeHtml(title)}</title>
<style>${assets.uplotCss}</style>
<style>${HTML_CSS}</style>
</head>
<body>
${renderHeader(data, reports)}
${reports.length === 0 ? '<p>No cycle has been recorded yet.</p>' : renderBody(data, reports)}
${embedData(data)}
<script>${inlineScript(assets.uplotJs)}</script>
<script>${inlineScript(HTML_CLIENT_JS)}</script>
</body>
</html>
`;
}

function renderHeader(data: HtmlReportData, reports: readonly CycleFacts[]): string {
  const last = reports.at(-1);
  const facts = [
    `run <code>${escapeHtml(data.runId)}</code>`,
    `${reports.length} ${reports.length === 1 ? 'cycle' : 'cycles'}`,
    ...(last ? [`last finished ${escapeHtml(last.finishedAt)}`] : []),
  ];
  return `<header>
<h1>${escapeHtml(data.service || 'deploy-loop')}</h1>
<p id="run-verdict" class="verdict ${data.verdict.passed ? 'ok' : 'bad'}" data-passed="${data.verdict.passed}">${escapeHtml(data.verdict.text)}${
    data.verdict.cycle ? ` <span class="muted">(cycle ${data.verdict.cycle})</span>` : ''
  }</p>
${data.verdict.detail ? `<p>${escapeHtml(data.verdict.detail)}</p>` : ''}
<p class="muted">${facts.join(' · ')}</p>
</header>`;
}

function renderBody(data: HtmlReportData, reports: readonly CycleFacts[]): string {
  return `<main>
<section id="trend">
<div class="chart-box"><h2>Pass rate per priority</h2><div id="chart-pass" class="chart"></div></div>
<div class="chart-box"><h2>Stage durations</h2><div id="chart-durations" class="chart"></div></div>
</section>
${renderCycleTable(data, reports)}
<nav id="cycle-nav"><label>Cycle <select id="cycle-select">${reports
    .map((r) => `<option value="${r.cycle}">${r.cycle}: ${escapeHtml(r.verdictText)}</option>`)
    .join('')}</select></label></nav>
${reports.map((r) => renderCycle(r)).join('\n')}
<section id="checks">
<h3>Checks <span id="checks-cycle"></span></h3>
<div class="filters">
<label>Priority <select id="filter-priority"><option value="">all</option>${data.priorities.map((p) => `<option>${p}</option>`).join('')}</select></label>
<label>Status <select id="filter-status"><option value="">all</option><option value="failing">fail or error</option>${data.statuses
    .map((s) => `<option>${s}</option>`)
    .join('')}</select></label>
<label>Kind <select id="filter-kind"><option value="">all</option>${data.kinds.map((k) => `<option>${k}</option>`).join('')}</select></label>
<label>Name <input id="filter-name" type="search" placeholder="contains…"></label>
<span id="checks-count" class="muted"></span>
</div>
<table class="checks"><thead><tr><th>Check</th><th>Priority</th><th>Kind</th><th>Status</th><th class="num">Duration</th><th class="num">Attempts</th><th>Failure</th></tr></thead><tbody id="check-rows"></tbody></table>
<p><button id="checks-more" type="button" hidden></button></p>
</section>
</main>`;
}

function renderCycleTable(data: HtmlReportData, reports: readonly CycleFacts[]): string {
  const used = data.priorities.filter((_, i) => data.cycles.some((c) => c.passRates[i] !== null));
  const head = ['Cycle', 'Revision', 'Verdict', ...used.map((p) => `${p} pass rate`), 'Build', 'Deploy', 'Smoke'];
  const rows = reports.map((r, i) => {
    const c = data.cycles[i] as HtmlReportData['cycles'][number];
    const rates = used.map((p) => {
      const rate = c.passRates[data.priorities.indexOf(p)] ?? null;
      return `<td class="num" data-priority="${p}" data-value="${rate ?? ''}">${formatPercent(rate)}</td>`;
    });
    return `<tr data-cycle="${r.cycle}" class="${r.verdict === 'passed' ? 'ok' : 'bad'}"><td class="num"><a href="#cycle-${r.cycle}">${r.cycle}</a></td><td><code>${escapeHtml(c.revision ?? '—')}</code></td><td>${escapeHtml(r.verdictText)}</td>${rates.join('')}${(['build', 'deploy', 'smoke'] as const)
      .map((s) => `<td class="num" data-stage="${s}" data-value="${c.stageMs[s] ?? ''}">${formatMs(c.stageMs[s])}</td>`)
      .join('')}</tr>`;
  });
  return `<section id="cycles"><h2>Cycles</h2><table class="cycles"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}</tbody></table></section>`;
}

function renderCycle(r: CycleFacts): string {
  const rec = r.record;
  const facts = [
    `revision <code>${escapeHtml(rec.deploy.revision ?? '—')}</code>`,
    `target ${escapeHtml(rec.target)}`,
    `started ${escapeHtml(r.startedAt)}`,
    `took ${formatMs(r.durationMs)}`,
  ];
  return `<section class="cycle" id="cycle-${r.cycle}" data-cycle="${r.cycle}">
<h2>Cycle ${r.cycle}: <span class="verdict ${r.verdict === 'passed' ? 'ok' : 'bad'}">${escapeHtml(r.verdictText)}</span></h2>
<p class="muted">${facts.join(' · ')}</p>
${renderStage('Build', rec.build.status === 'failed', rec.build.message, rec.build.outputTail)}
${renderStage('Deploy', rec.deploy.status === 'failed', rec.deploy.message ?? rec.deploy.reason, rec.deploy.logTail ?? [])}
<h3>Gate</h3>
${renderGate(r)}
<h3>Traffic</h3>
<div class="split">${renderSplit('Before', rec.traffic.before)}${renderSplit('After', rec.traffic.after)}</div>
<p class="traffic-action">${escapeHtml(r.trafficAction)}</p>
${renderFix(r)}
<h3>Next steps</h3>
<ol class="next-steps">${r.nextSteps.map((s) => `<li>${escapeHtml(s)}</li>`).join('')}</ol>
</section>`;
}

function renderStage(title: string, failed: boolean, message: string | undefined, tail: readonly string[]): string {
  if (!failed) return '';
  return `<div class="stage-failure"><h3>${title} failed</h3><p>${escapeHtml(message ?? 'no message recorded')}</p>${
    tail.length > 0 ? `<details><summary>Output tail (${plural(tail.length, 'line')})</summary><pre>${escapeHtml(tail.join('\n'))}</pre></details>` : ''
  }</div>`;
}

function renderGate(r: CycleFacts): string {
  const rows = r.gate.tallies.map((t) => {
    const result = t.threshold === null ? 'not gated' : t.ok ? 'ok' : 'failed';
    const cell = (name: string, value: number | null | undefined, text: string) =>
      `<td class="num" data-field="${name}" data-value="${value ?? ''}">${text}</td>`;
    return `<tr data-priority="${t.priority}" class="${t.ok ? '' : 'bad'}"><td>${t.priority}</td>${cell('total', t.total, String(t.total))}${cell('passed', t.passed, String(t.passed))}${cell('failed', t.failed, String(t.failed))}${cell('flaky', t.flaky ?? 0, String(t.flaky ?? 0))}${cell('passRate', t.passRate, formatPercent(t.passRate))}${cell('threshold', t.threshold, formatPercent(t.threshold))}<td data-field="ok" data-value="${t.ok}">${result}</td></tr>`;
  });
  const table = `<table class="gate" data-cycle="${r.cycle}" data-passed="${r.gate.passed}"><thead><tr><th>Priority</th><th>Checks</th><th>Passed</th><th>Failed</th><th>Flaky</th><th>Pass rate</th><th>Needs</th><th>Result</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
  const thresholds = r.gate.thresholds?.length
    ? `<table class="thresholds"><thead><tr><th>Threshold</th><th>Scope</th><th>Measured</th><th>Samples</th><th>Result</th></tr></thead><tbody>${r.gate.thresholds
        .map(
          (t) =>
            `<tr class="${t.passed ? '' : 'bad'}"><td><code>${escapeHtml(t.expr)}</code></td><td>${escapeHtml(t.scope)}</td><td class="num">${t.value ?? '—'}</td><td class="num">${t.samples}</td><td>${t.passed ? 'ok' : 'failed'}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '';
  const reasons = r.gate.reasons.length ? `<ul class="reasons">${r.gate.reasons.map((x) => `<li>${escapeHtml(x)}</li>`).join('')}</ul>` : '';
  return `${table}${thresholds}${reasons}`;
}

function renderSplit(label: string, split: readonly TrafficEntry[]): string {
  if (split.length === 0) return `<div><h4>${label}</h4><p>No revision served traffic.</p></div>`;
  const rows = split
    .map((e) => `<tr><td><code>${escapeHtml(e.revision)}</code></td><td class="num">${e.percent}%</td><td>${e.tag ? `<code>${escapeHtml(e.tag)}</code>` : '—'}</td></tr>`)
    .join('');
  return `<div><h4>${label}</h4><table class="traffic"><thead><tr><th>Revision</th><th>Percent</th><th>Tag</th></tr></thead><tbody>${rows}</tbody></table></div>`;
}

function renderFix(r: CycleFacts): string {
  const fix = r.record.fix;
  if (!fix) return '';
  const c = r.comparison;
  const names = (list: readonly { name: string }[]) => list.map((x) => `<code>${escapeHtml(x.name)}</code>`).join(', ');
  const changed: string[] = [];
  if (c.previousCycle !== null) {
    if (c.newlyPassing.length) changed.push(`<li>Newly passing: ${names(c.newlyPassing)}</li>`);
    if (c.newlyFailing.length) changed.push(`<li>Newly failing: ${names(c.newlyFailing)}</li>`);
    if (c.stillFailing.length) changed.push(`<li>Still failing: ${names(c.stillFailing)}</li>`);
    if (changed.length === 0) changed.push(`<li>No check changed outcome since cycle ${c.previousCycle}.</li>`);
  }
  for (const s of r.record.suite?.changes ?? []) changed.push(`<li>Suite: ${escapeHtml(s.text)}${s.weakening ? ' <strong>(weakening)</strong>' : ''}</li>`);
  const exit = fix.exitCode === null ? 'none' : String(fix.exitCode);
  return `<h3>Fix step</h3>
<div class="fix"><p>Ran after cycle ${fix.afterCycle}, before this cycle: <code>${escapeHtml(formatCommand(fix.command))}</code>, exit code ${exit}${
    fix.timedOut ? ' (timed out)' : ''
  }, ${formatMs(fix.durationMs)}.</p>
${changed.length ? `<p>What changed${c.previousCycle !== null ? ` since cycle ${c.previousCycle}` : ''}:</p><ul class="fix-changes">${changed.join('')}</ul>` : ''}
${fix.outputTail.length ? `<details><summary>Output tail (${plural(fix.outputTail.length, 'line')})</summary><pre>${escapeHtml(fix.outputTail.join('\n'))}</pre></details>` : '<p>Output tail: empty.</p>'}
</div>`;
}
