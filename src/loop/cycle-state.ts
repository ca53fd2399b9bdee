/**
 * The shape every cycle step works on: what the cycle was given (CycleDeps), what earlier steps
 * found (CycleState), and the step itself (CycleStep). The gate over a state lives here too, so the
 * promote step and the cycle's end assess it the same way.
 */
import type { BuiltImage } from '../build/builder.js';
import type { Builder } from '../build/builder.js';
import type { Config } from '../config/schema.js';
import type { StageContext } from '../context.js';
import type { Revision, Target } from '../deploy/target.js';
import type { Logger } from '../log.js';
import type { CheckResult } from '../model/check-result.js';
import type { CycleRecord, CycleVerdict, FixRecord, GateVerdict, StoppedEarly } from '../model/record.js';
import type { TrafficEntry } from '../model/traffic.js';
import { assessGate, type GateExtras } from './gate.js';

export interface CycleDeps {
  config: Config;
  builder: Builder;
  target: Target;
  log: Logger;
  signal: AbortSignal;
  cycle: number;
  runId: string;
  checkLocations: Record<string, string>;
  /** The config file's folder: a `command` check's cwd is relative to it (default: the process cwd). */
  baseDir?: string;
  fix?: FixRecord;
  /** Headers added to every smoke request (ID tokens); never recorded. */
  smokeHeaders?: Record<string, string>;
  /** Blockers from outside the results (an unaccepted suite change, see integrity.ts). */
  gateExtras?: GateExtras;
  now?: () => Date;
  /** Called after each step with the record so far: the journal keeps it, so a killed cycle is known. */
  onStep?: (step: string, partial: CycleRecord) => void | Promise<void>;
  /** Replaces the step list (tests of the wrapper); the real list is CYCLE_STEPS. */
  steps?: readonly CycleStep[];
}

export interface CycleState {
  readonly deps: CycleDeps;
  readonly ctx: StageContext;
  readonly log: Logger;
  readonly rec: CycleRecord;
  readonly now: () => Date;
  readonly t0: number;
  built?: BuiltImage;
  revision?: Revision;
  /** The split once the candidate is tagged: what a failed canary step puts back. */
  afterDeploy?: TrafficEntry[];
  /** The results the gate is assessed on (stage failures among them). */
  results: CheckResult[];
  extras: GateExtras;
  /** Set by the step that ends the cycle early; undefined while the cycle goes on. */
  verdict?: CycleVerdict;
  /** A canary step's abortOnFail stop, for that step's record. */
  canaryStop?: StoppedEarly;
  /** Writes the record so far to the journal (never throws). */
  journal(step: string): Promise<void>;
}

export interface CycleStep {
  readonly name: string;
  /** Which record section an error in this step is written to. */
  readonly stage: 'build' | 'deploy' | 'traffic';
  /** What the step was doing, for an error's message: "deploying the candidate revision". */
  readonly doing: string;
  label(state: CycleState): string;
  /** Resolves when done, with 'failed' when it ended the cycle with a verdict of its own; throws on an error. */
  run(state: CycleState): Promise<void | 'failed'>;
}

/** The gate over the state: its results and every blocker the steps added. */
export function cycleGate(state: Pick<CycleState, 'results' | 'extras' | 'deps'>): GateVerdict {
  return assessGate(state.results, state.deps.config.gate, state.extras);
}
