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
import { z } from 'zod';
import { groupIssues, issueGroupSchema } from '../report/groups.js';
import { rankIssues, rankedIssueSchema } from '../report/issues.js';
import { redactText } from '../report/redact.js';
import type { PublishedCycle } from './publish.js';
import { prioritySchema } from '../smoke/result.js';
import { stoppedEarlySchema, type CycleRecord, type FixRecord } from './record.js';

type FixConfig = NonNullable<Config['loop']['fix']>;

/** Evidence strings are cut to this many characters so an agent's context is not flooded. */
const EVIDENCE_BUDGET = 2000;

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

export const flakyIssueSchema = z
  .object({
    check: z.string(),
    priority: prioritySchema,
    location: z.string().optional().describe('Config location of the check, `file:line`.'),
    failedAttempts: z
      .array(z.object({ attempt: z.number().int(), class: z.string().optional(), message: z.string().optional() }))
      .describe('The failed attempts before the pass: class and message of each.'),
  })
  .meta({ id: 'FlakyIssue' });
export type FlakyIssue = z.infer<typeof flakyIssueSchema>;

/** The file the fix command is given (DEPLOY_LOOP_ISSUES_JSON): what to fix, P0 first, evidence cut to a budget. */
export const fixIssuesFileSchema = z.object({
  cycle: z.number().int().min(1).describe('The cycle these issues come from.'),
  service: z.string(),
  issues: z.array(rankedIssueSchema).describe(`Ranked P0 first, then by how long they have failed; evidence strings cut to ${EVIDENCE_BUDGET} characters, log tails to 20 lines.`),
  groups: z.array(issueGroupSchema).describe('The same issues grouped by root cause.'),
  flaky: z.array(flakyIssueSchema).describe('P0 checks that passed only after a failed attempt: the gate may count them as not passed.'),
  stoppedEarly: stoppedEarlySchema.optional().describe('An abortOnFail threshold stopped the smoke run: `skipped` checks did not run and are not among the issues.'),
});
export type FixIssuesFile = z.infer<typeof fixIssuesFileSchema>;

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
