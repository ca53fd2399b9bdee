/**
 * The demo's build step: syntax-checks every .mjs module of the service (this folder's parent and
 * its subfolders, except node_modules) with `node --check`. A module that does not parse fails the
 * build, naming the file, instead of failing later when the revision starts.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function listModules(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listModules(full));
    else if (entry.isFile() && entry.name.endsWith('.mjs')) out.push(full);
  }
  return out.sort();
}

const files = listModules(root);
const failed = [];
for (const file of files) {
  const r = spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
  if (r.status !== 0) {
    failed.push(relative(root, file));
    process.stderr.write(`check: ${relative(root, file)} does not parse:\n${r.stderr || r.error?.message || ''}\n`);
  }
}
if (failed.length > 0) {
  process.stderr.write(`check: ${failed.length} of ${files.length} modules failed: ${failed.join(', ')}\n`);
  process.exit(1);
}
process.stdout.write(`check: ${files.length} modules parse\n`);
