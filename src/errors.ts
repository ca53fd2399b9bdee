/**
 * One error hierarchy and one exit-code table. Only src/cli.ts turns these into process exit codes.
 * Expected failures inside a cycle (a check failing, a revision not starting) are data, not errors.
 */

export const EXIT = {
  ok: 0,
  gateFailed: 1,
  usage: 2,
  stageFailed: 3,
  loopNotPassed: 4,
  /** run: loop.onRegression: stop ended it on a change that broke a passing check. */
  regression: 5,
  internal: 70,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class DeployLoopError extends Error {
  readonly exitCode: ExitCode;
  /** What to do next, shown after the message. */
  readonly hint: string | undefined;
  constructor(message: string, exitCode: ExitCode, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = hint;
  }
}

export interface ConfigIssue {
  /** File the problem is in. */
  file: string;
  /** 1-based line and column, when the problem maps to a place in the file. */
  line?: number;
  column?: number;
  /** Dotted field path, e.g. `smoke.checks[2].priority`. */
  field: string;
  message: string;
}

export class ConfigError extends DeployLoopError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[], hint?: string) {
    super(issues.map(formatConfigIssue).join('\n'), 2, hint);
    this.issues = issues;
  }
}

export function formatConfigIssue(issue: ConfigIssue): string {
  const where = issue.line !== undefined ? `${issue.file}:${issue.line}:${issue.column ?? 1}` : issue.file;
  const field = issue.field ? ` ${issue.field}:` : '';
  return `${where}:${field} ${issue.message}`;
}

export class UsageError extends DeployLoopError {
  constructor(message: string, hint?: string) {
    super(message, 2, hint);
  }
}

export type Stage = 'build' | 'deploy' | 'traffic' | 'smoke' | 'report' | 'fix' | 'emulator';

export class StageError extends DeployLoopError {
  readonly stage: Stage;
  constructor(stage: Stage, message: string, hint?: string, options?: { cause?: unknown }) {
    super(`${stage}: ${message}`, 3, hint, options);
    this.stage = stage;
  }
}

export class InterruptedError extends DeployLoopError {
  constructor(message = 'interrupted') {
    super(message, 130);
  }
}

export class InternalError extends DeployLoopError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 70, 'this is a bug in deploy-loop; please report it with the log', options);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
