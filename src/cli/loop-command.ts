/**
 * The body `run` and `cycle` share: the loop, the end-of-cycle list on stdout, the --json/--junit
 * copies and the GitHub Actions outputs. Loaded only when one of them runs.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { loadConfig } from '../config/load.js';
import { EXIT, type ExitCode } from '../errors.js';
import { writeFileAtomic } from '../fs-atomic.js';
import { readHistory } from '../loop/history.js';
import { runLoop, type RunOutcome } from '../loop/run.js';
import type { CycleReportJson } from '../model/report.js';
import { renderAnnotations, renderStepSummary } from '../report/ci.js';
import { renderJunit } from '../report/junit.js';
import { renderRunOutcome } from '../report/run-outcome.js';
import { renderCycleEnd } from './render.js';
import { cliLogger, print, verbosity, type LogValues } from './shared.js';

export interface LoopCommandValues extends LogValues {
  config?: string | undefined;
  json?: string | undefined;
  junit?: string | undefined;
  'adopt-live-traffic'?: boolean | undefined;
}

export async function runLoopCommand(command: 'run' | 'cycle', values: LoopCommandValues, signal: AbortSignal, maxCycles?: number): Promise<ExitCode> {
  const quiet = verbosity(values) === 'quiet';
  const log = await cliLogger(values);
  const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
  const cwd = process.cwd();
  const outcome = await runLoop({
    loaded,
    log,
    signal,
    ...(maxCycles !== undefined ? { maxCycles } : {}),
    noFix: command === 'cycle',
    ...(values['adopt-live-traffic'] ? { adoptLiveTraffic: true } : {}),
    onCycle: (rec, pub) => print(renderCycleEnd(rec, pub, cwd, { quiet })),
  });
  await writeExtraOutputs(values, outcome);
  await writeCiOutputs(command, outcome, loaded.config.service);
  const last = outcome.cycles.at(-1);
  if (command === 'run') {
    const detail = last?.runStatusDetail ? ` (${last.runStatusDetail})` : '';
    print(`run: ${outcome.status} after ${outcome.cycles.length} cycle(s)${detail}; reports in ${outcome.reportsDir}\n`);
  }
  if (outcome.status === 'interrupted') return EXIT.interrupted;
  if (command === 'run') return outcome.status === 'passed' ? EXIT.ok : outcome.status === 'regression' ? EXIT.regression : EXIT.loopNotPassed;
  if (!last) return EXIT.internal;
  if (last.verdict === 'passed') return EXIT.ok;
  if (last.verdict === 'build-failed' || last.verdict === 'deploy-failed' || last.verdict === 'error') return EXIT.stageFailed;
  return EXIT.gateFailed;
}

async function writeExtraOutputs(values: LoopCommandValues, outcome: RunOutcome): Promise<void> {
  const last = outcome.cycles.at(-1);
  if (values.json) {
    // The last cycle's report as written, so the copy cannot differ from reports/cycle-NNN.json.
    const lastJson = outcome.published.at(-1)?.json;
    const lastReport = lastJson ? (JSON.parse(await readFile(lastJson, 'utf8')) as CycleReportJson) : undefined;
    await writeFileAtomic(resolve(values.json), `${JSON.stringify(renderRunOutcome(outcome, lastReport, process.cwd()), null, 2)}\n`);
  }
  if (values.junit && last) await writeFileAtomic(resolve(values.junit), renderJunit(last));
}

/** GitHub Actions: a step summary when GITHUB_STEP_SUMMARY names a file, `::error` annotations when GITHUB_ACTIONS=true. */
async function writeCiOutputs(command: 'run' | 'cycle', outcome: RunOutcome, service: string): Promise<void> {
  const last = outcome.cycles.at(-1);
  if (!last) return;
  const summaryFile = process.env.GITHUB_STEP_SUMMARY;
  const annotate = process.env.GITHUB_ACTIONS === 'true';
  if (!summaryFile && !annotate) return;
  const earlier = (await readHistory(outcome.reportsDir, service)).records.filter((r) => r.cycle < last.cycle);
  if (summaryFile) {
    const runLine = command === 'run' ? `**deploy-loop run: ${outcome.status}** after ${outcome.cycles.length} cycle(s).` : undefined;
    await appendFile(summaryFile, renderStepSummary(last, earlier, runLine));
  }
  if (annotate) for (const line of renderAnnotations(last, earlier, process.cwd())) print(`${line}\n`);
}
