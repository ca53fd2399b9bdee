/**
 * Settings that are valid but likely wrong on Cloud Run, as warnings for `validate` and the start of
 * a run (the config still loads). Each names the field and the fix. Pure.
 */
import type { Config } from './schema.js';

/** Cloud Run's request timeout when a revision sets none. */
export const CLOUD_RUN_DEFAULT_TIMEOUT_S = 300;

export interface ConfigWarning {
  /** Dotted path of the field to change, e.g. `target.timeoutSeconds`. */
  path: string;
  message: string;
}

/** The warnings for a loaded config; empty for a local target. */
export function configWarnings(config: Config): ConfigWarning[] {
  const target = config.target;
  if (target.kind !== 'cloudrun') return [];
  const sockets = config.smoke.checks.filter((c) => c.kind === 'websocket').map((c) => c.name);
  if (sockets.length === 0) return [];
  const out: ConfigWarning[] = [];
  const names = sockets.length > 3 ? `${sockets.slice(0, 3).join(', ')} and ${sockets.length - 3} more` : sockets.join(', ');
  const timeout = target.timeoutSeconds ?? CLOUD_RUN_DEFAULT_TIMEOUT_S;
  if (timeout === CLOUD_RUN_DEFAULT_TIMEOUT_S) {
    out.push({
      path: 'target.timeoutSeconds',
      message:
        `target.timeoutSeconds is ${target.timeoutSeconds === undefined ? "unset (Cloud Run's default, 300 s)" : '300 s'} and the config has WebSocket checks (${names}): ` +
        'Cloud Run closes a WebSocket stream when the request timeout runs out, so production sockets are cut after 5 minutes. ' +
        'Set target.timeoutSeconds to the longest a stream must stay open (up to 3600), and let clients reconnect.',
    });
  }
  if (target.portName === 'h2c') {
    out.push({
      path: 'target.portName',
      message: `target.portName is h2c and the config has WebSocket checks (${names}): Cloud Run's WebSocket guidance is not to use HTTP/2 end-to-end. Set target.portName: http1 unless the service needs h2c.`,
    });
  }
  return out;
}

/** `warning: MESSAGE` lines, as validate prints them to stderr. */
export function renderWarnings(warnings: readonly ConfigWarning[]): string {
  return warnings.map((w) => `warning: ${w.message}\n`).join('');
}
