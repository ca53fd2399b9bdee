/**
 * Bytes from the service under test (close reasons, bodies, headers, log lines) must never act on a
 * terminal or a CI runner. Before text reaches stdout, stderr or an annotation:
 *
 * - control characters (C0 but tab, DEL, C1, and the bidirectional overrides that reorder what a
 *   reader sees) are written visibly as `\xNN` / `\uNNNN`, so ESC sequences (`\x1b[2J`, OSC titles)
 *   and NUL cannot act;
 * - a line cannot start with a workflow command: GitHub Actions runs `::command::` (and the older
 *   `##[command]`) when a line of stdout or stderr begins with it, leading spaces allowed, so the
 *   first character of such a prefix is escaped (`\::error::…`).
 *
 * The markdown report escapes on its own terms; this is for the terminal and CI channels.
 */

// C0 except tab (and LF/CR, handled per mode), DEL, C1, bidi embeddings/overrides/isolates, LS/PS.
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]/g;
const WORKFLOW_PREFIX = /^([ \t]*)(::|##\[|##vso\[)/gm;

function visible(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).toUpperCase().padStart(2, '0')}` : `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

export interface SafeTextOptions {
  /** Keep line breaks (each line is still guarded against workflow commands). Default: escape them as `\n`, `\r`. */
  multiline?: boolean;
}

/** `s` with every control character escaped visibly and no line able to start a workflow command. */
export function safeText(s: string, opts: SafeTextOptions = {}): string {
  let out = s.replace(CONTROL, visible);
  if (opts.multiline) out = out.replace(/\r\n?/g, '\n');
  else out = out.replace(/\r/g, '\\r').replace(/\n/g, '\\n');
  return out.replace(WORKFLOW_PREFIX, (_m, lead: string, prefix: string) => `${lead}\\${prefix}`);
}

/** True when `s` holds a byte `safeText` would escape or a line starting a workflow command. */
export function isTerminalSafe(s: string, opts: SafeTextOptions = {}): boolean {
  return safeText(s, opts) === (opts.multiline ? s.replace(/\r\n?/g, '\n') : s);
}

/**
 * For a workflow command's data or property: control characters escaped visibly, then `%`, CR and
 * LF percent-encoded as GitHub asks (`%25`, `%0D`, `%0A`), so the message stays one line.
 */
export function safeAnnotationData(s: string): string {
  return s.replace(CONTROL, visible).replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A workflow command property value: as data, plus `:` and `,` encoded. */
export function safeAnnotationProperty(s: string): string {
  return safeAnnotationData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
