/**
 * A one-line progress indicator on stderr for long stages, shown only on a terminal. Log lines are
 * written through `ProgressAwareStream`, which clears the line before a log line and redraws it after,
 * so the two never garble each other.
 */
import { Writable } from 'node:stream';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  private text = '';
  private started = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | undefined;
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream | undefined) {}

  get enabled(): boolean {
    return this.out !== undefined;
  }

  /** Shows `text` with a spinner and the seconds since this stage began. */
  stage(text: string): void {
    if (!this.out) return;
    this.text = text;
    this.started = performance.now();
    if (!this.timer) {
      this.timer = setInterval(() => this.draw(), 100);
      this.timer.unref();
    }
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.clear();
    this.text = '';
  }

  clear(): void {
    if (this.out && this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }

  draw(): void {
    if (!this.out || !this.text) return;
    this.frame = (this.frame + 1) % FRAMES.length;
    const secs = ((performance.now() - this.started) / 1000).toFixed(1);
    const line = `${FRAMES[this.frame]} ${this.text} · ${secs}s`;
    this.out.write(`\r\x1b[K${line.slice(0, Math.max(10, (this.out.columns ?? 80) - 1))}`);
    this.shown = true;
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

export function enableProgress(out: NodeJS.WriteStream): Progress {
  current = new Progress(out);
  return current;
}
