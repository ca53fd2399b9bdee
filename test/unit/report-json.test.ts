import { describe, expect, it } from 'vitest';
import { formatThresholdValue, stoppedEarlyText } from '../../src/model/thresholds.js';
import { escapeText } from '../../src/report/format.js';
import { logLabelText } from '../../src/report/markdown-checks.js';
import { renderCycleJson } from '../../src/report/json.js';
import { renderCycleMarkdown } from '../../src/report/markdown.js';
import { firstCycleGateFailed, interruptedBeforeSmoke, REPORT_SCENARIOS, stoppedByThreshold } from './report-fixtures.js';
import { headings, readTables, section, unescapeMarkdown } from './report-markdown-reader.js';

const CHANGE_LABELS = {
  newlyPassing: 'newly passing',
  newlyFailing: 'newly failing',
  stillFailing: 'still failing',
  stillPassing: 'still passing',
  added: 'added',
  removed: 'removed',
  unmeasured: 'not compared',
} as const;

describe('renderCycleJson holds what the markdown says', () => {
  it.each(REPORT_SCENARIOS)('%s', (_name, make) => {
    const [current, history] = make();
    const md = renderCycleMarkdown(current, history);
    const json = renderCycleJson(current, history);

    expect(json.reportVersion).toBe(1);
    expect(json).toMatchObject({ service: current.service, cycle: current.cycle, runId: current.runId, verdict: current.verdict });
    expect(md).toContain(`**Verdict: ${json.verdictText}**`);

    // Every issue group, in the same order with the same rank, priority, class and cause.
    const mdGroups = headings(md).filter((h) => /^### \d+\. \[P\d\] /.test(h));
    expect(mdGroups).toEqual(
      json.issueGroups.map((g) => {
        const checks = g.checks.length === 1 ? escapeText(g.checks[0]!.check) : `${g.checks.length} checks`;
        return `### ${g.rank}. [${g.priority}] ${g.class}: ${escapeText(g.cause)} — ${checks}`;
      }),
    );
    // The groups partition the ranked issues: every issue in exactly one group, none invented.
    expect(json.issueGroups.flatMap((g) => g.checks).sort((a, b) => a.rank - b.rank)).toEqual(json.issues);
    for (const group of json.issueGroups) {
      const text = section(md, mdGroups[group.rank - 1]!);
      // Each check of the group under its own heading, with its own evidence.
      expect(text.split('\n').filter((l) => l.startsWith('#### '))).toEqual(
        group.checks.map((i) => `#### [${i.priority}] ${escapeText(i.check)}`),
      );
      for (const issue of group.checks) {
        const own = section(md, `#### [${issue.priority}] ${escapeText(issue.check)}`);
        expect(own).toContain(`Message: ${escapeText(issue.message)}`);
        if (issue.location) expect(own).toContain(`Config: \`${issue.location}\``);
        if (issue.evidence.closeCode !== undefined) expect(own).toContain(`Close code: ${issue.evidence.closeCode}`);
        // A log tail all the group's checks share is shown once, above them.
        const tails = new Set(group.checks.map((c) => (c.evidence.logTail ?? []).join('\n')));
        const tailIn = group.checks.length > 1 && tails.size === 1 ? text.slice(0, text.indexOf('\n#### ')) : own;
        for (const line of issue.evidence.logTail ?? []) expect(tailIn).toContain(line);
        // Whose lines they are, as the JSON's logScope says.
        if ((issue.evidence.logTail ?? []).length > 0) expect(tailIn).toContain(escapeText(logLabelText(issue.evidence)));
      }
    }

    // The gate tallies shown in the table.
    const gateTable = readTables(section(md, '## Gate'))[0];
    if (gateTable) {
      const shown = json.gate.tallies.filter((t) => t.total > 0 || t.threshold !== null);
      expect(gateTable.rows.map((r) => r.slice(0, 3))).toEqual(shown.map((t) => [t.priority, String(t.total), String(t.passed)]));
    } else {
      expect(json.record.smoke.results).toEqual([]);
    }
    for (const reason of json.gate.passed ? [] : json.gate.reasons) expect(md).toContain(`- ${escapeText(reason)}`);
    // Figure thresholds with their measured values, and the abortOnFail stop.
    const thresholdRows = readTables(section(md, '## Gate')).find((t) => t.header[0] === 'Threshold')?.rows ?? [];
    expect(thresholdRows.map((r) => [r[0], r[2], r[3]])).toEqual(
      (json.gate.thresholds ?? []).map((t) => [`\`${t.expr}\``, formatThresholdValue(t), String(t.samples)]),
    );
    const stop = json.record.smoke.stoppedEarly;
    if (stop) expect(md).toContain(`**Smoke run stopped early:** ${escapeText(stoppedEarlyText(stop))}.`);
    else expect(md).not.toContain('stopped early');

    // Every check the results tables list.
    const resultRows = readTables(section(md, '## Results by priority')).flatMap((t) => t.rows);
    expect(resultRows.map((r) => unescapeMarkdown(r[0]!)).sort()).toEqual(json.record.smoke.results.map((r) => r.name).sort());
    // Each check with more than one sample says how many its figures cover.
    for (const r of json.record.smoke.results) {
      const row = resultRows.find((x) => unescapeMarkdown(x[0]!) === r.name)!;
      for (const [metric, label] of [['latencyMs', 'latency'], ['connectMs', 'connect']] as const) {
        const n = r.figures.samples?.measured?.[metric] ?? r.figures.samples?.[metric]?.length ?? 0;
        if (n > 1) expect(row[4]).toMatch(new RegExp(`${label} p50 .* over ${n} samples`));
      }
    }

    // The comparison, list by list.
    if (json.comparison.previousCycle === null) {
      expect(md).toContain('There is no previous cycle');
      expect(history).toEqual([]);
    } else {
      const rows = readTables(section(md, `## Compared with cycle ${json.comparison.previousCycle}`))[0]?.rows ?? [];
      const fromJson = Object.entries(CHANGE_LABELS).flatMap(([key, label]) =>
        json.comparison[key as keyof typeof CHANGE_LABELS].map((c) => `${c.name} ${c.priority} ${label} ${c.before} ${c.after}`),
      );
      expect(rows.map((r) => `${unescapeMarkdown(r[0]!)} ${r.slice(1, 5).join(' ')}`).sort()).toEqual(fromJson.sort());
    }

    // Traffic and next steps, in the same words.
    expect(md).toContain(escapeText(json.trafficAction));
    const steps = section(md, '## Next steps').split('\n').filter((l) => /^\d+\. /.test(l));
    expect(steps).toEqual(json.nextSteps.map((s, i) => `${i + 1}. ${escapeText(s)}`));

    // Plain data: survives JSON unchanged.
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
  });

  it('keeps the record but masks authorization and cookie values in it', () => {
    const rec = firstCycleGateFailed();
    rec.smoke.results[2]!.failure!.evidence.excerpt = '{"authorization":"Bearer tok-live-123456"}';
    rec.build.outputTail = ['Cookie: sid=s3cr3t-cookie'];
    const json = renderCycleJson(rec, []);
    const text = JSON.stringify(json);
    expect(text).not.toContain('tok-live-123456');
    expect(text).not.toContain('s3cr3t-cookie');
    expect(json.record.smoke.results.map((r) => r.name)).toEqual(rec.smoke.results.map((r) => r.name));
    expect(json.record.durations).toEqual(rec.durations);
  });

  it('reports the first P0 failure of cycle 1 with its evidence and location', () => {
    const json = renderCycleJson(firstCycleGateFailed(), []);
    expect(json.issues[0]).toMatchObject({
      check: 'agent-pipeline',
      class: 'ws-1011-internal-error',
      location: 'loop.config.yaml:52',
      evidence: { closeCode: 1011, closeReason: 'internal error' },
    });
    expect(json.nextSteps[0]).toBe('Fix the P0 issues above (issue 1); the gate needs P0 at 100% (now 66.7%).');
    // The P0 and P1 checks closed with the same 1011 reason: one group, two pieces of evidence.
    expect(json.issueGroups).toHaveLength(1);
    expect(json.issueGroups[0]).toMatchObject({ rank: 1, priority: 'P0', class: 'ws-1011-internal-error', cause: 'close 1011 "internal error"' });
    expect(json.issueGroups[0]!.checks.map((c) => [c.check, c.priority])).toEqual([
      ['agent-pipeline', 'P0'],
      ['agent-pipeline-concurrent', 'P1'],
    ]);
  });

  it('says in the next steps that an abortOnFail stop left checks unrun', () => {
    const json = renderCycleJson(stoppedByThreshold(), []);
    expect(json.nextSteps).toContain(
      'The smoke run stopped early at abortOnFail threshold rate(fail) == 0 (P0 checks), so 1 check did not run; they run again in the next cycle.',
    );
  });

  it('says what an interrupted cycle without results leaves to do', () => {
    const json = renderCycleJson(interruptedBeforeSmoke(), [firstCycleGateFailed()]);
    expect(json.issues).toEqual([]);
    expect(json.nextSteps).toEqual(['The cycle was interrupted before a verdict; run it again to get one.']);
    expect(json.trafficAction).toBe(
      'No revision serves traffic yet: no revision served traffic before this cycle and the cycle was interrupted.',
    );
    expect(json.comparison.unmeasured.map((c) => c.name)).toHaveLength(6);
  });
});
