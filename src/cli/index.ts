/**
 * Every command, in the order help lists them. Each file declares its table and help statically and
 * loads its body's modules when it runs, so `--help` and `validate` start fast.
 */
import type { Command } from './command.js';
import { acceptSuiteCommand } from './accept-suite.js';
import { completionCommand } from './completion.js';
import { cycleCommand } from './cycle.js';
import { emulatorCommand } from './emulator.js';
import { helpCommand } from './help.js';
import { initCommand } from './init.js';
import { reportCommand } from './report.js';
import { rollbackCommand } from './rollback.js';
import { runCommand } from './run.js';
import { schemaCommand } from './schema.js';
import { smokeCommand } from './smoke.js';
import { statusCommand } from './status.js';
import { unlockCommand } from './unlock.js';
import { validateCommand } from './validate.js';
import { versionCommand } from './version.js';

export const COMMANDS: readonly Command[] = [
  runCommand,
  cycleCommand,
  smokeCommand,
  validateCommand,
  initCommand,
  schemaCommand,
  reportCommand,
  acceptSuiteCommand,
  rollbackCommand,
  statusCommand,
  unlockCommand,
  emulatorCommand,
  helpCommand,
  versionCommand,
  completionCommand,
];
