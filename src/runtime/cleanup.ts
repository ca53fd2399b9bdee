/**
 * Process-level safety net for the local target: revision processes are killed when this process
 * exits, even if nobody called close().
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
