/**
 * A one-line progress indicator on stderr for long stages, shown only on a terminal. Log lines are
 * written through `ProgressAwareStream`, which clears the line before a log line and redraws it after,
 * so the two never garble each other. During a smoke run it shows how many checks are done.
 */
import { Writable } from 'node:stream';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export interface ProgressOptions {
  /**
   * Clear the line with an ANSI erase (default). Without colours (NO_COLOR, --no-color) the line is
   * overwritten with spaces instead, so the output carries no escape sequence at all.
   */
  ansi?: boolean;
}

export class Progress {
  private text = '';
  private started = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private shownWidth = 0;
  private counts: { done: number; total: number } | undefined;
  private readonly ansi: boolean;

  constructor(
    private readonly out: NodeJS.WriteStream | undefined,
    opts: ProgressOptions = {},
  ) {
    this.ansi = opts.ansi ?? true;
  }

  get enabled(): boolean {
    return this.out !== undefined;
  }

  /** Shows `text` with a spinner and the seconds since this stage began. */
  stage(text: string): void {
    if (!this.out) return;
    this.text = text;
    this.counts = undefined;
    this.started = performance.now();
    if (!this.timer) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
    this.draw();
  }

  /**
   * `done` of `total` checks of the current smoke run have finished: shown as `N/M checks` after the
   * stage text. The smoke runner calls this after each check (a command check counts as one).
   */
  checks(done: number, total: number): void {
    if (!this.out) return;
    this.counts = { done, total };
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
    this.text = '';
    this.counts = undefined;
  }

  clear(): void {
    if (!this.out || this.shownWidth === 0) return;
    this.out.write(this.ansi ? '\r\x1b[K' : `\r${' '.repeat(this.shownWidth)}\r`);
    this.shownWidth = 0;
  }

  /** The line as drawn now, without the terminal control around it. */
  line(): string {
    const secs = ((performance.now() - this.started) / 1000).toFixed(1);
    const counts = this.counts ? ` · ${this.counts.done}/${this.counts.total} checks` : '';
    return `${FRAMES[this.frame]} ${this.text}${counts} · ${secs}s`;
  }

  draw(): void {
    if (!this.out || !this.text) return;
    this.frame = (this.frame + 1) % FRAMES.length;
    // A pseudo-terminal may report 0 columns: then 80.
    const line = [...this.line()].slice(0, Math.max(10, (this.out.columns || 80) - 1)).join('');
    const width = [...line].length;
    // Without an erase sequence, a shorter line leaves the tail of the longer one: pad over it.
    const pad = !this.ansi && width < this.shownWidth ? ' '.repeat(this.shownWidth - width) : '';
    this.out.write(this.ansi ? `\r\x1b[K${line}` : `\r${line}${pad}`);
    this.shownWidth = Math.max(width, this.shownWidth && !this.ansi ? this.shownWidth : 0);
  }
}

/** A stderr writer that keeps the progress line below the log lines. */
export class ProgressAwareStream extends Writable {
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly progress: Progress,
  ) {
    super();
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.progress.clear();
    this.out.write(chunk);
    this.progress.draw();
    cb();
  }
}

let current = new Progress(undefined);

export function progress(): Progress {
  return current;
}

export function enableProgress(out: NodeJS.WriteStream, opts: ProgressOptions = {}): Progress {
  current.stop();
  current = new Progress(out, opts);
  return current;
}
