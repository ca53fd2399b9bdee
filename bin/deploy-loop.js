#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ so it starts without a TypeScript loader.
// Before anything is loaded: an older Node fails later in ways that say nothing (Set.prototype.union
// in validate on Node 20), so it is refused here with the reason. Keep this file to syntax every
// Node since 14 parses. Same minimum as src/cli/entry.ts and package.json "engines".
const MIN_NODE_MAJOR = 22;
const version = process.versions.node;
if (Number(version.split('.')[0]) < MIN_NODE_MAJOR) {
  process.stderr.write(`deploy-loop needs Node.js ${MIN_NODE_MAJOR} or newer; this is ${version}\n`);
  process.exit(2);
}
// Node's on-disk compile cache (22.1+) makes every start after the first skip compiling dist/.
(await import('node:module')).enableCompileCache?.();
const { existsSync } = await import('node:fs');
const { fileURLToPath } = await import('node:url');
const entry = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('deploy-loop: dist/ is missing; run `npm run build` first\n');
  process.exit(70);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
