/** Whether a module is the file node was asked to run (`node dist/cli.js …`), symlinks resolved. */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export function isEntryPoint(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1) return false;
  try {
    return pathToFileURL(realpathSync(argv1)).href === moduleUrl;
  } catch {
    return false;
  }
}

/** The Node major this build needs; bin/deploy-loop.js checks the same before loading anything. */
export const MIN_NODE_MAJOR = 22;

export function nodeTooOld(version: string = process.versions.node): string | undefined {
  const major = Number(version.split('.')[0]);
  return major < MIN_NODE_MAJOR ? `deploy-loop needs Node.js ${MIN_NODE_MAJOR} or newer; this is ${version}` : undefined;
}
