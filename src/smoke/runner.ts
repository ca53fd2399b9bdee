/**
 * The smoke runner: checks run with bounded concurrency, each with a per-attempt timeout and retries.
 * Checks return results and never throw; an abort of the suite stops in-flight checks and marks
 * everything unfinished `skipped`.
 */
import type { CheckConfig } from '../config/schema.js';
import { runCommandCheck } from './command.js';
import type { Logger } from '../log.js';
import { failedOutcome, failure, mergeHeaders, redactFailure, type AttemptContext, type AttemptOutcome } from './attempt.js';
import { describeError } from './classify.js';
import { runHttpAttempt } from './http.js';
import { mergeSamples } from '../model/samples.js';
import { mergeRetry, retryDelayMs, shouldRetry, type RetryPolicy } from '../model/retry.js';
import { secretsFromHeaders } from '../redact.js';
import type { AttemptRecord, CheckFigures, CheckResult, CheckStatus } from '../model/check-result.js';
import { runWebSocketAttempt } from './websocket.js';
import { progress } from '../progress.js';
import { onAbort } from './abort-fanout.js';

export { classifyError } from './classify.js';

export interface SuiteOptions {
  /** How many checks run at the same time. */
  concurrency: number;
  defaults: { timeoutMs: number; retries: number; retryDelayMs: number; retry?: RetryPolicy | undefined };
  /** Abort: in-flight checks stop, unfinished ones are status 'skipped'. */
  signal?: AbortSignal;
  log?: Logger;
  /**
   * Extra headers on every request and handshake (e.g. an ID token). A check's own header of the same
   * name wins. Their values are treated as secrets and never appear in evidence.
   */
  headers?: Record<string, string>;
  /** Folder a `command` check's `cwd` is relative to (the config file's folder); default the process cwd. */
  baseDir?: string;
  /**
   * Asked after each check finishes, with every result so far (in the order the checks finished, not
   * config order) and the results of the check that just finished (one, or a command check's cases).
   * `soFar` is one array the runner appends to, so asking costs nothing per result already seen; copy
   * it to keep it. A truthy answer stops the suite as an abort does: in-flight checks stop, unstarted
   * ones are 'skipped'.
   */
  stopWhen?: (soFar: readonly CheckResult[], fresh: readonly CheckResult[]) => boolean;
  /**
   * After a check that did not pass, its worker waits this long before the next check: lines the
   * server writes as the failure ends (a close it logs, a stack printed after the 500) arrive before
   * the next check's attempts start, so they are attributed to the failed check (see
   * src/evidence/log-window.ts). Default SETTLE_MS; 0 turns it off.
   */
  settleMs?: number;
}

export const SETTLE_MS = 100;

/** The kinds that make one result per check; a `command` check makes one per test case. */
type SingleCheckConfig = Exclude<CheckConfig, { kind: 'command' }>;

type Attempt = (check: SingleCheckConfig, baseUrl: string, ctx: AttemptContext) => Promise<AttemptOutcome>;

/** One runner per check kind; the Record makes the compiler list every kind. */
const RUNNERS: Record<SingleCheckConfig['kind'], Attempt> = {
  http: (check, baseUrl, ctx) => runHttpAttempt(check as Extract<CheckConfig, { kind: 'http' }>, baseUrl, ctx),
  websocket: (check, baseUrl, ctx) => runWebSocketAttempt(check as Extract<CheckConfig, { kind: 'websocket' }>, baseUrl, ctx),
};

function skippedResult(check: CheckConfig): CheckResult {
  return { name: check.name, kind: check.kind, priority: check.priority, status: 'skipped', durationMs: 0, attempts: 0, figures: {} };
}

/** Resolves after `ms`, or early (false) when the signal aborts. */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * An attempt's context. Its `signal` (the attempt's timeout or the suite's abort) is made only when a
 * check kind asks for it: the http kind bounds its request with a timer of its own, and an
 * AbortSignal.timeout + AbortSignal.any per attempt was a measurable share of the check path.
 */
class AttemptScope implements AttemptContext {
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopWatching: (() => void) | undefined;

  constructor(
    readonly timeoutMs: number,
    readonly headers: Record<string, string>,
    readonly secrets: string[],
    readonly suiteSignal: AbortSignal | undefined,
  ) {}

  get signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    const suite = this.suiteSignal;
    if (suite?.aborted) controller.abort(suite.reason);
    else {
      // As AbortSignal.timeout: a TimeoutError reason, and the timer does not hold the process open.
      this.timer = setTimeout(() => controller.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError')), this.timeoutMs).unref();
      if (suite) this.stopWatching = onAbort(suite, () => controller.abort(suite.reason));
    }
    return controller.signal;
  }

  /** The attempt is over: its timer and its watch on the suite go. */
  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.stopWatching?.();
  }
}

async function attemptOnce(check: SingleCheckConfig, baseUrl: string, opts: SuiteOptions, base: { timeoutMs: number; headers: Record<string, string>; secrets: string[] }): Promise<AttemptOutcome> {
  const scope = new AttemptScope(base.timeoutMs, base.headers, base.secrets, opts.signal);
  try {
    return await RUNNERS[check.kind](check, baseUrl, scope);
  } catch (err) {
    // The kinds return failures as data; reaching here is a bug in a check runner.
    return failedOutcome(failure('check-error', `check crashed: ${describeError(err)}`));
  } finally {
    scope.dispose();
  }
}

/** Runs one check with its retries. Never throws. */
export async function runCheck(check: SingleCheckConfig, baseUrl: string, opts: SuiteOptions): Promise<CheckResult> {
  if (opts.signal?.aborted) return skippedResult(check);
  const started = performance.now();
  const retries = check.retries ?? opts.defaults.retries;
  const timeoutMs = check.timeoutMs ?? opts.defaults.timeoutMs;
  const { headers, secrets } = requestHeaders(check, opts.headers);
  const base = { timeoutMs, headers, secrets };
  const log = opts.log?.child({ check: check.name });
  const policy = mergeRetry(opts.defaults.retry, check.retry);

  const attemptLog: AttemptRecord[] = [];
  // Figures of every attempt that ran to its end: thresholds see each attempt's samples.
  const measuredFigures: CheckFigures[] = [];
  let last: AttemptOutcome | undefined;
  let status: CheckStatus = 'skipped';
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    if (attempt > 1 && !(await sleep(retryDelayMs(policy, attempt - 1, opts.defaults.retryDelayMs), opts.signal))) break;
    const t0 = performance.now();
    // Wall-clock bounds of the attempt: the log lines the revision wrote in between are its evidence.
    const startedAt = Date.now();
    const outcome = await attemptOnce(check, baseUrl, opts, base);
    const durationMs = Math.round(performance.now() - t0);
    const endedAt = Date.now();
    if (opts.signal?.aborted && outcome.status !== 'pass') {
      // Whatever the attempt saw, it was cut short by the abort: it did not finish.
      attemptLog.push({ attempt, status: 'skipped', durationMs, startedAt, endedAt });
      log?.debug({ attempt, durationMs }, 'smoke attempt aborted');
      last = undefined;
      break;
    }
    if (outcome.failure) outcome.failure = redactFailure(outcome.failure, secrets);
    const record: AttemptRecord = { attempt, status: outcome.status, durationMs, startedAt, endedAt };
    measuredFigures.push(outcome.figures);
    if (outcome.failure) record.failure = outcome.failure;
    attemptLog.push(record);
    log?.debug({ attempt, status: outcome.status, durationMs, class: outcome.failure?.class }, 'smoke attempt');
    last = outcome;
    status = outcome.status;
    if (outcome.status === 'pass') break;
    if (!shouldRetry(policy, outcome.failure?.class)) {
      if (attempt <= retries) log?.debug({ attempt, class: outcome.failure?.class }, 'not retried: class not in retry.onlyOn');
      break;
    }
  }
  // An abort between or during attempts leaves the check unfinished, whatever came before.
  if (opts.signal?.aborted && status !== 'pass') {
    status = 'skipped';
    last = undefined;
  }
  if (status === 'pass' && last && isDegraded(check, last.figures)) status = 'degraded';

  const result: CheckResult = {
    name: check.name,
    kind: check.kind,
    priority: check.priority,
    status,
    durationMs: Math.round(performance.now() - started),
    attempts: attemptLog.length,
    attemptLog,
    figures: withAllSamples(last?.figures ?? {}, measuredFigures),
  };
  if (last?.failure) result.failure = last.failure;
  // A failing check is a warning with its reason, so a terminal shows why without the report.
  const failed = status === 'fail' || status === 'error';
  log?.[failed ? 'warn' : 'info'](
    { status, durationMs: result.durationMs, attempts: result.attempts, class: result.failure?.class, ...(failed ? { reason: result.failure?.message } : {}) },
    `smoke ${check.name}: ${status}`,
  );
  return result;
}

interface CheckHeaders {
  suite: Record<string, string> | undefined;
  headers: Record<string, string>;
  secrets: string[];
}

/**
 * A check's merged headers and the secrets they hold, worked out once per check and suite headers
 * rather than once per run of the check: a loop runs the same checks every cycle, and this was per
 * check work on the hot path. Neither is mutated downstream (the kinds copy before adding headers).
 */
const checkHeaders = new WeakMap<SingleCheckConfig, CheckHeaders>();

function requestHeaders(check: SingleCheckConfig, suite: Record<string, string> | undefined): CheckHeaders {
  const known = checkHeaders.get(check);
  if (known && known.suite === suite) return known;
  const made: CheckHeaders = {
    suite,
    headers: mergeHeaders(suite, check.headers),
    secrets: [...secretsFromHeaders(suite, { all: true }), ...secretsFromHeaders(check.headers)],
  };
  checkHeaders.set(check, made);
  return made;
}

/** The last attempt's figures, with the samples of every attempt in place of its own. */
function withAllSamples(figures: CheckFigures, attempts: readonly CheckFigures[]): CheckFigures {
  if (attempts.length === 0) return figures;
  if (attempts.length === 1 && attempts[0] === figures) {
    // One attempt (the usual case): its samples are already the set, or its one figure stands as one
    // sample; what mergeSamples would answer, without building it.
    if (figures.samples !== undefined) {
      const { samples, ...rest } = figures;
      return { ...rest, samples };
    }
    const { latencyMs, connectMs } = figures;
    if (latencyMs === undefined && connectMs === undefined) return figures;
    const samples: NonNullable<CheckFigures['samples']> = {};
    if (latencyMs !== undefined) samples.latencyMs = [latencyMs];
    if (connectMs !== undefined) samples.connectMs = [connectMs];
    return { ...figures, samples };
  }
  const samples = mergeSamples(attempts);
  const { samples: _own, ...rest } = figures;
  return samples ? { ...rest, samples } : rest;
}

/** Passed, but slower than `degradedMs`: http by latency, websocket by its slowest connect. */
function isDegraded(check: SingleCheckConfig, figures: CheckFigures): boolean {
  if (check.degradedMs === undefined) return false;
  const took = check.kind === 'http' ? figures.latencyMs : (figures.connectMaxMs ?? figures.connectMs);
  return took !== undefined && took > check.degradedMs;
}

/**
 * Runs the checks with bounded concurrency; results come back in config order, a `command` check's
 * test cases in place of it. Never throws.
 */
export async function runSuite(checks: CheckConfig[], baseUrl: string, suiteOpts: SuiteOptions): Promise<CheckResult[]> {
  const results: (CheckResult[] | undefined)[] = new Array(checks.length);
  const stop = new AbortController();
  const signal = suiteOpts.signal ? AbortSignal.any([suiteOpts.signal, stop.signal]) : stop.signal;
  const opts: SuiteOptions = { ...suiteOpts, signal };
  const stopWhen = opts.stopWhen;
  const settle = opts.settleMs ?? SETTLE_MS;
  // Incremental state: a counter for the progress line and one growing array for stopWhen, so the
  // work per finished check does not grow with the checks before it.
  const soFar: CheckResult[] = [];
  let done = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < checks.length && !signal.aborted) {
      const i = next++;
      const check = checks[i];
      if (!check) continue;
      const fresh =
        check.kind === 'command'
          ? await runCommandCheck(check, baseUrl, { baseDir: opts.baseDir, signal, headers: opts.headers, log: opts.log?.child({ check: check.name }) })
          : [await runCheck(check, baseUrl, opts)];
      results[i] = fresh;
      done++;
      progress().checks(done, checks.length);
      if (stopWhen && !signal.aborted) {
        for (const r of fresh) soFar.push(r);
        if (stopWhen(soFar, fresh)) stop.abort();
      }
      if (settle > 0 && next < checks.length && fresh.some((r) => r.failure !== undefined)) await sleep(settle, signal);
    }
  };
  const workers = Math.max(1, Math.min(opts.concurrency, checks.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return checks.flatMap((check, i) => results[i] ?? [skippedResult(check)]);
}
