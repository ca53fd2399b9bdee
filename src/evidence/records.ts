/**
 * Log lines grouped into records: a traceback is one record from its first line (the message, or
 * `Traceback (most recent call last):`) to its last, so evidence never starts or ends mid-trace.
 * Recognises Node (message, `    at` frames, the uncaught-exception header), Python (tracebacks,
 * chained ones, `logger.exception` output) and Go (panics, `http: panic serving`, goroutine dumps).
 * Pure.
 */
import type { TimedLine } from '../model/log-line.js';

export interface LogRecord {
  /** Capture time of the record's first line: the record belongs to the check running then. */
  at: number;
  lines: TimedLine[];
}

type Kind = 'plain' | 'python' | 'go' | 'node-uncaught';

/** Lines captured this close to the one before came from the same write (one `console.error(err)`). */
const SAME_WRITE_MS = 10;

const PY_TRACEBACK = /^Traceback \(most recent call last\):\s*$/;
const PY_CHAIN = /^(During handling of the above exception, another exception occurred:|The above exception was the direct cause of the following exception:)\s*$/;
/** The last line of a Python traceback: `ValueError: boom`, `KeyError`, `mod.CustomError: x`. */
const PY_EXCEPTION = /^[A-Za-z_][\w.]*(: .*)?$/;
const GO_START = /^(panic: |fatal error: )/;
const GO_GOROUTINE = /^goroutine \d+ \[[^\]]*\]:\s*$/;
/** A Go frame's function line: `main.main()`, `net/http.(*conn).serve(0xc0000a4000, {0x7a1e20, 0xc0000b8000})`. */
const GO_FUNC = /^[\w./*()[\]{}-]+\(.*\)(\s+\.\.\.)?$/;
const GO_TAIL = /^(created by |\[signal |exit status \d+$|panic\(|\.\.\.additional frames elided\.\.\.)/;
/** Node's header for an uncaught exception: the throwing file and line, alone on a line. */
const NODE_UNCAUGHT = /^(file:\/\/)?\S+\.(m?js|cjs|ts|mts|cts):\d+$/;
const NODE_VERSION = /^Node\.js v\d/;

interface Open {
  record: LogRecord;
  kind: Kind;
  /** python: the exception line was seen; node-uncaught: the error message was seen. */
  done: boolean;
}

function startKind(text: string): Kind {
  if (PY_TRACEBACK.test(text)) return 'python';
  if (GO_START.test(text) || GO_GOROUTINE.test(text)) return 'go';
  if (NODE_UNCAUGHT.test(text)) return 'node-uncaught';
  return 'plain';
}

/** Whether `line` continues the open record; updates its state when it does. */
function continues(open: Open, line: TimedLine, prev: TimedLine): boolean {
  const text = line.text;
  const sameWrite = line.at - prev.at <= SAME_WRITE_MS;
  if (/^\s/.test(text)) return true;
  if (text === '') return open.kind !== 'plain' || sameWrite;
  // A traceback printed right after a log line (`logger.exception`, `http: panic serving`) belongs to it.
  if (PY_TRACEBACK.test(text)) {
    if (open.kind === 'python' || sameWrite) {
      open.kind = 'python';
      open.done = false;
      return true;
    }
    return false;
  }
  if (GO_GOROUTINE.test(text) && (open.kind === 'go' || sameWrite)) {
    open.kind = 'go';
    return true;
  }
  switch (open.kind) {
    case 'python':
      if (PY_CHAIN.test(text)) return true;
      if (!open.done && PY_EXCEPTION.test(text)) {
        open.done = true;
        return true;
      }
      return !open.done;
    case 'go':
      return GO_FUNC.test(text) || GO_TAIL.test(text);
    case 'node-uncaught':
      if (NODE_VERSION.test(text)) return true;
      if (!open.done) {
        open.done = true;
        return true;
      }
      return false;
    case 'plain':
      return false;
  }
}

/** Groups lines (in capture order) into records. */
export function groupRecords(lines: readonly TimedLine[]): LogRecord[] {
  const out: LogRecord[] = [];
  let open: Open | undefined;
  let prev: TimedLine | undefined;
  for (const line of lines) {
    if (open && prev && continues(open, line, prev)) {
      open.record.lines.push(line);
    } else {
      const record: LogRecord = { at: line.at, lines: [line] };
      out.push(record);
      open = { record, kind: startKind(line.text), done: false };
    }
    prev = line;
  }
  return out;
}
