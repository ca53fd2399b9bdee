/**
 * The fix step between cycles: the user's command (an agent, a script) gets the last report's paths
 * and the ranked issues, P0 first, in its environment. Its exit code and duration go into the next
 * cycle's record.
 */
import { join, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { runCommand } from '../exec.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { Logger } from '../log.js';
import { progress } from '../progress.js';
import { passedOnRetry } from '../report/flaky.js';
import { groupIssues } from '../report/groups.js';
import { fixProvenance, rankIssues } from '../report/issues.js';
import { redactText } from '../redact.js';
import { type CycleRecord, type FixRecord } from '../model/record.js';
import { type PublishedCycle } from '../model/run-outcome.js';
import { EVIDENCE_BUDGET, type FixIssuesFile, type FlakyIssue } from '../model/fix-issues.js';

type FixConfig = NonNullable<Config['loop']['fix']>;


export async function runFix(opts: {
  fix: FixConfig;
  baseDir: string;
  reportsDir: string;
  record: CycleRecord;
  history: CycleRecord[];
  published: PublishedCycle;
  signal: AbortSignal;
  log: Logger;
}): Promise<FixRecord> {
  const { fix, record } = opts;
  const issues = rankIssues(record, opts.history).map((i) => ({
    ...i,
    evidence: Object.fromEntries(
      Object.entries(i.evidence).map(([k, v]) => [k, typeof v === 'string' ? cut(v) : Array.isArray(v) ? v.slice(-20) : v]),
    ),
  }));
  const issuesFile = join(opts.reportsDir, `issues-${String(record.cycle).padStart(3, '0')}.json`);
  // Additive to `issues`: the same issues grouped by root cause, and the P0 checks that passed only on retry.
  const groups = groupIssues(issues);
  const flaky = flakyP0(record);
  const file: FixIssuesFile = {
    cycle: record.cycle,
    service: record.service,
    issues,
    groups,
    flaky,
    ...(record.smoke.stoppedEarly ? { stoppedEarly: record.smoke.stoppedEarly } : {}),
    ...fixProvenance(record, opts.history),
  };
  await writeFileAtomic(issuesFile, `${JSON.stringify(file, null, 2)}\n`);
  const cwd = resolve(opts.baseDir, fix.cwd ?? '.');
  opts.log.info({ stage: 'fix', command: fix.command, issues: issues.length }, 'running fix command');
  progress().stage(`fix after cycle ${record.cycle}: ${fix.command.join(' ')}`);
  const res = await runCommand(fix.command, {
    cwd,
    shell: fix.shell,
    timeoutMs: fix.timeoutMs,
    signal: opts.signal,
    log: opts.log,
    onLine: (line) => opts.log.info({ stage: 'fix' }, line),
    env: {
      ...fix.env,
      DEPLOY_LOOP_CYCLE: String(record.cycle),
      DEPLOY_LOOP_REPORT_MD: opts.published.markdown,
      DEPLOY_LOOP_REPORT_JSON: opts.published.json,
      DEPLOY_LOOP_ISSUES_JSON: issuesFile,
    },
  });
  progress().stop();
  opts.log[res.ok ? 'info' : 'warn']({ stage: 'fix', exitCode: res.exitCode, ms: res.durationMs }, 'fix command finished');
  return {
    command: fix.command,
    exitCode: res.exitCode,
    durationMs: res.durationMs,
    timedOut: res.timedOut,
    outputTail: res.outputTail,
    afterCycle: record.cycle,
  };
}

/** P0 checks that passed only after a failed attempt: the gate may count them as not passed. */
export function flakyP0(record: CycleRecord): FlakyIssue[] {
  return record.smoke.results
    .filter((r) => r.priority === 'P0' && passedOnRetry(r))
    .map((r) => {
      const failedAttempts = (r.attemptLog ?? [])
        .filter((a) => a.status === 'fail' || a.status === 'error')
        .map((a) => ({
          attempt: a.attempt,
          ...(a.failure ? { class: a.failure.class, message: cut(redactText(a.failure.message)) } : {}),
        }));
      const location = record.checkLocations[r.name];
      return { check: r.name, priority: r.priority, ...(location !== undefined ? { location } : {}), failedAttempts };
    });
}

function cut(s: string): string {
  return s.length <= EVIDENCE_BUDGET ? s : `${s.slice(0, EVIDENCE_BUDGET)}… (${s.length - EVIDENCE_BUDGET} more characters)`;
}
