/** `deploy-loop version` (and `--version`): the package version. */
import { readFile } from 'node:fs/promises';
import { EXIT } from '../errors.js';
import { HELP_OPTION, defineCommand } from './command.js';

export async function packageVersion(): Promise<string> {
  // dist/cli/version.js and src/cli/version.ts both sit two folders below package.json.
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const versionCommand = defineCommand({
  name: 'version',
  summary: 'the version (also --version)',
  description: 'Prints the version of deploy-loop.',
  examples: ['deploy-loop version'],
  options: { ...HELP_OPTION },
  async run() {
    process.stdout.write(`${await packageVersion()}\n`);
    return EXIT.ok;
  },
});
