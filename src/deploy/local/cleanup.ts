/**
 * Process-level safety nets for the local target: children are killed when this process exits
 * even if nobody called close(), and secret values never reach logs or reports.
 */

type PidSource = () => number[];

const sources = new Set<PidSource>();
let hooked = false;

/**
 * Registers a source of live child pids, killed with SIGKILL on process exit. execa's
 * `cleanup: true` already covers most exits; this also catches children whose parent exits through
 * process.exit() in the middle of a stop. One 'exit' listener serves every target. No SIGINT
 * handler is added here: that would change how Ctrl-C behaves for the CLI, which owns signals.
 */
export function registerForExitCleanup(source: PidSource): () => void {
  sources.add(source);
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
  }
  return () => {
    sources.delete(source);
  };
}

function killAll(): void {
  for (const source of sources) {
    for (const pid of source()) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
}

/** Values shorter than this are not redacted: hiding every "1" or "on" in a log helps nobody. */
const MIN_SECRET_LENGTH = 4;

/**
 * Replaces the values of the named environment variables (from the target's env, else this
 * process's) with `[redacted]`.
 */
export function secretRedactor(names: readonly string[], env: Record<string, string>): (text: string) => string {
  const values = names
    .map((n) => env[n] ?? process.env[n])
    .filter((v): v is string => typeof v === 'string' && v.length >= MIN_SECRET_LENGTH)
    .sort((a, b) => b.length - a.length); // longest first, so a secret containing another is hidden whole
  if (values.length === 0) return (text) => text;
  return (text) => {
    let out = text;
    for (const v of values) out = out.split(v).join('[redacted]');
    return out;
  };
}
