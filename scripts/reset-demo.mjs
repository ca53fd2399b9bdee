/**
 * Resets the bundled demo: a fresh working copy of examples/chat-service (with its P0 fault) at
 * .deploy-loop/demo/chat-service, and no reports from an earlier demo run. reports/ is removed only
 * when everything in it is deploy-loop output, so a user's own files there are never lost.
 *
 *   node scripts/reset-demo.mjs
 */
import { cpSync, existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'examples', 'chat-service');
const workingCopy = join(root, '.deploy-loop', 'demo', 'chat-service');
const reportsDir = join(root, 'reports');

/** What deploy-loop writes into reports/; anything else there belongs to someone else. */
const OUTPUT_FILES = [
  /^cycle-\d{3,}(\.junit)?\.(md|json|xml)$/,
  /^latest\.(md|json|xml)$/,
  /^history\.jsonl$/,
  /^summary\.md$/,
  /^index\.html$/,
  /^issues-.+\.json$/,
  /^(prompt|fix-notes)-\d{3,}\.md$/,
  /^prompt-latest\.md$/,
  /^history-index\.json$/,
  /^\.inputs-key$/,
  /^\.lock$/,
  /\.tmp$/,
];
const OUTPUT_DIRS = ['history', 'runs', '.processes', '.changes'];

function isOutput(dir, name) {
  if (statSync(join(dir, name)).isDirectory()) return OUTPUT_DIRS.includes(name);
  return OUTPUT_FILES.some((re) => re.test(name));
}

rmSync(workingCopy, { recursive: true, force: true });
cpSync(source, workingCopy, {
  recursive: true,
  filter: (src) => !['node_modules', '.DS_Store'].includes(basename(src)),
});
const copied = `fresh working copy at ${relative(root, workingCopy)} (with its P0 fault)`;

let reports;
if (!existsSync(reportsDir)) {
  reports = 'no reports to clear';
} else {
  const entries = readdirSync(reportsDir);
  const foreign = entries.filter((name) => !isOutput(reportsDir, name));
  if (foreign.length === 0) {
    rmSync(reportsDir, { recursive: true, force: true });
    reports = `cleared ${relative(root, reportsDir)}/ (${entries.length} entries)`;
  } else {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? `, +${foreign.length - 3} more` : '');
    reports = `kept ${relative(root, reportsDir)}/ because it holds files deploy-loop did not write (${shown})`;
  }
}
process.stdout.write(`reset-demo: ${copied}; ${reports}\n`);
