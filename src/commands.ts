/** Command bodies. They return exit codes; only cli.ts exits. */
import { appendFile, readFile } from 'node:fs/promises';
import { resolve, join } from 'node:path';
import type { CliValues } from './cli.js';
import { loadConfig } from './config/load.js';
import { renderJsonSchema } from './config/json-schema.js';
import { EXIT, UsageError, type ExitCode } from './errors.js';
import { writeFileAtomic } from './fs-atomic.js';
import { createLogger, type LogFormat, type Logger } from './log.js';
import { assessGate } from './loop/gate.js';
import { readHistory, recordFileName } from './loop/history.js';
import { diffSuites, fingerprintSuite, readAcceptedSuite, writeAcceptedSuite } from './loop/integrity.js';
import { publishCycle } from './loop/publish.js';
import type { CycleRecord } from './model/record.js';
import { runLoop, type RunOutcome } from './loop/run.js';
import { runWatchedSuite, withStopBlocker } from './loop/watched-suite.js';
import { renderAnnotations, renderStepSummary } from './report/ci.js';
import { renderCycleJson } from './report/json.js';
import { renderRunOutcome } from './report/run-outcome.js';
import { renderJunit } from './report/junit.js';
import { renderCycleMarkdown } from './report/markdown.js';
import { collectSecrets } from './redact.js';
import { type CycleReportJson } from './model/report.js';

const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;

function logger(values: CliValues): Logger {
  const format = values['log-format'] ?? 'auto';
  if (!(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`--log-format must be one of ${LOG_FORMATS.join(', ')} (got "${format}")`);
  }
  return createLogger({ format: format as LogFormat, ...(values['log-level'] ? { level: values['log-level'] } : {}) });
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number of at least 1 (got "${value}")`);
  return n;
}

export async function runCommandLine(command: string, values: CliValues, signal: AbortSignal, args: readonly string[] = []): Promise<ExitCode> {
  switch (command) {
    case 'run':
    case 'cycle':
      return runOrCycle(command, values, signal);
    case 'smoke':
      return smokeOnly(values, signal);
    case 'validate':
      return validate(values);
    case 'init': {
      const { initConfig } = await import('./init.js');
      const file = await initConfig({
        file: values.config ?? 'loop.config.yaml',
        force: values.force === true,
        ...(values.service !== undefined ? { service: values.service } : {}),
        ...(values.target !== undefined ? { target: values.target } : {}),
        ...(values['health-path'] !== undefined ? { healthPath: values['health-path'] } : {}),
        ...(values['ws-path'] !== undefined ? { wsPath: values['ws-path'] } : {}),
      });
      process.stdout.write(`wrote ${file}; check it with: deploy-loop validate${values.config && values.config !== 'loop.config.yaml' ? ` -c ${values.config}` : ''}\n`);
      return EXIT.ok;
    }
    case 'schema':
      process.stdout.write(await schemaText(args[0] ?? 'config'));
      return EXIT.ok;
    case 'report':
      return report(values);
    case 'accept-suite':
      return acceptSuite(values);
    case 'rollback': {
      const { rollback } = await import('./traffic/rollback-command.js');
      const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
      return rollback({ loaded, log: logger(values), signal, ...(values.revision ? { revision: values.revision } : {}) });
    }
    case 'emulator':
      return emulator(values, signal);
    default:
      throw new UsageError(`unknown command "${command}"`, 'run deploy-loop --help for the list of commands');
  }
}

async function schemaText(which: string): Promise<string> {
  if (which === 'config') return renderJsonSchema();
  const schemas = await import('./report/json-schema.js');
  const render: Record<string, () => string> = {
    report: schemas.renderReportJsonSchema,
    record: schemas.renderRecordJsonSchema,
    issues: schemas.renderFixIssuesJsonSchema,
    outcome: schemas.renderRunOutcomeJsonSchema,
  };
  const chosen = render[which];
  if (!chosen) throw new UsageError(`unknown schema "${which}"`, 'deploy-loop schema config | report | record | issues | outcome');
  return chosen();
}

async function runOrCycle(command: 'run' | 'cycle', values: CliValues, signal: AbortSignal): Promise<ExitCode> {
  const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
  const log = logger(values);
  const maxCycles = command === 'cycle' ? 1 : positiveInt('max-cycles', values['max-cycles']);
  const outcome = await runLoop({
    loaded,
    log,
    signal,
    ...(maxCycles !== undefined ? { maxCycles } : {}),
    noFix: command === 'cycle',
    onCycle: (rec, pub) => process.stdout.write(`cycle ${rec.cycle}: ${rec.verdict}  ${pub.markdown}\n`),
  });
  await writeExtraOutputs(values, outcome);
  await writeCiOutputs(command, outcome, loaded.config.service);
  const last = outcome.cycles.at(-1);
  if (command === 'run') {
    const detail = last?.runStatusDetail ? ` (${last.runStatusDetail})` : '';
    process.stdout.write(`run: ${outcome.status} after ${outcome.cycles.length} cycle(s)${detail}; reports in ${outcome.reportsDir}\n`);
  }
  if (outcome.status === 'interrupted') return EXIT.interrupted;
  if (command === 'run') {
    return outcome.status === 'passed' ? EXIT.ok : EXIT.loopNotPassed;
  }
  if (!last) return EXIT.internal;
  if (last.verdict === 'passed') return EXIT.ok;
  if (last.verdict === 'build-failed' || last.verdict === 'deploy-failed' || last.verdict === 'error') return EXIT.stageFailed;
  return EXIT.gateFailed;
}

async function writeExtraOutputs(values: CliValues, outcome: RunOutcome): Promise<void> {
  const last = outcome.cycles.at(-1);
  if (values.json) {
    // The last cycle's report as written, so the copy cannot differ from reports/cycle-NNN.json.
    const lastJson = outcome.published.at(-1)?.json;
    const lastReport = lastJson ? (JSON.parse(await readFile(lastJson, 'utf8')) as CycleReportJson) : undefined;
    await writeFileAtomic(resolve(values.json), `${JSON.stringify(renderRunOutcome(outcome, lastReport), null, 2)}\n`);
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
  if (annotate) for (const line of renderAnnotations(last, earlier, process.cwd())) process.stdout.write(`${line}\n`);
}

async function smokeOnly(values: CliValues, signal: AbortSignal): Promise<ExitCode> {
  if (!values.url) throw new UsageError('smoke needs --url URL (the base URL to test)');
  let url: URL;
  try {
    url = new URL(values.url);
  } catch {
    throw new UsageError(`--url is not a URL: "${values.url}"`);
  }
  const { config, baseDir } = await loadConfig(values.config ?? 'loop.config.yaml');
  const log = logger(values);
  const { results, stopped } = await runWatchedSuite(
    config.smoke.checks,
    url.href,
    { concurrency: config.smoke.concurrency, defaults: config.smoke.defaults, signal, log, baseDir },
    config.gate.thresholds ?? [],
  );
  if (signal.aborted) return EXIT.interrupted;
  const gate = assessGate(results, config.gate, withStopBlocker({}, stopped));
  for (const r of results) {
    const fig = r.figures.latencyMs ?? r.figures.connectMs;
    const detail = r.failure ? `  ${r.failure.class}: ${r.failure.message}` : '';
    process.stdout.write(`${r.status.padEnd(5)} ${r.priority} ${r.name}${fig !== undefined ? ` (${fig} ms)` : ''}${detail}\n`);
  }
  process.stdout.write(`gate: ${gate.passed ? 'passed' : `failed: ${gate.reasons.join('; ')}`}\n`);
  return gate.passed ? EXIT.ok : EXIT.gateFailed;
}

async function validate(values: CliValues): Promise<ExitCode> {
  const { config, file } = await loadConfig(values.config ?? 'loop.config.yaml');
  const byPriority = config.smoke.checks.reduce<Record<string, number>>((m, c) => ({ ...m, [c.priority]: (m[c.priority] ?? 0) + 1 }), {});
  process.stdout.write(
    `${file}: valid\n  service ${config.service}, build ${config.build.kind}, target ${config.target.kind}\n` +
      `  ${config.smoke.checks.length} checks (${Object.entries(byPriority).sort().map(([p, n]) => `${p}: ${n}`).join(', ')})\n`,
  );
  return EXIT.ok;
}

async function report(values: CliValues): Promise<ExitCode> {
  const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
  const reportsDir = resolve(loaded.baseDir, loaded.config.reports.dir);
  const history = await readHistory(reportsDir, loaded.config.service);
  for (const p of history.problems) process.stderr.write(`warning: ${p.file}: ${p.message}\n`);
  if (history.records.length === 0) throw new UsageError(`no recorded cycles in ${join(reportsDir, 'history')}`, 'run a cycle first');
  const format = values.format ?? 'markdown';
  if (!['markdown', 'json', 'junit'].includes(format)) throw new UsageError(`--format must be markdown, json or junit (got "${format}")`);
  if (values.cycle !== undefined) {
    const n = positiveInt('cycle', values.cycle);
    const idx = history.records.findIndex((r) => r.cycle === n);
    const rec = history.records[idx];
    if (!rec) {
      const unreadable = n === undefined ? undefined : history.problems.find((p) => p.file.endsWith(recordFileName(n)));
      if (unreadable) throw new UsageError(`cycle ${n}'s record cannot be rendered: ${unreadable.file}: ${unreadable.message}`, 'fix or restore that file; nothing was written');
      throw new UsageError(`cycle ${n} is not in the history (have ${history.records.map((r) => r.cycle).join(', ')})`);
    }
    const earlier = history.records.slice(0, idx);
    process.stdout.write(render(format, rec, earlier));
    return EXIT.ok;
  }
  for (let i = 0; i < history.records.length; i++) {
    const rec = history.records[i] as CycleRecord;
    const pub = await publishCycle(reportsDir, rec, history.records.slice(0, i));
    process.stdout.write(`${pub.markdown}\n`);
  }
  return EXIT.ok;
}

/** Records the current suite and gate as accepted by a person: weakening changes stop blocking the gate. */
async function acceptSuite(values: CliValues): Promise<ExitCode> {
  if (process.env.DEPLOY_LOOP_CYCLE !== undefined) {
    throw new UsageError('accept-suite cannot run inside the loop\'s fix step: a person accepts a changed suite, not the agent that changed it');
  }
  const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
  const reportsDir = resolve(loaded.baseDir, loaded.config.reports.dir);
  const current = fingerprintSuite(loaded.config.smoke.checks, loaded.config.gate, collectSecrets(loaded.config));
  const last = (await readHistory(reportsDir, loaded.config.service)).records.at(-1)?.suite?.fingerprint;
  const before = (await readAcceptedSuite(reportsDir))?.fingerprint ?? last;
  const changes = before ? diffSuites(before, current) : [];
  const file = await writeAcceptedSuite(reportsDir, current);
  process.stdout.write(`accepted suite ${current.sha256.slice(0, 12)} (${Object.keys(current.checks).length} checks) in ${file}\n`);
  for (const c of changes) process.stdout.write(`  ${c.weakening ? 'weakened: ' : ''}${c.text}\n`);
  return EXIT.ok;
}

function render(format: string, rec: CycleRecord, earlier: CycleRecord[]): string {
  if (format === 'json') return `${JSON.stringify(renderCycleJson(rec, earlier), null, 2)}\n`;
  if (format === 'junit') return renderJunit(rec);
  return renderCycleMarkdown(rec, earlier);
}

async function emulator(values: CliValues, signal: AbortSignal): Promise<ExitCode> {
  const port = values.port === undefined ? 0 : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535 (got "${values.port}")`);
  const { startEmulator } = await import('./emulator/index.js');
  const log = logger(values);
  const emu = await startEmulator({ port, log, ...(values['emulator-config'] ? { configFile: values['emulator-config'] } : {}) });
  process.stdout.write(`Cloud Run Admin API emulator on ${emu.endpoint}${emu.adminUrl ? ` (faults: ${emu.adminUrl})` : ''}\n`);
  await new Promise<void>((res) => signal.addEventListener('abort', () => res(), { once: true }));
  await emu.close();
  return EXIT.ok;
}
