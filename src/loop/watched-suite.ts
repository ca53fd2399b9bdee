/**
 * A smoke run watched by the gate's `abortOnFail` thresholds: after each finished check they are
 * evaluated over the results so far, and the first failure stops the run (see runSuite's stopWhen).
 * Used for the tag URL, each canary step and `deploy-loop smoke`, so all three stop the same way.
 * Evaluation is incremental (incremental-thresholds.ts): each result is added once.
 */
import type { CheckConfig } from '../config/schema.js';
import type { CheckResult } from '../model/check-result.js';
import { SETTLE_MS, runCheck, runSuite, type SuiteOptions } from '../smoke/runner.js';
import { progress } from '../progress.js';
import type { GateExtras } from './gate.js';
import type { StoppedEarly } from '../model/record.js';
import { stoppedEarlyText, type ThresholdConfig } from '../model/thresholds.js';
import { watchThresholds } from './incremental-thresholds.js';

export interface WatchedRun {
  results: CheckResult[];
  /** Set when an abortOnFail threshold stopped the run: the threshold as measured then. */
  stopped?: StoppedEarly;
}

export async function runWatchedSuite(
  checks: CheckConfig[],
  baseUrl: string,
  opts: SuiteOptions,
  thresholds: readonly ThresholdConfig[],
): Promise<WatchedRun> {
  const watched = thresholds.filter((t) => t.abortOnFail);
  if (watched.length === 0) return { results: await runSuite(checks, baseUrl, opts) };
  let stop: Omit<StoppedEarly, 'skipped'> | undefined;
  const watch = watchThresholds(watched);
  const results = await runEachWatched(checks, baseUrl, opts, (fresh) => {
    const failed = watch.add(fresh);
    if (!failed) return false;
    stop = { expr: failed.expr, scope: failed.scope, value: failed.value, samples: failed.samples, afterResults: watch.count };
    opts.log?.warn({ threshold: failed.expr, value: failed.value, afterResults: watch.count }, 'abortOnFail threshold failed: stopping the smoke run');
    return true;
  });
  if (!stop) return { results };
  return { results, stopped: { ...stop, skipped: results.filter((r) => r.status === 'skipped').length } };
}

/**
 * runSuite's pool (bounded concurrency, checks taken in config order, results back in config order),
 * with each check run on its own so `onFinished` sees only that check's results. runSuite's
 * stopWhen hands over every result so far, rebuilt after every check: quadratic at 10,000 checks
 * however cheap the watching. A true answer stops the run as runSuite's stopWhen does: in-flight
 * checks stop, unstarted ones come back 'skipped' (runCheck and runSuite answer so on an aborted signal).
 */
async function runEachWatched(
  checks: CheckConfig[],
  baseUrl: string,
  opts: SuiteOptions,
  onFinished: (fresh: readonly CheckResult[]) => boolean,
): Promise<CheckResult[]> {
  const stopper = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stopper.signal]) : stopper.signal;
  const each: SuiteOptions = { ...opts, signal, concurrency: 1 };
  delete each.stopWhen;
  const results: (CheckResult[] | undefined)[] = new Array(checks.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < checks.length && !signal.aborted) {
      const i = next++;
      const check = checks[i];
      if (!check) continue;
      const fresh = await runOne(check, baseUrl, each);
      results[i] = fresh;
      done++;
      progress().checks(done, checks.length);
      if (!signal.aborted && onFinished(fresh)) stopper.abort();
      // As runSuite: after a failure the worker waits, so the server's last lines about it are its evidence.
      const settle = opts.settleMs ?? SETTLE_MS;
      if (settle > 0 && next < checks.length && fresh.some((r) => r.failure !== undefined)) await pause(settle, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, checks.length)) }, worker));
  const out: CheckResult[] = [];
  for (let i = 0; i < checks.length; i++) {
    const check = checks[i] as CheckConfig;
    out.push(...(results[i] ?? (await runOne(check, baseUrl, each))));
  }
  return out;
}

/** Resolves after `ms`, or at once when the signal aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** One check's results: runCheck for the single-result kinds (no suite machinery per check), runSuite for a command check's cases. */
async function runOne(check: CheckConfig, baseUrl: string, opts: SuiteOptions): Promise<CheckResult[]> {
  return check.kind === 'command' ? runSuite([check], baseUrl, opts) : [await runCheck(check, baseUrl, opts)];
}

/** The gate cannot pass a run that an abortOnFail threshold stopped, whatever the checks that did finish show. */
export function withStopBlocker(extras: GateExtras, stop: StoppedEarly | undefined): GateExtras {
  if (!stop) return extras;
  return { ...extras, blockers: [...(extras.blockers ?? []), stoppedEarlyText(stop)] };
}
