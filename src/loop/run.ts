/**
 * The loop: cycles until the gate passes or a bound is hit, with the fix command in between, as a
 * list of named steps (run-steps.ts): open (lock, recover) → lock the service → per cycle: reload
 * the config → assess the suite → the cycle → publish → revert a regression (loop.onRegression) → fix. Everything the loop started is stopped
 * before it returns, however it ends.
 */
import type { RunOutcome } from '../model/run-outcome.js';
import { type LoopOptions, closeRun, cycleStep, endingAfterCycle, fixStep, lockServiceStep, openRun, publishStep, reloadStep, revertStep, suiteStep } from './run-steps.js';

export type { RunStatus } from '../model/record.js';
export type { RunOutcome } from '../model/run-outcome.js';
export type { LoopOptions } from './run-steps.js';

export async function runLoop(opts: LoopOptions): Promise<RunOutcome> {
  const run = await openRun(opts);
  try {
    await lockServiceStep(run);
    for (let i = 0; i < run.maxCycles; i++) {
      if (i > 0) await reloadStep(run);
      const integrity = suiteStep(run);
      const record = await cycleStep(run, integrity);
      const ended = endingAfterCycle(run, record, i === run.maxCycles - 1);
      await publishStep(run, record, ended);
      if (ended) break;
      await revertStep(run, record);
      if (await fixStep(run, record)) break;
    }
  } finally {
    await closeRun(run);
  }
  run.log.info({ status: run.outcome.status, cycles: run.outcome.cycles.length }, 'loop ended');
  return run.outcome;
}
