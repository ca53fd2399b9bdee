/**
 * A smoke run watched by the gate's `abortOnFail` thresholds: after each finished check they are
 * evaluated over the results so far, and the first failure stops the run (see runSuite's stopWhen).
 * Used for the tag URL, each canary step and `deploy-loop smoke`, so all three stop the same way.
 * Evaluation is incremental (incremental-thresholds.ts): each result is added once.
 */
import type { CheckConfig } from '../config/schema.js';
import type { CheckResult } from '../model/check-result.js';
import { runSuite, type SuiteOptions } from '../smoke/runner.js';
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
  // runSuite hands stopWhen the check that just finished; each result is added to the watch once.
  const stopWhen = (_soFar: readonly CheckResult[], fresh: readonly CheckResult[]): boolean => {
    const failed = watch.add(fresh);
    if (!failed) return false;
    stop = { expr: failed.expr, scope: failed.scope, value: failed.value, samples: failed.samples, afterResults: watch.count };
    opts.log?.warn({ threshold: failed.expr, value: failed.value, afterResults: watch.count }, 'abortOnFail threshold failed: stopping the smoke run');
    return true;
  };
  const results = await runSuite(checks, baseUrl, { ...opts, stopWhen });
  if (!stop) return { results };
  return { results, stopped: { ...stop, skipped: results.filter((r) => r.status === 'skipped').length } };
}

/** The gate cannot pass a run that an abortOnFail threshold stopped, whatever the checks that did finish show. */
export function withStopBlocker(extras: GateExtras, stop: StoppedEarly | undefined): GateExtras {
  if (!stop) return extras;
  return { ...extras, blockers: [...(extras.blockers ?? []), stoppedEarlyText(stop)] };
}
