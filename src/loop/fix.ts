/**
 * The fix step between cycles: the user's command (an agent, a script) gets the last report's paths
 * and the ranked issues, P0 first, in its environment. Its exit code and duration go into the next
 * cycle's record.
 */
import { open, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { runCommand } from '../exec.js';
import { writeFileAtomic } from '../fs-atomic.js';
import type { Logger } from '../log.js';
import { progress } from '../progress.js';
import { passedOnRetry } from '../report/flaky.js';
import { groupIssues } from '../report/groups.js';
import { fixProvenance, rankIssues } from '../report/issues.js';
import { redactText, truncateRedacted } from '../redact.js';
import { safeText } from '../terminal-safe.js';
import { renderFixPrompt } from './prompt.js';
import { type CycleRecord, type FixRecord } from '../model/record.js';
import { type PublishedCycle } from '../model/run-outcome.js';
import type { RankedIssue } from '../model/report.js';
import { EVIDENCE_BUDGET, type FixIssuesFile, type FlakyIssue } from '../model/fix-issues.js';

type FixConfig = NonNullable<Config['loop']['fix']>;

/** What the fix command writes to DEPLOY_LOOP_FIX_NOTES is kept up to this many characters (after redaction). */
export const FIX_NOTES_BUDGET = 4000;

export interface FixOptions {
  fix: FixConfig;
  baseDir: string;
  reportsDir: string;
  record: CycleRecord;
  history: CycleRecord[];
  published: PublishedCycle;
  signal: AbortSignal;
  log: Logger;
  /** The build context (absolute): the one folder the prompt lets the fixer edit. Default: baseDir. */
  contextDir?: string;
  /** The run's secrets, masked in the prompt and the notes besides the ones known to the process. */
  secrets?: readonly string[];
}

/** The ranked issues, evidence cut to its budget, written as DEPLOY_LOOP_ISSUES_JSON; `ranked` is them uncut. */
async function writeIssuesFile(opts: FixOptions): Promise<{ issuesFile: string; file: FixIssuesFile; ranked: RankedIssue[] }> {
  const { record } = opts;
  const ranked = rankIssues(record, opts.history);
  const issues = ranked.map((i) => ({
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
  return { issuesFile, file, ranked };
}

export async function runFix(opts: FixOptions): Promise<FixRecord> {
  const { fix, record } = opts;
  const { issuesFile, file, ranked } = await writeIssuesFile(opts);
  const issues = file.issues;
  const cwd = resolve(opts.baseDir, fix.cwd ?? '.');
  // The prompt quotes the head of each log window (the record its chain names); the file keeps the tail.
  const { promptFile, notesFile } = await writeAgentFiles(opts, { ...file, issues: ranked }, issuesFile, cwd);
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
      DEPLOY_LOOP_PROMPT_MD: promptFile,
      DEPLOY_LOOP_FIX_NOTES: notesFile,
    },
  });
  const notes = await readNotes(notesFile, opts.secrets ?? []);
  progress().stop();
  opts.log[res.ok ? 'info' : 'warn']({ stage: 'fix', exitCode: res.exitCode, ms: res.durationMs }, 'fix command finished');
  return {
    command: fix.command,
    exitCode: res.exitCode,
    durationMs: res.durationMs,
    timedOut: res.timedOut,
    outputTail: res.outputTail,
    afterCycle: record.cycle,
    ...(notes !== undefined ? { notes } : {}),
  };
}

const relativeTo = (from: string, to: string): string => relative(from, to) || '.';

/** The prompt (next to the issues file) and an empty notes file, fresh for this run of the fix command. */
async function writeAgentFiles(
  opts: FixOptions,
  file: FixIssuesFile,
  issuesFile: string,
  cwd: string,
): Promise<{ promptFile: string; notesFile: string }> {
  const n = String(opts.record.cycle).padStart(3, '0');
  const promptFile = join(opts.reportsDir, `prompt-${n}.md`);
  const notesFile = join(opts.reportsDir, `fix-notes-${n}.md`);
  const prompt = renderFixPrompt({
    file,
    record: opts.record,
    history: opts.history,
    context: relativeTo(cwd, opts.contextDir ?? opts.baseDir),
    paths: { issues: relativeTo(cwd, issuesFile), notes: relativeTo(cwd, notesFile), reportMd: relativeTo(cwd, opts.published.markdown) },
    ...(opts.secrets ? { secrets: opts.secrets } : {}),
  });
  await writeFileAtomic(promptFile, prompt);
  // A fixed path as well, so an agent CLI's argument array can name it (`--prompt-file reports/prompt-latest.md`).
  await writeFileAtomic(join(opts.reportsDir, 'prompt-latest.md'), prompt);
  // Empty each time: notes left from an earlier run of the fix must not be taken for this one's.
  await writeFile(notesFile, '');
  return { promptFile, notesFile };
}

/**
 * The fixer's notes: its own claims, so redacted, cut to FIX_NOTES_BUDGET and made safe for a
 * terminal before they go on the record; undefined when it wrote nothing (or removed the file).
 */
async function readNotes(path: string, secrets: readonly string[]): Promise<string | undefined> {
  let text: string;
  try {
    // Read no more than a few budgets: a runaway fixer cannot make the loop read gigabytes.
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(FIX_NOTES_BUDGET * 8);
      const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
      text = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
  if (text.trim() === '') return undefined;
  return safeText(truncateRedacted(text, FIX_NOTES_BUDGET, secrets, { note: true }), { multiline: true });
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
