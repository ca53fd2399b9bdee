/**
 * The `command` check kind: runs a user's own test command against the candidate (its URL in
 * DEPLOY_LOOP_URL and BASE_URL), reads the JUnit XML it writes, and turns each test case into a
 * check result with a priority from the config's rules. It never throws: a command that cannot
 * start, or a JUnit file that is missing or malformed, is one result of class 'check-error'.
 * The command runs once per cycle (retries belong to the user's test runner).
 */
import { readFile, rm } from 'node:fs/promises';
import { basename, isAbsolute, relative, resolve } from 'node:path';
import type { CommandCheckConfig } from '../config/schema.js';
import { describeCommandFailure, runCommand, type CommandResult } from '../exec.js';
import type { Logger } from '../log.js';
import { excerpt, failure, joinUrl } from './attempt.js';
import { parseJUnit, type JUnitCase } from './junit-import.js';
import { redactText, secretsFromHeaders } from '../redact.js';
import type { CheckResult, CheckStatus, Failure, FailureClass, Priority } from '../model/check-result.js';

export interface CommandCheckOptions {
  /** Folder that `cwd` (and a relative `junit`) are relative to: the config file's folder. */
  baseDir?: string;
  signal?: AbortSignal;
  /** The suite's extra headers (e.g. an ID token); secrets, handed over in DEPLOY_LOOP_HEADERS. */
  headers?: Record<string, string>;
  log?: Logger;
}

type Rule = CommandCheckConfig['priorities'][number];

/** A glob: `**` matches anything, `*` anything but `sep` (when given), `?` one character. */
export function globToRegExp(glob: string, sep?: string): RegExp {
  const notSep = sep ? `[^${sep.replace(/[\\\]^-]/g, '\\$&')}]` : '.';
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i] ?? '';
    if (ch === '*' && glob[i + 1] === '*') {
      i++;
      // `**/` also matches no folder at all.
      if (sep && glob[i + 1] === sep) {
        i++;
        re += `(?:.*${sep})?`;
      } else re += '.*';
    } else if (ch === '*') re += `${notSep}*`;
    else if (ch === '?') re += notSep;
    else re += ch.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** `/re/flags` is a regular expression; anything else a case-insensitive substring. */
function nameMatches(pattern: string, name: string): boolean {
  const m = /^\/(.+)\/([a-z]*)$/.exec(pattern);
  if (m?.[1] !== undefined) {
    try {
      return new RegExp(m[1], m[2]).test(name);
    } catch {
      return false;
    }
  }
  return name.toLowerCase().includes(pattern.toLowerCase());
}

function fileMatches(glob: string, file: string, cwd: string): boolean {
  const rel = isAbsolute(file) ? relative(cwd, file) : file;
  const re = globToRegExp(glob, '/');
  return re.test(rel.split('\\').join('/')) || (!glob.includes('/') && re.test(basename(file)));
}

/** The first rule that matches the case gives its priority; else the default. */
export function priorityFor(c: Pick<JUnitCase, 'name' | 'suite' | 'file'>, rules: readonly Rule[], fallback: Priority, cwd = process.cwd()): Priority {
  for (const rule of rules) {
    if ('match' in rule && nameMatches(rule.match, c.name)) return rule.priority;
    if ('suite' in rule && globToRegExp(rule.suite).test(c.suite)) return rule.priority;
    if ('file' in rule && c.file && fileMatches(rule.file, c.file, cwd)) return rule.priority;
  }
  return fallback;
}

/** What a failing test's text says about the cause, so one root cause groups as one issue. */
function classOf(text: string): FailureClass {
  if (/ECONNREFUSED|connection refused/i.test(text)) return 'connection-refused';
  if (/ETIMEDOUT|timed? ?out|TimeoutError/i.test(text)) return 'timeout';
  if (/ECONNRESET|ENOTFOUND|EAI_AGAIN|fetch failed|socket hang up/i.test(text)) return 'network';
  return 'assertion';
}

function commandError(check: CommandCheckConfig, message: string, durationMs: number, run?: CommandResult, secrets: string[] = []): CheckResult {
  const f: Failure = failure('check-error', redactText(message, secrets));
  if (run?.outputTail.length) f.evidence.logTail = run.outputTail.map((l) => redactText(l, secrets));
  return {
    name: check.name,
    kind: 'command',
    priority: check.defaultPriority ?? check.priority,
    status: 'error',
    durationMs,
    attempts: 1,
    attemptLog: [{ attempt: 1, status: 'error', durationMs, failure: f }],
    figures: {},
    failure: f,
  };
}

function caseResult(check: CommandCheckConfig, c: JUnitCase, name: string, cwd: string, secrets: string[]): CheckResult {
  const status: CheckStatus = c.status === 'error' ? 'fail' : c.status;
  const durationMs = c.timeMs ?? 0;
  const result: CheckResult = {
    name,
    kind: 'command',
    priority: priorityFor(c, check.priorities, check.defaultPriority ?? check.priority, cwd),
    status,
    durationMs,
    attempts: status === 'skipped' ? 0 : 1,
    figures: {},
  };
  if (status === 'fail') {
    const text = [c.message, c.body].filter(Boolean).join('\n');
    const firstLine = (c.message ?? c.body ?? 'the test failed').split('\n')[0] ?? '';
    const f = failure(classOf(text), redactText(firstLine.slice(0, 300), secrets));
    if (c.body) f.evidence.excerpt = excerpt(c.body, secrets);
    result.failure = f;
  }
  if (status !== 'skipped') result.attemptLog = [{ attempt: 1, status, durationMs, ...(result.failure ? { failure: result.failure } : {}) }];
  return result;
}

/** Runs the command and returns one result per JUnit test case (or one check-error). Never throws. */
export async function runCommandCheck(check: CommandCheckConfig, baseUrl: string, opts: CommandCheckOptions = {}): Promise<CheckResult[]> {
  const cwd = resolve(opts.baseDir ?? process.cwd(), check.cwd ?? '.');
  const junitPath = resolve(cwd, check.junit);
  const secrets = [...secretsFromHeaders(opts.headers, { all: true }), ...secretsFromHeaders(check.headers)];
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  let url: string;
  try {
    url = joinUrl(baseUrl, check.path).href;
  } catch (err) {
    return [commandError(check, `bad candidate URL: ${(err as Error).message}`, elapsed())];
  }
  const headers = { ...(opts.headers ?? {}), ...check.headers };
  const env: Record<string, string> = { ...check.env, DEPLOY_LOOP_URL: url, BASE_URL: url };
  if (Object.keys(headers).length > 0) env.DEPLOY_LOOP_HEADERS = JSON.stringify(headers);

  // A report left from an earlier run must not pass for this one.
  await rm(junitPath, { force: true }).catch(() => undefined);
  const run = await runCommand(check.command, { cwd, env, timeoutMs: check.timeoutMs, signal: opts.signal, log: opts.log });
  if (run.aborted || opts.signal?.aborted) {
    return [{ name: check.name, kind: 'command', priority: check.defaultPriority ?? check.priority, status: 'skipped', durationMs: elapsed(), attempts: 0, figures: {} }];
  }
  const how = run.ok ? 'exited 0' : describeCommandFailure(run);
  if (run.spawnError || run.timedOut) return [commandError(check, `test command ${how}`, elapsed(), run, secrets)];

  let xml: string;
  try {
    xml = await readFile(junitPath, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'was not written' : `could not be read (${(err as Error).message})`;
    return [commandError(check, `JUnit file ${check.junit} ${why}; the test command ${how}`, elapsed(), run, secrets)];
  }
  const parsed = parseJUnit(xml);
  if (!parsed.ok) return [commandError(check, `JUnit file ${check.junit}: ${parsed.error}; the test command ${how}`, elapsed(), run, secrets)];
  if (parsed.cases.length === 0) return [commandError(check, `JUnit file ${check.junit} holds no test case: a suite that ran nothing cannot pass`, elapsed(), run, secrets)];

  const seen = new Map<string, number>();
  const results = parsed.cases.map((c) => {
    let name = [check.name, c.suite, c.name].filter(Boolean).join(' › ');
    const n = (seen.get(name) ?? 0) + 1;
    seen.set(name, n);
    if (n > 1) name = `${name} (${n})`; // names identify checks across cycles, so they must be unique
    return caseResult(check, c, name, cwd, secrets);
  });
  // A non-zero exit with every case passing (a crash after the report, a coverage gate) still fails.
  if (!run.ok && !results.some((r) => r.status === 'fail')) {
    results.push(commandError(check, `test command ${how} although no test case failed`, elapsed(), run, secrets));
  }
  opts.log?.info({ cases: results.length, failed: results.filter((r) => r.status !== 'pass').length }, `smoke ${check.name}: ${results.length} test cases`);
  return results;
}
