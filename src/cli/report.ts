/** `deploy-loop report`: every report re-rendered from reports/history, or one cycle printed. */
import { join, resolve } from 'node:path';
import { EXIT, UsageError } from '../errors.js';
import type { CycleRecord } from '../model/record.js';
import { CONFIG_OPTION, HELP_OPTION, defineCommand } from './command.js';
import { positiveInt } from './shared.js';

const FORMATS = ['markdown', 'json', 'junit'] as const;

export const reportCommand = defineCommand({
  name: 'report',
  summary: 're-render every report from reports/history',
  description: `Renders every report again from the history records (markdown, JSON, JUnit,
summary) and prints the markdown paths. With --cycle N it prints that cycle's
report on stdout instead and writes nothing.`,
  examples: ['deploy-loop report', 'deploy-loop report --cycle 3 --format junit > cycle-3.xml'],
  options: {
    cycle: { type: 'string', value: 'N', description: 'print this cycle instead of re-rendering all' },
    format: { type: 'string', value: 'F', choices: FORMATS, description: 'with --cycle: markdown (default), json or junit' },
    ...CONFIG_OPTION,
    ...HELP_OPTION,
  },
  async run({ values }) {
    if (values.format !== undefined && values.cycle === undefined) {
      throw new UsageError('--format applies to one printed cycle: add --cycle N', 'without --cycle, report rewrites every format');
    }
    const [{ loadConfig }, { readHistory, recordFileName }, { publishCycle }] = await Promise.all([
      import('../config/load.js'),
      import('../loop/history.js'),
      import('../loop/publish.js'),
    ]);
    const loaded = await loadConfig(values.config ?? 'loop.config.yaml');
    const reportsDir = resolve(loaded.baseDir, loaded.config.reports.dir);
    const history = await readHistory(reportsDir, loaded.config.service);
    for (const p of history.problems) process.stderr.write(`warning: ${p.file}: ${p.message}\n`);
    if (history.records.length === 0) throw new UsageError(`no recorded cycles in ${join(reportsDir, 'history')}`, 'run a cycle first');
    const format = values.format ?? 'markdown';
    if (values.cycle !== undefined) {
      const n = positiveInt('cycle', values.cycle);
      const idx = history.records.findIndex((r) => r.cycle === n);
      const rec = history.records[idx];
      if (!rec) {
        const unreadable = n === undefined ? undefined : history.problems.find((p) => p.file.endsWith(recordFileName(n)));
        if (unreadable) throw new UsageError(`cycle ${n}'s record cannot be rendered: ${unreadable.file}: ${unreadable.message}`, 'fix or restore that file; nothing was written');
        throw new UsageError(`cycle ${n} is not in the history (have ${history.records.map((r) => r.cycle).join(', ')})`);
      }
      process.stdout.write(await render(format, rec, history.records.slice(0, idx)));
      return EXIT.ok;
    }
    for (let i = 0; i < history.records.length; i++) {
      const rec = history.records[i] as CycleRecord;
      const pub = await publishCycle(reportsDir, rec, history.records.slice(0, i));
      process.stdout.write(`${pub.markdown}\n`);
    }
    return EXIT.ok;
  },
});

async function render(format: string, rec: CycleRecord, earlier: CycleRecord[]): Promise<string> {
  if (format === 'json') return `${JSON.stringify((await import('../report/json.js')).renderCycleJson(rec, earlier), null, 2)}\n`;
  if (format === 'junit') return (await import('../report/junit.js')).renderJunit(rec);
  return (await import('../report/markdown.js')).renderCycleMarkdown(rec, earlier);
}
