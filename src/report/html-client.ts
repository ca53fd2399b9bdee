/**
 * The HTML report's styles and browser script, inlined by html.ts. The script reads the embedded
 * data, draws the two charts with uPlot and renders the selected cycle's check rows a page at a
 * time (10,000 rows at once would take seconds to lay out). Every string from a record reaches the
 * page through textContent, never as markup. Plain ES2020 in a string: it runs in the browser only
 * and is tested there (test/integration/html-report.test.ts).
 */

export const HTML_CSS = String.raw`
:root { color-scheme: light dark; --ok: #1a7f37; --bad: #cf222e; --muted: #6e7781; --line: #d0d7de; --bg2: #f6f8fa; }
@media (prefers-color-scheme: dark) { :root { --ok: #3fb950; --bad: #f85149; --muted: #8b949e; --line: #30363d; --bg2: #161b22; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1rem 1.5rem 3rem; max-width: 1200px; }
h1 { margin: 0 0 .25rem; font-size: 1.6rem; }
h2 { font-size: 1.2rem; margin: 1.5rem 0 .5rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 .4rem; }
h4 { font-size: .95rem; margin: .4rem 0; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: var(--bg2); padding: .5rem; overflow: auto; max-height: 24rem; white-space: pre-wrap; word-break: break-word; }
.muted { color: var(--muted); }
.verdict { font-weight: 600; }
p.verdict { font-size: 1.15rem; margin: .25rem 0; }
.verdict.ok, tr.ok td:first-child { color: var(--ok); }
.verdict.bad, tr.bad td:first-child { color: var(--bad); }
table { border-collapse: collapse; margin: .25rem 0 .75rem; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .6rem; text-align: left; vertical-align: top; }
th { background: var(--bg2); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
#trend { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; }
.chart { min-height: 260px; }
#cycle-nav { padding: .5rem 0; border-bottom: 1px solid var(--line); }
.split { display: flex; gap: 2rem; flex-wrap: wrap; }
.filters { display: flex; gap: 1rem; flex-wrap: wrap; align-items: center; margin: .5rem 0; }
table.checks { width: 100%; }
table.checks td.status-fail, table.checks td.status-error { color: var(--bad); font-weight: 600; }
table.checks td.status-pass { color: var(--ok); }
details summary { cursor: pointer; }
dl.evidence { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; margin: .4rem 0; }
dl.evidence dt { color: var(--muted); }
dl.evidence dd { margin: 0; }
table.cycles tr.selected td { background: var(--bg2); }
.stage-failure { border-left: 3px solid var(--bad); padding-left: .75rem; }
.fix-notes { border-left: 3px dashed var(--muted); padding-left: .75rem; }
.chain ol { margin: .2rem 0 .4rem; padding-left: 1.4rem; }
`;

export const HTML_CLIENT_JS = String.raw`
(function () {
  'use strict';
  var PAGE = 200;
  var data = JSON.parse(document.getElementById('report-data').textContent);
  if (!data.cycles.length) return;
  var byCycle = new Map(data.cycles.map(function (c) { return [c.cycle, c]; }));
  var FAILING = { fail: true, error: true };
  var ORDER = { fail: 0, error: 0, skipped: 1, degraded: 2, pass: 3 };

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) { if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); }
    (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function fmtMs(ms) {
    if (ms == null || !isFinite(ms)) return '\u2014';
    if (ms < 10) return (Math.round(ms * 10) / 10) + ' ms';
    if (ms < 1000) return Math.round(ms) + ' ms';
    if (ms < 10000) return (Math.round(ms / 10) / 100) + ' s';
    if (ms < 60000) return (Math.round(ms / 100) / 10) + ' s';
    var s = Math.round(ms / 1000);
    return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
  }

  // ---- charts ----
  var COLORS = ['#d62728', '#ff7f0e', '#1f77b4', '#7f7f7f'];
  var STAGE_COLORS = ['#8c564b', '#9467bd', '#2ca02c'];
  var xs = data.cycles.map(function (c) { return c.cycle; });
  function xRange(u, min, max) { return min === max ? [min - 1, max + 1] : [min, max]; }
  function width(id) { var w = document.getElementById(id).clientWidth; return Math.max(320, Math.min(w || 560, 900)); }
  function chart(id, title, yLabel, series, values, yRange) {
    var opts = {
      width: width(id), height: 260,
      scales: { x: { time: false, range: xRange }, y: yRange ? { range: yRange } : {} },
      axes: [{ label: 'Cycle', incrs: [1, 2, 5, 10, 20, 50, 100] }, { label: yLabel }],
      series: [{ label: 'Cycle' }].concat(series),
    };
    return new uPlot(opts, [xs].concat(values), document.getElementById(id));
  }
  var used = [];
  data.priorities.forEach(function (p, i) {
    if (data.cycles.some(function (c) { return c.passRates[i] !== null; })) used.push(i);
  });
  window.__charts = [
    chart('chart-pass', 'Pass rate per priority', 'Pass rate (%)',
      used.map(function (i) { return { label: data.priorities[i], stroke: COLORS[i], width: 2, points: { show: true, size: 6 }, value: function (u, v, si, idx) { return idx == null ? '\u2014' : v == null ? 'no checks' : v + '%'; } }; }),
      used.map(function (i) { return data.cycles.map(function (c) { return c.passRates[i]; }); }),
      [0, 100]),
    chart('chart-durations', 'Stage durations', 'Seconds',
      ['build', 'deploy', 'smoke'].map(function (s, i) { return { label: s, stroke: STAGE_COLORS[i], width: 2, points: { show: true, size: 6 }, value: function (u, v, si, idx) { return idx == null ? '\u2014' : v == null ? 'did not run' : fmtMs(v * 1000); } }; }),
      ['build', 'deploy', 'smoke'].map(function (s) { return data.cycles.map(function (c) { var v = c.stageMs[s]; return v == null ? null : v / 1000; }); }),
      null),
  ];

  // ---- check rows ----
  var decoded = new Map();
  function rowsOf(c) {
    var rows = decoded.get(c.cycle);
    if (rows) return rows;
    var el2 = document.querySelector('script.cycle-rows[data-cycle="' + c.cycle + '"]');
    var part = JSON.parse(el2.textContent);
    var ch = part.checks, names = new Array(ch.count), k = 0;
    for (var i = 0; i < ch.nameRuns.length; i += 2) for (var j = 0; j < ch.nameRuns[i + 1]; j++) names[k++] = data.names[ch.nameRuns[i] + j];
    var failures = new Map(part.failures.map(function (f) { return [f.row, f]; }));
    rows = [];
    for (var r = 0; r < ch.count; r++) {
      rows.push({
        row: r, name: names[r],
        status: data.statuses[+ch.status[r]] || 'unknown',
        priority: data.priorities[+ch.priority[r]] || 'unknown',
        kind: data.kinds[+ch.kind[r]] || 'unknown',
        ms: ch.ms[r], attempts: parseInt(ch.attempts[r], 36),
        failure: failures.get(r),
      });
    }
    // Failures first, then the rest in the order the suite ran them.
    rows.sort(function (a, b) { return (ORDER[a.status] - ORDER[b.status]) || (a.row - b.row); });
    decoded.set(c.cycle, rows);
    return rows;
  }

  var EVIDENCE_ORDER = ['status', 'closeCode', 'closeReason', 'expected', 'actual', 'excerpt', 'firstFrames', 'step', 'connection', 'logTail'];
  function evidenceValue(v) {
    if (Array.isArray(v) && v.every(function (x) { return typeof x === 'string'; })) return el('pre', { text: v.join('\n') });
    if (v !== null && typeof v === 'object') return el('pre', { text: JSON.stringify(v, null, 2) });
    var s = String(v);
    return s.length > 80 || s.indexOf('\n') >= 0 ? el('pre', { text: s }) : el('code', { text: s });
  }
  function renderFailure(f) {
    var keys = Object.keys(f.evidence || {});
    keys.sort(function (a, b) {
      var ia = EVIDENCE_ORDER.indexOf(a), ib = EVIDENCE_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : a > b ? 1 : 0);
    });
    var dl = el('dl', { class: 'evidence' });
    if (f.location) { dl.appendChild(el('dt', { text: 'config' })); dl.appendChild(el('dd', null, [el('code', { text: f.location })])); }
    keys.forEach(function (key) { dl.appendChild(el('dt', { text: key })); dl.appendChild(el('dd', null, [evidenceValue(f.evidence[key])])); });
    var attempts = f.attempts.length ? el('ul', { class: 'attempts' }, f.attempts.map(function (a) {
      return el('li', { text: 'attempt ' + a.attempt + ': ' + a.status + ' in ' + fmtMs(a.durationMs) + (a.class ? ' (' + a.class + ': ' + a.message + ')' : '') });
    })) : null;
    return el('details', { class: 'evidence' }, [el('summary', { text: f.class + ': ' + f.message }), renderChain(f.chain), dl, attempts]);
  }
  // The evidence chain: each link with where it was measured; a missing link is shown as missing.
  function renderChain(chain) {
    if (!chain || !chain.length) return null;
    return el('div', { class: 'chain' }, [el('h4', { text: 'Evidence chain' }), el('ol', null, chain.map(function (l) {
      var text = l.kind === 'frame' && l.file && l.line && !l.missing ? l.file + ':' + l.line + ', the innermost frame in your source' : l.text;
      return el('li', l.missing ? { class: 'missing' } : null, [
        el('span', { class: 'muted', text: l.kind + ' (' + l.source + '): ' }),
        l.missing ? el('em', { text: text }) : el('code', { text: text }),
        l.excerpt && l.excerpt.length ? el('pre', { text: l.excerpt.join('\n') }) : null,
      ]);
    }))]);
  }
  // What the fix command wrote to DEPLOY_LOOP_FIX_NOTES: its own claims, set apart after the measured fix step.
  data.cycles.forEach(function (c) {
    if (c.fixNotes === undefined) return;
    var section = document.querySelector('section.cycle[data-cycle="' + c.cycle + '"]');
    if (!section) return;
    var box = el('div', { class: 'fix-notes' }, [
      el('h3', { text: 'The fix command says' }),
      el('p', { class: 'muted', text: 'Written by the fix command to DEPLOY_LOOP_FIX_NOTES: its claims, not measured by deploy-loop.' }),
      el('pre', { text: c.fixNotes }),
    ]);
    var fix = section.querySelector('div.fix');
    if (fix && fix.nextSibling) section.insertBefore(box, fix.nextSibling); else section.appendChild(box);
  });

  var current = null, shown = 0, matching = [];
  var q = function (id) { return document.getElementById(id); };
  var tbody = q('check-rows'), more = q('checks-more');
  function filters() {
    return { priority: q('filter-priority').value, status: q('filter-status').value, kind: q('filter-kind').value, name: q('filter-name').value.toLowerCase() };
  }
  function matches(r, f) {
    if (f.priority && r.priority !== f.priority) return false;
    if (f.status === 'failing' ? !FAILING[r.status] : f.status && r.status !== f.status) return false;
    if (f.kind && r.kind !== f.kind) return false;
    return !f.name || r.name.toLowerCase().indexOf(f.name) >= 0;
  }
  function renderRows(upTo) {
    var frag = document.createDocumentFragment();
    for (; shown < Math.min(upTo, matching.length); shown++) {
      var r = matching[shown];
      frag.appendChild(el('tr', { 'data-name': r.name, 'data-status': r.status, 'data-priority': r.priority, 'data-kind': r.kind }, [
        el('td', null, [el('code', { text: r.name })]),
        el('td', { text: r.priority }), el('td', { text: r.kind }),
        el('td', { class: 'status-' + r.status, text: r.status }),
        el('td', { class: 'num', text: fmtMs(r.ms) }), el('td', { class: 'num', text: String(r.attempts) }),
        el('td', null, [r.failure ? renderFailure(r.failure) : null]),
      ]));
    }
    tbody.appendChild(frag);
    var left = matching.length - shown;
    more.hidden = left <= 0;
    more.textContent = 'Show ' + Math.min(PAGE, left) + ' more (' + left + ' not shown)';
    q('checks-count').textContent = matching.length + ' of ' + rowsOf(current).length + ' checks match; ' + shown + ' shown';
  }
  function refresh() {
    var f = filters();
    matching = rowsOf(current).filter(function (r) { return matches(r, f); });
    tbody.textContent = '';
    shown = 0;
    renderRows(PAGE);
  }
  function select(n) {
    var c = byCycle.get(n) || data.cycles[data.cycles.length - 1];
    current = c;
    document.querySelectorAll('section.cycle').forEach(function (s) { s.hidden = Number(s.getAttribute('data-cycle')) !== c.cycle; });
    document.querySelectorAll('table.cycles tr[data-cycle]').forEach(function (tr) { tr.classList.toggle('selected', Number(tr.getAttribute('data-cycle')) === c.cycle); });
    q('cycle-select').value = String(c.cycle);
    q('checks-cycle').textContent = 'of cycle ' + c.cycle;
    refresh();
  }
  ['filter-priority', 'filter-status', 'filter-kind'].forEach(function (id) { q(id).addEventListener('change', refresh); });
  q('filter-name').addEventListener('input', refresh);
  more.addEventListener('click', function () { renderRows(shown + PAGE); });
  q('cycle-select').addEventListener('change', function (e) { location.hash = 'cycle-' + e.target.value; });
  // ---- changes since the previous cycle (record.changes), one block per cycle section ----
  data.cycles.forEach(function (c) {
    var ch = c.changes, sec = document.querySelector('section.cycle[data-cycle="' + c.cycle + '"]');
    if (!ch || !sec) return;
    var box = el('div', { class: 'changes' }, [
      el('h3', { text: 'Changes since cycle ' + ch.since }),
      ch.regressions.length ? el('p', { class: 'bad' }, [el('strong', { text: 'Regression: ' }), ch.regressions.join(', ')]) : null,
      ch.text ? el('p', { text: ch.text }) : null,
      ch.files.length ? el('ul', null, ch.files.map(function (f) { return el('li', null, [el('code', { text: f.path }), ' ' + f.counts]); })) : null,
      ch.diff ? el('details', null, [el('summary', { text: 'Diff' + (ch.diffTruncated ? ' (cut to its budget)' : '') }), el('pre', { text: ch.diff })]) : null,
    ]);
    var h = sec.querySelector('h2');
    sec.insertBefore(box, h ? h.nextSibling : sec.firstChild);
  });
  function fromHash() { var m = /^#cycle-(\d+)$/.exec(location.hash); select(m ? Number(m[1]) : data.cycles[data.cycles.length - 1].cycle); }
  window.addEventListener('hashchange', fromHash);
  fromHash();
  document.body.setAttribute('data-ready', 'true');
})();
`;
