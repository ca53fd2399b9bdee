import type { Logger } from './log.js';

/** What every stage method receives: cancellation, a logger, and which cycle it is. */
export interface StageContext {
  signal: AbortSignal;
  log: Logger;
  cycle: number;
}
